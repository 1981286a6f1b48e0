using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;
using EmStreaming.Numerics.Tests.Online;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// Tight modes far apart at the same time (two operating points of a machine read in a fine unit, a counter and its reset):
/// statistics taken about one origin for every component hold Σ r·(x − origin)(x − origin)ᵀ ≈ s0·Δ², and Σ = s2/s0 − μμᵀ
/// cancels all but ε·Δ²/σ² of it (measured before the fix: a variance of 1 came out 0.969 at Δ = 1e7 σ and 0 at 1e8 in a
/// batch fit, 14 in the online estimator). Each component's statistics are now taken about its own centre.
/// </summary>
public sealed class FarApartModesTests
{
    // Component 0 at the origin; component 1 Δ away in both columns, with other variances (4 and 0.25, correlated -0.2·2·0.5).
    private static SyntheticMixture Truth(double delta) => new(
        [0.5, 0.5],
        [0.0, 0.0, delta, -delta],
        [1.0, 0.3, 0.3, 1.0, 4.0, -0.2, -0.2, 0.25],
        2,
        2);

    public static TheoryData<double, CovarianceType> BatchCases
    {
        get
        {
            var data = new TheoryData<double, CovarianceType>();
            foreach (var delta in new[] { 1e7, 1e8, 1e10 })
            {
                foreach (var type in new[] { CovarianceType.Full, CovarianceType.Diag, CovarianceType.Spherical, CovarianceType.Tied })
                {
                    data.Add(delta, type);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(BatchCases))]
    public void BatchFit_ModesFarApart_KeepsEachModesVariance(double delta, CovarianceType type)
    {
        var truth = Truth(delta);
        var rows = truth.Sample(4_000, seed: 5);
        var fit = GaussianMixtureEM.Fit(new DataMatrix(rows, 4_000, 2), new GmmFitOptions { Components = 2, Covariance = type, Seed = 1 }).Model;

        var far = fit.Means[0] > delta / 2 ? 0 : 1;
        AssertCovariance(type, fit, 1 - far, far, delta);
    }

    [Theory]
    [InlineData(1e8, CovarianceType.Full)]
    [InlineData(1e10, CovarianceType.Full)]
    [InlineData(1e10, CovarianceType.Diag)]
    public void OnlineGmm_ModesFarApart_KeepsEachModesVariance(double delta, CovarianceType type)
    {
        var rows = Truth(delta).Sample(20_000, seed: 6);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2, Covariance = type, Seed = 2 }, 2);
        for (var i = 0; i < 20_000; i += 50)
        {
            model.Update(rows.AsSpan(i * 2, 100));
        }

        var fit = model.Model;
        var far = fit.Means[0] > delta / 2 ? 0 : 1;
        AssertCovariance(type, fit, 1 - far, far, delta);
    }

    [Theory]
    [InlineData(1e8)]
    [InlineData(1e10)]
    public void HmmFit_RegimesFarApart_KeepsEachRegimesVariance(double delta)
    {
        var (rows, n) = Regimes(delta, 6_000, seed: 3);
        var fit = GaussianHmmEM.Fit(new DataMatrix(rows, n, 2), new HmmFitOptions { States = 2, Seed = 1 }).Model;
        var far = fit.Means[0] > delta / 2 ? 0 : 1;
        AssertClose(1.0, fit.FullCovariance(1 - far)[0], delta);
        AssertClose(1.0, fit.FullCovariance(1 - far)[3], delta);
        AssertClose(4.0, fit.FullCovariance(far)[0], delta);
        AssertClose(0.25, fit.FullCovariance(far)[3], delta);
    }

    [Theory]
    [InlineData(1e8)]
    [InlineData(1e10)]
    public void OnlineHmm_RegimesFarApart_KeepsEachRegimesVariance(double delta)
    {
        var (rows, n) = Regimes(delta, 20_000, seed: 4);
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 2);
        for (var t = 0; t < n; t++)
        {
            online.Update(rows.AsSpan(t * 2, 2));
        }

