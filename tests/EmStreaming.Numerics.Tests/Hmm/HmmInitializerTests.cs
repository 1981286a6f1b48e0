using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

public sealed class HmmInitializerTests
{
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void KMeans_ColumnInHundredthsNextToThousands_StartVarianceFollowsItsOwnScale(CovarianceType type)
    {
        // Column 0: two regimes at 0 and 10,000 with a spread of 1,000 (variance ≈ 2.6e7); column 1: noise of variance 1e-4.
        // A start floor taken from the largest column's variance (1e-6 × 2.6e7 ≈ 26) was 260,000 times column 1's variance.
        var rng = new DeterministicRandom(3);
        const int n = 600;
        var values = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            values[2 * t] = (10_000 * ((t / 30) % 2)) + (1000 * rng.NextGaussian());
            values[(2 * t) + 1] = 0.01 * rng.NextGaussian();
        }

        var (_, _, emissions) = HmmInitializer.KMeans(
            [new DataMatrix(values, n, 2)], n, 2, type, HmmFitOptions.DefaultRegCovar, CovarianceFloor.DefaultRelative, seed: 3);

        for (var state = 0; state < 2; state++)
        {
            var variance = type == CovarianceType.Full ? emissions.Covariances[(state * 4) + 3] : emissions.Covariances[(state * 2) + 1];
            Assert.InRange(variance, 0.8e-4, 1.25e-4);
        }
    }
}
