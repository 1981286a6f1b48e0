using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>Each row's one-step-ahead predictive log density, log p(x_t | x_1..t−1).</summary>
public sealed class PredictiveLogDensityTests
{
    /// <summary>
    /// They sum to the sequence's log-likelihood (the chain rule), with missing values too; the first row's is the start
    /// probabilities' mixture of the emissions; and a row the regimes before it make unlikely scores far lower than the same
    /// row where they make it likely.
    /// </summary>
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void PredictiveLogDensities_SumToTheLogLikelihood_FirstRowIsTheStartMixture(CovarianceType type)
    {
        var hmm = GaussianHmm.Create(
            [0.7, 0.3], [0.95, 0.05, 0.1, 0.9], [0.0, 0.0, 5.0, 2.0],
            type == CovarianceType.Full ? [1.0, 0.3, 0.3, 1.0, 2.0, -0.5, -0.5, 1.0] : [1.0, 1.0, 2.0, 1.0], 2, 2, type);
        var data = hmm.Sample(2_000, 4);
        var values = data.Values.ToArray();
        var random = new Random(5);
        for (var i = 0; i < values.Length; i++)
        {
            // A tenth of the values missing, never both of a row.
            if (random.NextDouble() < 0.1 && !double.IsNaN(values[i ^ 1]))
            {
                values[i] = double.NaN;
            }
        }

        var rows = new DataMatrix(values, 2_000, 2);
        var logDensity = new double[rows.Rows];
        hmm.PredictiveLogDensities(rows, logDensity);
        Assert.Equal(hmm.LogLikelihood(rows), logDensity.Sum(), 1e-8 * Math.Abs(logDensity.Sum()));

        var first = new double[1];
        GaussianMixture.Create(hmm.StartProbabilities, hmm.Means, hmm.Covariances, 2, 2, type).ScoreSamples(new DataMatrix(values[..2], 1, 2), first);
        Assert.Equal(first[0], logDensity[0], 1e-12);

        // The row (5, 2) after twenty rows at (0, 0): the first regime's rows make the second regime's row unlikely.
        var calm = new double[42];
        calm[40] = 5;
        calm[41] = 2;
        var after = new double[21];
        hmm.PredictiveLogDensities(new DataMatrix(calm, 21, 2), after);
        var alone = new double[1];
        hmm.PredictiveLogDensities(new DataMatrix([5.0, 2.0], 1, 2), alone);
        Assert.True(after[20] < alone[0] - 1, $"{after[20]} after calm rows, {alone[0]} alone");
    }
}
