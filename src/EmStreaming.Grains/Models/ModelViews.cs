using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Grains.Models;

/// <summary>The views of <see cref="IModelGrain"/>, built from immutable models (the grain's published one, or a snapshot's).</summary>
internal static class ModelViews
{
    public static ModelStateView State(
        string id, ModelDefinition definition, long observations, bool warmingUp, GaussianMixture? gmm, GaussianHmm? hmm,
        double[]? regimeProbabilities, int? regime, long? runLength, DateTimeOffset updatedAt)
    {
        int k = definition.Components, d = definition.Dimension;
        double[]? weights = null, start = null;
        double[][]? means = null, transitions = null;
        double[][][]? covariances = null;
        if (gmm is not null)
        {
            weights = gmm.Weights.ToArray();
            means = Nest(gmm.Means, k, d);
            covariances = [.. Enumerable.Range(0, k).Select(i => Nest(gmm.FullCovariance(i), d, d))];
        }
        else if (hmm is not null)
        {
            start = hmm.StartProbabilities.ToArray();
            transitions = Nest(hmm.Transitions, k, k);
            weights = regimeProbabilities;
            means = Nest(hmm.Means, k, d);
            covariances = [.. Enumerable.Range(0, k).Select(i => Nest(hmm.FullCovariance(i), d, d))];
        }

        return new ModelStateView
        {
            Id = id, Kind = definition.Kind, Components = k, Dimension = d, Observations = observations, WarmingUp = warmingUp,
            Weights = weights, Means = means, Covariances = covariances, StartProbabilities = start, Transitions = transitions,
            RegimeProbabilities = regimeProbabilities, Regime = regime, RegimeRunLength = runLength, UpdatedAt = updatedAt,
        };
    }

    /// <summary>The mixture predictions use: the gmm itself, or for an hmm the emissions weighted by p(next state | rows so far).</summary>
    public static GaussianMixture? PredictiveMixture(GaussianMixture? gmm, GaussianHmm? hmm, double[]? regimeProbabilities)
    {
        if (gmm is not null)
        {
            return gmm;
        }

        if (hmm is null || regimeProbabilities is null)
        {
            return null;
        }

        return GaussianMixture.Create(PredictedRegimes(hmm, regimeProbabilities), hmm.Means, hmm.Covariances, hmm.States, hmm.Dimension, hmm.CovarianceType);
    }

    /// <summary>p(regime of the next row | rows so far): the live filter's probabilities times the transitions.</summary>
    public static double[] PredictedRegimes(GaussianHmm hmm, double[] regimeProbabilities)
    {
        var k = hmm.States;
        var weights = new double[k];
        var a = hmm.Transitions;
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                weights[j] += regimeProbabilities[i] * a[(i * k) + j];
            }
        }

        var total = weights.Sum();
        for (var j = 0; j < k; j++)
        {
            weights[j] /= total;
        }

        return weights;
    }

    public static PredictResult Predict(GaussianMixture mixture, GaussianHmm? hmm, DataMatrix rows)
    {
        int n = rows.Rows, k = mixture.Components;
        var logDensity = new double[n];
        mixture.ScoreSamples(rows, logDensity);
        var tail = new double[n];
        mixture.TailProbabilities(rows, tail);
        var resp = new double[n * k];
        if (hmm is not null)
        {
            hmm.Filter(rows, resp);
        }
        else
        {
            mixture.PredictProba(rows, resp);
        }

        var labels = new int[n];
        var probabilities = new double[n][];
        var anomaly = new double[n];
        for (var i = 0; i < n; i++)
        {
            probabilities[i] = resp.AsSpan(i * k, k).ToArray();
            labels[i] = ArgMax(probabilities[i]);
            anomaly[i] = -logDensity[i];
        }

        return new PredictResult(labels, probabilities, logDensity, anomaly, tail);
    }

    public static RegimeResult Filter(GaussianHmm hmm, DataMatrix rows, double regimeConfidence = RegimeTracking.Confidence)
    {
        int n = rows.Rows, k = hmm.States;
        var probabilities = new double[n * k];
        var tail = new double[n];
        var logDensity = new double[n];
        var logLikelihood = hmm.Filter(rows, probabilities, logDensity, tail);
        var result = new double[n][];
        var regimes = new int[n];
        for (var i = 0; i < n; i++)
        {
            result[i] = probabilities.AsSpan(i * k, k).ToArray();
            // The live filter's rule: the most likely regime, with hysteresis (the first row takes the most likely one).
            regimes[i] = RegimeTracking.Next(i == 0 ? -1 : regimes[i - 1], result[i], regimeConfidence);
        }

        return new RegimeResult(regimes, result, n == 0 ? 0 : logLikelihood / n, tail, logDensity);
    }

    private static double[][] Nest(ReadOnlySpan<double> flat, int rows, int columns)
    {
        var result = new double[rows][];
        for (var i = 0; i < rows; i++)
        {
            result[i] = flat.Slice(i * columns, columns).ToArray();
        }

        return result;
    }

    private static int ArgMax(double[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