        var fit = online.Model!;
        var far = fit.Means[0] > delta / 2 ? 0 : 1;
        AssertClose(1.0, fit.FullCovariance(1 - far)[0], delta);
        AssertClose(4.0, fit.FullCovariance(far)[0], delta);
        AssertClose(0.25, fit.FullCovariance(far)[3], delta);
    }

    /// <summary>
    /// One component moves away in steps, to 10, 100, … 1e9 of its standard deviations, and stays at each for 75 half-lives,
    /// with drift detection off (no refit is adopted, so nothing but the running statistics follows it): once it has settled
    /// at 1e9 its variance must be what it is.
    /// </summary>
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void OnlineGmm_ComponentMovesFarInSteps_KeepsItsVariance(CovarianceType type)
    {
        const int hold = 30_000;
        const int n = 9 * hold;
        var rng = new Random(9);
        var rows = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            var moving = t % 2 == 1;
            var centre = moving ? Math.Pow(10, 1 + (t / hold)) : 0.0;
            rows[2 * t] = centre + Gauss(rng);
            rows[(2 * t) + 1] = (moving ? 20.0 : 0.0) + Gauss(rng);
        }

        var model = OnlineGaussianMixture.Create(
            new OnlineGmmOptions { Components = 2, Covariance = type, Seed = 3, DetectDrift = false, StepSize = StepSizeSchedule.FromHalfLife(400) }, 2);
        for (var i = 0; i < n; i += 50)
        {
            model.Update(rows.AsSpan(i * 2, 100));
        }

        var fit = model.Model;
        var mover = fit.Means[1] > 10 ? 0 : 1;
        Assert.InRange(fit.Means[mover * 2], 1e9 - 1, 1e9 + 1);
        // About 290 rows' worth of each component remain in the statistics: a variance estimate's sd is about 0.08.
        Assert.InRange(fit.FullCovariance(mover)[0], 0.7, 1.4);
        Assert.InRange(fit.FullCovariance(mover)[3], 0.7, 1.4);
        Assert.InRange(fit.FullCovariance(1 - mover)[0], 0.7, 1.4);
    }

    /// <summary>The same for a regime of the online HMM: it moves to 10, 100, … 1e9 standard deviations in steps.</summary>
    [Fact]
    public void OnlineHmm_RegimeMovesFarInSteps_KeepsItsVariance()
    {
        const int hold = 30_000;
        const int n = 9 * hold;
        var rng = new Random(10);
        var rows = new double[n * 2];
        var state = 0;
        for (var t = 0; t < n; t++)
        {
            if (rng.NextDouble() < 0.05)
            {
                state = 1 - state;
            }

            var centre = state == 1 ? Math.Pow(10, 1 + (t / hold)) : 0.0;
            rows[2 * t] = centre + Gauss(rng);
            rows[(2 * t) + 1] = (state == 1 ? 20.0 : 0.0) + Gauss(rng);
        }

        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, StepSize = StepSizeSchedule.FromHalfLife(400) }, 2);
        for (var t = 0; t < n; t++)
        {
            online.Update(rows.AsSpan(t * 2, 2));
        }

        var fit = online.CurrentModel!;
        var mover = fit.Means[1] > 10 ? 0 : 1;
        Assert.InRange(fit.Means[mover * 2], 1e9 - 1, 1e9 + 1);
        Assert.InRange(fit.FullCovariance(mover)[0], 0.7, 1.4);
        Assert.InRange(fit.FullCovariance(mover)[3], 0.7, 1.4);
        Assert.InRange(fit.FullCovariance(1 - mover)[0], 0.7, 1.4);
    }

    /// <summary>Statistics re-expressed about a new centre equal the statistics accumulated about it directly.</summary>
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void Recentre_EqualsAccumulatingAboutTheNewCentre(CovarianceType type)
    {
        var rng = new Random(1);
        var rows = new double[300 * 3];
        var resp = new double[300 * 2];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = 5 + (3 * Gauss(rng));
        }

        for (var t = 0; t < 300; t++)
        {
            resp[2 * t] = rng.NextDouble();
            resp[(2 * t) + 1] = 1 - resp[2 * t];
        }

        var a = new GmmSufficientStatistics(2, 3, type, [1.0, 2.0, 3.0]);
        var moved = new double[] { 1.0, 2.0, 3.0, 6.0, 4.0, 7.5 };
        var b = new GmmSufficientStatistics(2, 3, type, [1.0, 2.0, 3.0]);
        b.ResetOrigins(moved);
        var scratch = new double[GmmParameters.RowScratchLength(3)];
        for (var t = 0; t < 300; t++)
        {
            a.AccumulateRow(rows.AsSpan(t * 3, 3), resp.AsSpan(t * 2, 2), null, scratch);
            b.AccumulateRow(rows.AsSpan(t * 3, 3), resp.AsSpan(t * 2, 2), null, scratch);
        }

        a.Recentre(1, moved.AsSpan(3, 3));
        Assert.Equal(b.ComponentOrigins.ToArray(), a.ComponentOrigins.ToArray());
        AssertSpansClose(b.S0, a.S0);
        AssertSpansClose(b.S1, a.S1);
        AssertSpansClose(b.S2, a.S2);

        var pa = new GmmParameters(2, 3, type);
        var pb = new GmmParameters(2, 3, type);
        a.MaximizeInto(pa, 1e-6, default);
        b.MaximizeInto(pb, 1e-6, default);
        AssertSpansClose(pb.Means, pa.Means);
        AssertSpansClose(pb.Covariances, pa.Covariances);
    }

    private static void AssertSpansClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-9 * (1 + Math.Abs(expected[i])), $"entry {i}: {actual[i]} against {expected[i]}");
        }
    }

    private static void AssertCovariance(CovarianceType type, GaussianMixture fit, int near, int far, double delta)
    {
        var cn = fit.FullCovariance(near);
        var cf = fit.FullCovariance(far);
        switch (type)
        {
            case CovarianceType.Full:
                AssertClose(1.0, cn[0], delta);
                AssertClose(1.0, cn[3], delta);
                AssertClose(0.3, cn[1], delta);
                AssertClose(4.0, cf[0], delta);
                AssertClose(0.25, cf[3], delta);
                AssertClose(-0.2, cf[1], delta);
                break;
            case CovarianceType.Diag:
                AssertClose(1.0, cn[0], delta);
                AssertClose(1.0, cn[3], delta);
                AssertClose(4.0, cf[0], delta);
                AssertClose(0.25, cf[3], delta);
                break;
            case CovarianceType.Spherical:
                AssertClose(1.0, cn[0], delta);
                AssertClose(2.125, cf[0], delta);
                break;
            default:
                // Pooled over the two equally weighted modes.
                AssertClose(2.5, cn[0], delta);
                AssertClose(0.625, cn[3], delta);
                AssertClose(0.05, cn[1], delta);
                break;
        }
    }

    private static void AssertClose(double expected, double actual, double delta) =>
        Assert.True(Math.Abs(actual - expected) <= 0.12 * Math.Max(Math.Abs(expected), 0.5), $"Δ = {delta:E0}: {actual} against {expected}");

    /// <summary>A two-regime series (stay probability 0.98), regime 1 at (Δ, −Δ): the same emissions as <see cref="Truth"/>.</summary>
    private static (double[] Rows, int N) Regimes(double delta, int n, int seed)
    {
        var truth = Truth(delta);
        var draws0 = new SyntheticMixture([1.0], truth.Means[..2], truth.Covariances[..4], 1, 2).Sample(n, seed);
        var draws1 = new SyntheticMixture([1.0], truth.Means[2..], truth.Covariances[4..], 1, 2).Sample(n, seed + 100);
        var rng = new Random(seed);
        var rows = new double[n * 2];
        var state = 0;
        for (var t = 0; t < n; t++)
        {
            if (rng.NextDouble() < 0.02)
            {
                state = 1 - state;
            }

            var source = state == 0 ? draws0 : draws1;
            rows[2 * t] = source[2 * t];
            rows[(2 * t) + 1] = source[(2 * t) + 1];
        }

        return (rows, n);
    }

    private static double Gauss(Random rng)
    {
        double u;
        do
        {
            u = rng.NextDouble();
        }
        while (u <= 0);
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * rng.NextDouble());
    }
}
