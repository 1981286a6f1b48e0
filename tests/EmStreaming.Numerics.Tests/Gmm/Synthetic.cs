using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>Seeded synthetic mixtures for tests.</summary>
internal static class Synthetic
{
    /// <summary>K well-separated correlated components in D dimensions (means 6 apart, unit variances, AR(1) correlation ±rho^|i−j|).</summary>
    public static GaussianMixture Truth(int components, int dimension, double rho = 0.8)
    {
        var weights = Enumerable.Repeat(1.0 / components, components).ToArray();
        var means = new double[components * dimension];
        var cov = new double[components * dimension * dimension];
        for (var k = 0; k < components; k++)
        {
            for (var i = 0; i < dimension; i++)
            {
                means[(k * dimension) + i] = 6.0 * k * (i % 2 == 0 ? 1 : -1);
                for (var j = 0; j < dimension; j++)
                {
                    cov[(k * dimension * dimension) + (i * dimension) + j] = Math.Pow(k % 2 == 0 ? rho : -rho, Math.Abs(i - j));
                }
            }
        }

        return GaussianMixture.Create(weights, means, cov, components, dimension, CovarianceType.Full);
    }

    /// <summary>A copy with each entry removed (NaN) with probability <paramref name="fraction"/>, keeping at least one observed entry per row.</summary>
    public static DataMatrix RemoveAtRandom(DataMatrix data, double fraction, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var values = data.Values.ToArray();
        var d = data.Columns;
        for (var i = 0; i < data.Rows; i++)
        {
            var keep = rng.NextInt(d);
            for (var j = 0; j < d; j++)
            {
                if (j != keep && rng.NextDouble() < fraction * d / (d - 1.0))
                {
                    values[(i * d) + j] = double.NaN;
                }
            }
        }

        return new DataMatrix(values, data.Rows, d);
    }

    public static DataMatrix Random(int rows, int columns, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var values = new double[rows * columns];
        for (var i = 0; i < values.Length; i++)
        {
            // Two clumps so the mixtures have something to find.
            values[i] = rng.NextGaussian() + (i / columns % 2 == 0 ? 3.0 : 0.0);
        }

        return new DataMatrix(values, rows, columns);
    }
}
