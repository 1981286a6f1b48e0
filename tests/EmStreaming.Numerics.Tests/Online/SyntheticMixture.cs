using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// A known full-covariance Gaussian mixture and a seeded sampler written independently of the code under test
/// (Box–Muller through its own Cholesky factor), so data and truth do not share a bug with the estimator.
/// </summary>
internal sealed record SyntheticMixture(double[] Weights, double[] Means, double[] Covariances, int Components, int Dimension)
{
    /// <summary>Three well separated 2-D components with unequal weights and correlated covariances.</summary>
    public static SyntheticMixture ThreeComponents2D() => new(
        [0.5, 0.3, 0.2],
        [0.0, 0.0, 4.0, 4.0, -4.0, 3.0],
        [1.0, 0.3, 0.3, 0.5, 0.6, -0.2, -0.2, 0.8, 0.4, 0.0, 0.0, 1.2],
        3,
        2);

    /// <summary>K components in d dimensions, means on a random ±spread grid, random SPD covariances (diag 0.5..1.5).</summary>
    public static SyntheticMixture Random(int components, int dimension, ulong seed, double spread = 6.0)
    {
        var rng = new Random((int)seed);
        var w = new double[components];
        var mu = new double[components * dimension];
        var cov = new double[components * dimension * dimension];
        for (var k = 0; k < components; k++)
        {
            w[k] = 1.0 + rng.NextDouble();
            for (var j = 0; j < dimension; j++)
            {
                mu[(k * dimension) + j] = spread * ((2 * rng.NextDouble()) - 1);
            }

            // Σ = A Aᵀ / d + 0.5 I: symmetric positive definite.
            var a = new double[dimension * dimension];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = (2 * rng.NextDouble()) - 1;
            }

            for (var i = 0; i < dimension; i++)
            {
                for (var j = 0; j < dimension; j++)
                {
                    var s = 0.0;
                    for (var t = 0; t < dimension; t++)
                    {
                        s += a[(i * dimension) + t] * a[(j * dimension) + t];
                    }

                    cov[(k * dimension * dimension) + (i * dimension) + j] = (s / dimension) + (i == j ? 0.5 : 0.0);
                }
            }
        }

        var total = w.Sum();
        for (var k = 0; k < components; k++)
        {
            w[k] /= total;
        }

        return new(w, mu, cov, components, dimension);
    }

    public GaussianMixture ToModel() => GaussianMixture.Create(Weights, Means, Covariances, Components, Dimension, CovarianceType.Full);

    /// <summary>The same mixture with every mean moved by <paramref name="shift"/> (d entries).</summary>
    public SyntheticMixture Shifted(ReadOnlySpan<double> shift)
    {
        var mu = (double[])Means.Clone();
        for (var k = 0; k < Components; k++)
        {
            for (var j = 0; j < Dimension; j++)
            {
                mu[(k * Dimension) + j] += shift[j];
            }
        }

        return this with { Means = mu };
    }

    /// <summary>n row-major draws (and their component labels) from a seeded stream.</summary>
    public double[] Sample(int n, int seed, int[]? labels = null)
    {
        var d = Dimension;
        var rng = new Random(seed);
        var chol = new double[Covariances.Length];
        for (var k = 0; k < Components; k++)
        {
            CholeskyLower(Covariances.AsSpan(k * d * d, d * d), chol.AsSpan(k * d * d, d * d), d);
        }

        var x = new double[n * d];
        var z = new double[d];
        for (var i = 0; i < n; i++)
        {
            var u = rng.NextDouble();
            var k = 0;
            while (k < Components - 1 && u >= Weights[k])
            {
                u -= Weights[k];
                k++;
            }

            if (labels is not null)
            {
                labels[i] = k;
            }

            for (var j = 0; j < d; j++)
            {
                double u1;
                do
                {
                    u1 = rng.NextDouble();
                }
                while (u1 <= 0);
                z[j] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * rng.NextDouble());
            }

            for (var r = 0; r < d; r++)
            {
                var s = Means[(k * d) + r];
                for (var c = 0; c <= r; c++)
                {
                    s += chol[(k * d * d) + (r * d) + c] * z[c];
                }

                x[(i * d) + r] = s;
            }
        }

        return x;
    }

    private static void CholeskyLower(ReadOnlySpan<double> a, Span<double> l, int d)
    {
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var s = a[(i * d) + j];
                for (var t = 0; t < j; t++)
                {
                    s -= l[(i * d) + t] * l[(j * d) + t];
                }

                l[(i * d) + j] = i == j ? Math.Sqrt(s) : s / l[(j * d) + j];
            }
        }
    }
}
