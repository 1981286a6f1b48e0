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
    public void FromData_KnownColumns_FractionOfEachVariance_AndTheNoSpreadFloorForAConstantColumn()
    {
        // Column 0: 1, 2, 3, 4 (population variance 1.25); column 1 constant; column 2 has a missing entry (variance of 10, 30, 50 = 800/3).
        double[] rows = [1, 7, 10, 2, 7, double.NaN, 3, 7, 30, 4, 7, 50];
        var floor = CovarianceFloor.FromData(rows, 3, 1e-4);
        Assert.Equal(1.25e-4, floor[0], 1e-15);
        Assert.Equal(CovarianceFloor.NoSpreadFloor, floor[1]);
        Assert.Equal(800.0 / 3 * 1e-4, floor[2], 1e-12);
        Assert.All(CovarianceFloor.FromData(rows, 3, 0), f => Assert.Equal(0.0, f)); // off: no floor at all, also for the constant column
    }

    [Fact]
    public void Scale_NarrowModesFarApart_FollowsTheModesNotTheGapBetweenThem()
    {
        // Power ≈ 0 W or ≈ 1000 W with 1 W of noise: the column variance (≈ 250,000 W²) is the gap; the scale is the modes'
        // spread (the densest quarter of the values is half of one mode: its variance ≈ 4.5 × the mode's own).
        var rows = Machine.Sample(4_000, 5);
        var scale = new double[2];
        CovarianceFloor.Scale(rows.Values, 2, scale);
        Assert.InRange(scale[0], 1.0, 10.0);
        Assert.InRange(scale[1], 0.0025, 0.025);
        Assert.Equal(1e-4 * scale[0], CovarianceFloor.FromData(rows.Values, 2, 1e-4)[0], 1e-15);
    }

    [Fact]
    public void Scale_ExactDuplicatesOrFewDistinctValues_NeverZeroAndNeverAboveTheVariance()
    {
        // 60 % of the rows are one exact value: counted, they would make the densest quarter zero wide. The scale is that of the
        // other rows (variance 1), capped by the column's variance (≈ 0.48 here).
        var rng = new Random(4);
        var values = Enumerable.Range(0, 2_000).Select(_ => rng.NextDouble() < 0.6 ? 0.5 : Noise(rng)).ToArray();
        var scale = new double[1];
        CovarianceFloor.Scale(values, 1, scale);
        var variance = values.Select(v => v * v).Average() - Math.Pow(values.Average(), 2);
        Assert.InRange(scale[0], 0.3, variance * (1 + 1e-12));

        // Fewer than 8 distinct values (counts, a coarse sensor) have no robust spread: the variance is used.
        double[] counts = [0, 1, 2, 3, 3, 2, 1, 0, 0, 1];
        CovarianceFloor.Scale(counts, 1, scale);
        Assert.Equal(counts.Select(v => v * v).Average() - Math.Pow(counts.Average(), 2), scale[0], 1e-12);
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

    /// <summary>
    /// A machine idle (≈ 0 W, ≈ 0.5 A) or running (≈ 1000 W, ≈ 4.5 A), half the time each, noise sd 1 W and 0.05 A: narrow
    /// modes far apart, so each column's total variance (≈ 250,000 W², ≈ 4 A²) is dominated by the gap between them.
    /// </summary>
    private static readonly double[] MachineMeans = [0, 0.5, 1000, 4.5];
    private static readonly double[] MachineVariances = [1, 0.0025];

    private static GaussianHmm Machine => GaussianHmm.Create(
        [0.5, 0.5], [0.99, 0.01, 0.01, 0.99], MachineMeans, [1, 0, 0, 0.0025, 1, 0, 0, 0.0025], 2, 2, CovarianceType.Full);

    private static void AssertMachineVariances(double[] means, Func<int, double[]> covariance, string what)
    {
        for (var c = 0; c < 2; c++)
        {
            var truth = means[c * 2] < 500 ? 0 : 1;
            Assert.Equal(MachineMeans[truth * 2], means[c * 2], 0.5);
            var cov = covariance(c);
            for (var j = 0; j < 2; j++)
            {
                // 4,000 rows estimate a variance within a few percent; the floor relative to the total variance added ≈ 25 W².
                Assert.True(Math.Abs(cov[(j * 2) + j] - MachineVariances[j]) < 0.15 * MachineVariances[j], $"{what}, component {c}, column {j}: variance {cov[(j * 2) + j]:R}, truth {MachineVariances[j]}");
            }
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Tied)]
    public void Fit_NarrowModesFarApart_VariancesNearTheTruthNotTheFloor(CovarianceType type)
    {
        var rows = Machine.Sample(4_000, 5);
        var fit = GaussianMixtureEM.Fit(rows, new GmmFitOptions { Components = 2, Covariance = type, Seed = 1 }).Model;

        AssertMachineVariances(fit.Means.ToArray(), fit.FullCovariance, $"GMM {type}");

        // 10 W while idle is ten noise standard deviations out: it must score far worse than a typical idle reading.
        var scores = new double[2];
        fit.ScoreSamples(new DataMatrix([10, 0.5, 0, 0.5], 2, 2), scores);
        Assert.True(scores[1] - scores[0] > 40, $"log-density 0 W {scores[1]:F2}, 10 W {scores[0]:F2}");
        Assert.Null(Degeneracy.Check(fit, rows));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void FitHmm_NarrowRegimesFarApart_VariancesNearTheTruthNotTheFloor(CovarianceType type)
    {
        var rows = Machine.Sample(4_000, 6);
        var fit = GaussianHmmEM.Fit(rows, new HmmFitOptions { States = 2, Covariance = type, Seed = 1 }).Model;

        AssertMachineVariances(fit.Means.ToArray(), fit.FullCovariance, $"HMM {type}");
        Assert.Null(Degeneracy.Check(fit, rows));
    }

    [Fact]
    public void OnlineUpdate_NarrowModesFarApart_VariancesNearTheTruthNotTheFloor()
    {
        var rows = Machine.Sample(6_000, 7);
        var gmm = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2, Seed = 1 }, 2);
        for (var i = 0; i < rows.Rows; i += 100)
        {
            gmm.Update(rows.Values.Slice(i * 2, 200));
        }

        AssertMachineVariances(gmm.Model.Means.ToArray(), gmm.Model.FullCovariance, "online GMM");

        var hmm = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 2);
        hmm.Update(rows);
        AssertMachineVariances(hmm.Model!.Means.ToArray(), hmm.Model.FullCovariance, "online HMM");

        // Started from a given model, the floor comes from the model alone: its states' variances, not their mixture's.
        var started = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, InitialModel = Machine, BurnIn = 100 }, 2);
        started.Update(rows);
        AssertMachineVariances(started.Model!.Means.ToArray(), started.Model.FullCovariance, "online HMM from a model");
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
