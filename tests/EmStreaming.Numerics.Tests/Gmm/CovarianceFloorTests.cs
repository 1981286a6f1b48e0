using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>Covariance floors relative to the data's scale, and the degeneracy check built on the same scale (issue 11).</summary>
public sealed class CovarianceFloorTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(30);

    /// <summary>Rows in d columns at the given scale where a share of the rows are exact copies of one row (duplicates).</summary>
    private static DataMatrix WithDuplicates(int n, int d, double scale, double duplicateShare, int seed)
    {
        var rng = new Random(seed);
        var values = new double[n * d];
        for (var i = 0; i < n; i++)
        {
            var duplicate = rng.NextDouble() < duplicateShare;
            for (var j = 0; j < d; j++)
            {
                values[(i * d) + j] = duplicate ? scale * 0.5 : scale * (j + 1) * Noise(rng);
            }
        }

        return new DataMatrix(values, n, d);
    }

    private static double Noise(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Fact]
    public void FromData_KnownColumns_FractionOfEachVariance_AndZeroForAConstantColumn()
    {
        // Column 0: 1, 2, 3, 4 (population variance 1.25); column 1 constant; column 2 has a missing entry (variance of 10, 30, 50 = 800/3).
        double[] rows = [1, 7, 10, 2, 7, double.NaN, 3, 7, 30, 4, 7, 50];
        var floor = CovarianceFloor.FromData(rows, 3, 1e-4);
        Assert.Equal(1.25e-4, floor[0], 1e-15);
        Assert.Equal(0.0, floor[1]);
        Assert.Equal(800.0 / 3 * 1e-4, floor[2], 1e-12);
    }

    [Fact]
    public void Fit_AnyScaleWithExactDuplicates_EveryVarianceAtLeastTheRelativeFloor()
    {
        // Property: whatever the unit (1e-3 … 1e4), the share of exact duplicates and K, no fitted covariance (GMM of any type,
        // HMM full or diag) has a diagonal entry below RelativeRegCovar × its column's variance, with the absolute floor off.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from share in Gen.Elements(0.1, 0.3, 0.6)
            from k in Gen.Choose(1, 4)
            from d in Gen.Choose(1, 3)
            from type in Gen.Elements(CovarianceType.Full, CovarianceType.Diag, CovarianceType.Spherical, CovarianceType.Tied)
            select (seed, scale, share, k, d, type));
        Prop.ForAll(cases, c =>
        {
            var data = WithDuplicates(400, c.d, c.scale, c.share, c.seed);
            var floor = CovarianceFloor.FromData(data.Values, c.d, CovarianceFloor.DefaultRelative);
            var gmm = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = c.k, Covariance = c.type, RegCovar = 0, Seed = (ulong)c.seed, MaxIterations = 30 }).Model;
            var ok = true;
            for (var comp = 0; comp < c.k; comp++)
            {
                var cov = gmm.FullCovariance(comp);
                for (var j = 0; j < c.d; j++)
                {
                    // Spherical covariances get the mean of the per-column floors.
                    var bound = c.type == CovarianceType.Spherical ? floor.Average() : floor[j];
                    ok &= cov[(j * c.d) + j] >= bound * (1 - 1e-9);
                }
            }

            if (c.type is CovarianceType.Full or CovarianceType.Diag)
            {
                var hmm = GaussianHmmEM.Fit(data, new HmmFitOptions { States = c.k, Covariance = c.type, RegCovar = 0, Seed = (ulong)c.seed, MaxIterations = 30 }).Model;
                for (var s = 0; s < c.k; s++)
                {
                    var cov = hmm.FullCovariance(s);
                    for (var j = 0; j < c.d; j++)
                    {
                        ok &= cov[(j * c.d) + j] >= floor[j] * (1 - 1e-9);
                    }
                }
            }

            return ok;
        }).Check(Quick);
    }

    [Fact]
    public void DegeneracyCheck_ScaledData_SameVerdict()
    {
        // Property: the check is relative to the data's scale: scaling the rows and the model by any factor keeps its verdict,
        // and a component shrunk to 1e-5 of its column's variance is always reported (as collapsed, or as holding too few rows
        // once so narrow) while the honest fit is not.
        var cases = Arb.From(from seed in Gen.Choose(0, 1_000_000) from scale in Gen.Elements(1e-3, 1.0, 1e4) select (seed, scale));
        Prop.ForAll(cases, c =>
        {
            var truth = GaussianMixture.Create([0.5, 0.5], [0, 0, 5, 5], [1, 0.2, 0.2, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full);
            var rows = truth.Sample(600, (ulong)c.seed);
            var honest = GaussianMixtureEM.Fit(rows, new GmmFitOptions { Components = 2, Seed = 1 }).Model;
            var scaledRows = new DataMatrix(rows.Values.ToArray().Select(v => v * c.scale).ToArray(), rows.Rows, 2);
            var scaled = GaussianMixture.Create(
                honest.Weights, honest.Means.ToArray().Select(v => v * c.scale).ToArray(), honest.Covariances.ToArray().Select(v => v * c.scale * c.scale).ToArray(), 2, 2, CovarianceType.Full);
            var collapsedCov = honest.Covariances.ToArray().Select(v => v * c.scale * c.scale).ToArray();
            collapsedCov[0] = 1e-5 * c.scale * c.scale * 8; // column variance ≈ 1 + 6.25 ≈ 7.3: 1e-5 of it, far below the 1e-3 bound
            collapsedCov[1] = collapsedCov[2] = 0;
            var collapsed = GaussianMixture.Create(scaled.Weights, scaled.Means, collapsedCov, 2, 2, CovarianceType.Full);
            return Degeneracy.Check(honest, rows) is null
                && Degeneracy.Check(scaled, scaledRows) is null
                && Degeneracy.Check(collapsed, scaledRows) is not null; // by its variance, or by the few rows it then holds
        }).Check(Quick);
    }

    [Fact]
    public void DegeneracyCheck_ComponentOnFourRows_ReportsOccupancy()
    {
        var truth = GaussianMixture.Create([0.5, 0.5], [0, 0, 5, 5], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full);
        var rows = truth.Sample(1_000, 3);
        // A third component far from every row: its expected occupancy is ≈ 0 < 2(d+1) = 6.
        var model = GaussianMixture.Create([0.45, 0.45, 0.1], [0, 0, 5, 5, 50, 50], [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1], 3, 2, CovarianceType.Full);
        var reason = Degeneracy.Check(model, rows);
        Assert.NotNull(reason);
        Assert.Contains("component 2 holds", reason);
    }
}
