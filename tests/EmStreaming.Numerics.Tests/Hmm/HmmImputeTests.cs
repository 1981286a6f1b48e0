using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

public sealed class HmmImputeTests
{
    // Two sticky regimes (a switch every 50 rows on average) that differ in level; the columns are correlated within a regime.
    private static GaussianHmm Sticky(CovarianceType type) => GaussianHmm.Create(
        [0.5, 0.5],
        [0.98, 0.02, 0.02, 0.98],
        [0.0, 0.0, 4.0, 4.0],
        type == CovarianceType.Full ? [1.0, 0.6, 0.6, 1.0, 1.0, -0.5, -0.5, 1.0] : [1.0, 1.0, 0.5, 2.0],
        2,
        2,
        type);

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void Impute_OneRow_IsTheMixtureWithThePriorAsWeights(CovarianceType type)
    {
        // Alone, a row has no neighbours: its expectation is the one a mixture weighted by the prior gives.
        var hmm = Sticky(type);
        double[] prior = [0.3, 0.7];
        var mixture = GaussianMixture.Create(prior, hmm.Means, hmm.Covariances, 2, 2, type);
        foreach (var row in new[] { new[] { 1.5, double.NaN }, [double.NaN, 3.0], [double.NaN, double.NaN], [2.0, 1.0] })
        {
            var one = new DataMatrix(row, 1, 2);
            var expected = mixture.Impute(one).Values.ToArray();
            var actual = hmm.Impute(one, prior).Values.ToArray();
            Assert.Equal(expected, actual, (e, a) => Math.Abs(e - a) <= 1e-12);
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void Impute_StickyRegimes_UsesTheNeighboursAndBeatsRowByRow(CovarianceType type)
    {
        // A row with nothing observed in the middle of a regime: row by row it can only get the mixture's mean (2, 2), from
        // its neighbours it gets its regime's level. Rows missing one value lean on their regime too.
        var hmm = Sticky(type);
        var truth = hmm.Sample(20_000, seed: 11).Values.ToArray();
        var hidden = (double[])truth.Clone();
        var random = new Random(5);
        for (var t = 0; t < 20_000; t++)
        {
            var u = random.NextDouble();
            if (u < 0.2)
            {
                hidden[2 * t] = hidden[(2 * t) + 1] = double.NaN;
            }
            else if (u < 0.5)
            {
                hidden[(2 * t) + random.Next(2)] = double.NaN;
            }
        }

        var data = new DataMatrix(hidden, 20_000, 2);
        var smoothed = hmm.Impute(data).Values.ToArray();
        var rowByRow = GaussianMixture.Create(hmm.StartProbabilities, hmm.Means, hmm.Covariances, 2, 2, type).Impute(data).Values.ToArray();

        var (errorSmoothed, errorRowByRow, missing) = (0.0, 0.0, 0);
        for (var i = 0; i < hidden.Length; i++)
        {
            if (double.IsNaN(hidden[i]))
            {
                errorSmoothed += Math.Pow(smoothed[i] - truth[i], 2);
                errorRowByRow += Math.Pow(rowByRow[i] - truth[i], 2);
                missing++;
            }
            else
            {
                Assert.Equal(hidden[i], smoothed[i]);
            }
        }

        var (rmseSmoothed, rmseRowByRow) = (Math.Sqrt(errorSmoothed / missing), Math.Sqrt(errorRowByRow / missing));
        // Knowing the regime, the error is the emission's own spread (about 1); row by row an empty row misses by the
        // half-distance between the levels (about 2.8 across both columns).
        Assert.True(rmseSmoothed < 1.2, $"smoothed RMSE {rmseSmoothed:F3}");
        Assert.True(rmseSmoothed < 0.7 * rmseRowByRow, $"smoothed RMSE {rmseSmoothed:F3}, row by row {rmseRowByRow:F3}");
    }

    [Fact]
    public void Impute_EmptyFirstRow_TakesItsRegimeFromTheRowsAfterIt()
    {
        // Nothing before it and an even prior: only the rows after it (all at the second regime's level) say where it was.
        var hmm = Sticky(CovarianceType.Full);
        var data = new DataMatrix([double.NaN, double.NaN, 4.1, 3.9, 3.8, 4.2, 4.0, 4.0], 4, 2);
        var imputed = hmm.Impute(data, [0.5, 0.5]).Values.ToArray();
        Assert.InRange(imputed[0], 3.9, 4.0);
        Assert.InRange(imputed[1], 3.9, 4.0);
    }

    [Fact]
    public void Impute_EveryRowEmpty_GetsThePriorsPropagatedMeans()
    {
        // No evidence at all: p(z_t) is the prior pushed through the transitions, and each row gets Σ_k p(z_t = k)·μ_k.
        var hmm = Sticky(CovarianceType.Full);
        var data = new DataMatrix(Enumerable.Repeat(double.NaN, 6).ToArray(), 3, 2);
        var imputed = hmm.Impute(data, [1.0, 0.0]).Values.ToArray();
        double[] p = [1.0, 0.0];
        for (var t = 0; t < 3; t++)
        {
            Assert.Equal(4.0 * p[1], imputed[2 * t], 1e-12);
            Assert.Equal(4.0 * p[1], imputed[(2 * t) + 1], 1e-12);
            p = [(p[0] * 0.98) + (p[1] * 0.02), (p[0] * 0.02) + (p[1] * 0.98)];
        }
    }

    [Fact]
    public void Impute_BadPriorOrWidth_Throws()
    {
        var hmm = Sticky(CovarianceType.Full);
        var data = new DataMatrix([1.0, double.NaN], 1, 2);
        Assert.Throws<ArgumentException>(() => hmm.Impute(data, [0.5]));
        Assert.Throws<ArgumentException>(() => hmm.Impute(data, [0.7, 0.7]));
        Assert.Throws<ArgumentException>(() => hmm.Impute(data, [double.NaN, 1.0]));
        Assert.Throws<ArgumentException>(() => hmm.Impute(new DataMatrix([1.0, 2.0, 3.0], 1, 3)));
    }
}
