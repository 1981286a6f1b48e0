using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// Invariants under adversarial streams (FsCheck): whatever the batches, an accepted batch leaves weights a probability
/// vector, covariances positive definite and nothing NaN; a rejected batch leaves the state byte for byte unchanged.
/// </summary>
public sealed class OnlineGaussianMixturePropertyTests
{
    private static readonly CovarianceType[] Types = [CovarianceType.Full, CovarianceType.Diag, CovarianceType.Spherical, CovarianceType.Tied];

    // Batch kinds: 0 ordinary draws, 1 one point repeated, 2 huge values (1e150: squares still finite), 3 values whose
    // squares overflow (1e200), 4 draws with NaN sprinkled, 5 a batch of one row, 6 tiny values around one point.
    private static Arbitrary<(int Seed, int Dimension, int Components, int Type, bool HalfLife, int[] Kinds)> Cases() =>
        Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from dimension in Gen.Choose(1, 3)
            from components in Gen.Choose(1, 3)
            from type in Gen.Choose(0, 3)
            from halfLife in Gen.Elements(true, false)
            from kinds in Gen.ArrayOf(Gen.Choose(0, 6), 12)
            select (seed, dimension, components, type, halfLife, kinds));

    [Fact]
    public void Update_AdversarialBatches_InvariantsHoldOrBatchRejectedWithoutChange()
    {
        Prop.ForAll(Cases(), c =>
        {
            var options = new OnlineGmmOptions
            {
                Components = c.Components,
                Covariance = Types[c.Type],
                WarmUpObservations = 40,
                WarmUpRestarts = 1,
                StepSize = c.HalfLife ? StepSizeSchedule.FromHalfLife(20) : StepSizeSchedule.Decaying(),
                Seed = (ulong)c.Seed,
            };
            var model = OnlineGaussianMixture.Create(options, c.Dimension);
            var rng = new Random(c.Seed);
            foreach (var kind in new[] { 0, 0 }.Concat(c.Kinds))
            {
                var batch = MakeBatch(kind, c.Dimension, rng);
                var before = model.SaveState();
                try
                {
                    model.Update(batch);
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException)
                {
                    if (!before.AsSpan().SequenceEqual(model.SaveState()))
                    {
                        return false;
                    }

                    continue;
                }

                if ((!model.IsWarmingUp && !Healthy(model.Model)) || (double.IsNaN(model.LastBatchMeanLogLikelihood) && model.Batches > 0))
                {
                    return false;
                }
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    private static double[] MakeBatch(int kind, int d, Random rng)
    {
        var m = kind == 5 ? 1 : 24;
        var x = new double[m * d];
        var point = rng.NextDouble() * 10;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = kind switch
            {
                1 => point,
                2 => 1e150 * (rng.NextDouble() - 0.5),
                3 => 1e200 * (rng.NextDouble() - 0.5),
                6 => point + (1e-12 * rng.NextDouble()),
                _ => (3 * (i % 2)) + rng.NextDouble(),
            };
        }

        if (kind == 4)
        {
            // At most d − 1 missing entries per row, so no row is all-missing.
            for (var r = 0; r < m; r++)
            {
                for (var j = 0; j < d - 1; j++)
                {
                    if (rng.NextDouble() < 0.4)
                    {
                        x[(r * d) + j] = double.NaN;
                    }
                }
            }
        }

        return x;
    }

    private static bool Healthy(GaussianMixture model)
    {
        var w = model.Weights.ToArray();
        if (w.Any(v => !(v >= 0)) || Math.Abs(w.Sum() - 1.0) > 1e-9 || model.Means.ToArray().Any(v => !double.IsFinite(v)))
        {
            return false;
        }

        var d = model.Dimension;
        for (var k = 0; k < model.Components; k++)
        {
            if (!IsPositiveDefinite(model.FullCovariance(k), d))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Independent Cholesky attempt: succeeds with positive finite pivots iff the matrix is positive definite.</summary>
    private static bool IsPositiveDefinite(double[] a, int d)
    {
        var l = new double[d * d];
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var s = a[(i * d) + j];
                for (var t = 0; t < j; t++)
                {
                    s -= l[(i * d) + t] * l[(j * d) + t];
                }

                if (i == j)
                {
                    if (!(s > 0) || !double.IsFinite(s))
                    {
                        return false;
                    }

                    l[(i * d) + i] = Math.Sqrt(s);
                }
                else
                {
                    l[(i * d) + j] = s / l[(j * d) + j];
                }
            }
        }

        return true;
    }
}
