using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Benchmarks.Gmm;

/// <summary>The benchmark data: n × 8 points drawn (seeded) from a fixed 8-component full-covariance mixture.</summary>
public static class GmmBenchmarkData
{
    public const int Components = 8;
    public const int Dimension = 8;

    public static GaussianMixture Truth()
    {
        var rng = new DeterministicRandom(2024);
        const int k = Components;
        const int d = Dimension;
        var weights = new double[k];
        var means = new double[k * d];
        var cov = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            weights[c] = 0.5 + rng.NextDouble();
            for (var i = 0; i < d; i++)
            {
                means[(c * d) + i] = 8.0 * rng.NextGaussian();
            }

            // Σ = A·Aᵀ / d + 0.5·I with A standard normal: full, well conditioned, varied shapes.
            var a = new double[d * d];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = rng.NextGaussian();
            }

            for (var i = 0; i < d; i++)
            {
                for (var j = 0; j < d; j++)
                {
                    double s = 0;
                    for (var p = 0; p < d; p++)
                    {
                        s += a[(i * d) + p] * a[(j * d) + p];
                    }

                    cov[(c * d * d) + (i * d) + j] = (s / d) + (i == j ? 0.5 : 0);
                }
            }
        }

        var total = weights.Sum();
        for (var c = 0; c < k; c++)
        {
            weights[c] /= total;
        }

        return GaussianMixture.Create(weights, means, cov, k, d, CovarianceType.Full);
    }

    public static DataMatrix Sample(int rows) => Truth().Sample(rows, seed: 7);

    /// <summary>Writes the data as CSV (for the scikit-learn comparison script).</summary>
    public static void WriteCsv(DataMatrix data, string path)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(string.Join(',', Enumerable.Range(0, data.Columns).Select(j => $"x{j}")));
        for (var i = 0; i < data.Rows; i++)
        {
            var row = data.Row(i);
            var fields = new string[row.Length];
            for (var j = 0; j < row.Length; j++)
            {
                fields[j] = row[j].ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            }

            writer.WriteLine(string.Join(',', fields));
        }
    }
}
