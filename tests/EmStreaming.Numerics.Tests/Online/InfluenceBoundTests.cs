using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// One glitch reading in a stream (an overflowed counter, a unit slip) must not wreck an online model: before the bound, one
/// row at 10⁶ left an online GMM 4 nats/row worse after 2,000 more rows, and one row at 10³ left an HMM's volatile state at
/// 1,180 times its variance (docs/models-stay-right.md §17).
/// </summary>
public sealed class InfluenceBoundTests
{
    private const int D = 2;

    private static OnlineGaussianMixture WarmGmm(double? halfLife)
    {
        var online = OnlineGaussianMixture.Create(
            new OnlineGmmOptions { Components = 3, Seed = 1, StepSize = halfLife is { } h ? StepSizeSchedule.FromHalfLife(h) : StepSizeSchedule.Decaying() }, D);
        var data = SyntheticMixture.ThreeComponents2D().Sample(20_000, seed: 1);
        for (var i = 0; i < 20_000; i += 64)
        {
            online.Update(data.AsSpan(i * D, Math.Min(64, 20_000 - i) * D));
        }

        return online;
    }

    [Theory]
    [InlineData(null, 1e3)]
    [InlineData(null, 1e6)]
    [InlineData(1_000.0, 1e6)]
    [InlineData(1_000.0, -1e20)]
    [InlineData(null, 1e99)]
    public void Gmm_OneGlitchReading_TheModelStaysWhereATwinWithoutItIs(double? halfLife, double glitch)
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var online = WarmGmm(halfLife);
        var twin = OnlineGaussianMixture.Restore(online.SaveState());
        var batch = truth.Sample(64, seed: 3);
        var clean = (double[])batch.Clone();
        batch[10] = glitch; // row 5, column 0
        var expectedScore = -LogDensity(online.Model, batch.AsSpan(10, D));

        var scores = new double[64];
        online.Update(batch, scores);
        twin.Update(clean);
        var more = truth.Sample(2_000, seed: 4);
        for (var i = 0; i < 2_000; i += 64)
        {
            online.Update(more.AsSpan(i * D, Math.Min(64, 2_000 - i) * D));
            twin.Update(more.AsSpan(i * D, Math.Min(64, 2_000 - i) * D));
        }

        // Scored as it came: the anomaly score is the raw row's, not the bounded one's.
        Assert.Equal(expectedScore, scores[5], Math.Abs(expectedScore) * 1e-9);
        var test = new DataMatrix(truth.Sample(4_000, seed: 5), 4_000, D);
        var (withGlitch, without) = (online.Model.Score(test), twin.Model.Score(test));
        Assert.True(Math.Abs(withGlitch - without) < 0.02, $"after a glitch of {glitch}: {withGlitch:F4} nats/row against {without:F4} without it");
    }

    [Fact]
    public void Range_IsTheHullOfSixSigmaIntervals_ClampMovesOnlyEntriesOutsideIt()
    {
        // Component 0 at 0 (σ 1, 2), component 1 at 10 (σ 0.5, 3) in column 0; column 1 has means 0 and −1.
        var p = GaussianMixture.Create([0.5, 0.5], [0, 0, 10, -1], [1, 0, 0, 4, 0.25, 0, 0, 9], 2, 2, CovarianceType.Full).Parameters;
        var lo = new double[2];
        var hi = new double[2];
        var into = new double[2];

        InfluenceBound.Range(p, lo, hi);

        Assert.Equal([-6.0, -19.0], lo);
        Assert.Equal([13.0, 17.0], hi);
        Assert.False(InfluenceBound.TryClampRow(p, [8.0, double.NaN], lo, hi, into)); // between the components' intervals: inside the hull
        Assert.False(InfluenceBound.TryClampRow(p, [-6.0, 17.0], lo, hi, into)); // on the edge
        Assert.True(InfluenceBound.TryClampRow(p, [1e9, double.NaN], lo, hi, into));
        Assert.Equal(13.0, into[0]);
        Assert.True(double.IsNaN(into[1]));
        Assert.True(InfluenceBound.TryClampRow(p, [0.0, -40.0], lo, hi, into));
        Assert.Equal([0.0, -19.0], into);
        var rows = new double[] { 1, 2, -7, 18, double.NaN, 3 };
        Assert.True(InfluenceBound.AnyOutside(rows, lo, hi));
        var moved = new double[6];
        InfluenceBound.Clamp(rows, lo, hi, moved);
        Assert.Equal([1, 2, -6, 17, double.NaN, 3], moved);
        Assert.False(InfluenceBound.AnyOutside([1, 2, double.NaN, 3], lo, hi));
    }

    [Fact]
    public void Gmm_RowWhoseDensityUnderflows_LearnedBoundedAndScoredInfinite()
    {
        // −1e170: its squared distance overflows, so its density is 0 (log −∞). It is still learned, bounded like any glitch,
        // and its anomaly score is +∞, the largest there is; the rest of its batch is learned as usual.
        var online = WarmGmm(halfLife: null);
        var twin = OnlineGaussianMixture.Restore(online.SaveState());
        var batch = SyntheticMixture.ThreeComponents2D().Sample(64, seed: 9);
        var clean = (double[])batch.Clone();
        batch[21] = -1e170;
        var scores = new double[64];

        online.Update(batch, scores);
        twin.Update(clean);

        Assert.Equal(double.PositiveInfinity, scores[10]);
        Assert.Equal(online.Observations, twin.Observations);
        var test = new DataMatrix(SyntheticMixture.ThreeComponents2D().Sample(4_000, seed: 5), 4_000, D);
        Assert.True(Math.Abs(online.Model.Score(test) - twin.Model.Score(test)) < 0.02);
    }

    [Fact]
    public void Gmm_AdoptAWindowWithAGlitch_ParametersAsWithoutIt()
    {
        var online = WarmGmm(halfLife: null);
        var twin = OnlineGaussianMixture.Restore(online.SaveState());
        var window = SyntheticMixture.ThreeComponents2D().Sample(2_000, seed: 12);
        var model = online.Model;
        var glitched = (double[])window.Clone();
        glitched[101] = 1e8;

        online.Adopt(model, glitched);
        twin.Adopt(model, window);

        for (var k = 0; k < 3; k++)
        {
            var (a, b) = (online.Model.FullCovariance(k), twin.Model.FullCovariance(k));
            for (var i = 0; i < a.Length; i++)
            {
                // The glitch counts as one row at 6σ among the component's ~400: at most ≈ 36/400 of a variance (1e16/400 unbounded).
                Assert.True(Math.Abs(a[i] - b[i]) < 0.15 * Math.Sqrt(a[(i / 2 * 2) + (i / 2)] * b[(i % 2 * 2) + (i % 2)]) , $"component {k} covariance entry {i}: {a[i]} with the glitch, {b[i]} without");
            }
        }
    }

    private static OnlineGaussianHmm WarmHmm(GaussianHmm truth, out DataMatrix rows)
    {
        rows = truth.Sample(8_000, seed: 1);
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 1);
        for (var t = 0; t < 6_000; t++)
        {
            online.Update(rows.Row(t));
        }

        return online;
    }

    private static GaussianHmm CalmAndVolatile() => GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [0.0, 0.0], [1.0, 9.0], 2, 1, CovarianceType.Full);

    [Theory]
    [InlineData(1e3)]
    [InlineData(-1e6)]
    [InlineData(1e99)]
    public void Hmm_OneGlitchReading_VariancesStayWhereATwinWithoutItHasThem(double glitch)
    {
        var online = WarmHmm(CalmAndVolatile(), out var rows);
        var twin = OnlineGaussianHmm.RestoreState(online.SaveState());

        var logDensity = online.Update([glitch]);
        twin.Update([rows.Row(6_000)[0]]);
        var wide = online.Model!.Covariances[0] > online.Model.Covariances[1] ? 0 : 1;
        for (var t = 6_001; t < 8_000; t++)
        {
            online.Update(rows.Row(t));
            twin.Update(rows.Row(t));
        }

        // The filter and the score take the row as it came: the wide regime explains it, with a tiny density.
        Assert.True(logDensity < -glitch * glitch / 100, $"log density {logDensity}");
        Assert.Equal(wide, online.Model!.Covariances[0] > online.Model.Covariances[1] ? 0 : 1);
        for (var s = 0; s < 2; s++)
        {
            var (a, b) = (online.Model.Covariances[s], twin.Model!.Covariances[s]);
            Assert.True(Math.Abs(a - b) < 0.1 * b, $"state {s}: variance {a} after a glitch of {glitch}, {b} without it");
        }
    }

    [Fact]
    public void Hmm_AdoptAWindowWithAGlitch_TheNextStepAsWithoutIt()
    {
        // Adopt rebuilds the statistics over the window; the next M-step reads them, so a glitch taken whole would land then.
        var online = WarmHmm(CalmAndVolatile(), out var rows);
        var twin = OnlineGaussianHmm.RestoreState(online.SaveState());
        var window = new DataMatrix(rows.Values.Slice(4_000, 2_000).ToArray(), 2_000, 1);
        var glitched = window.Values.ToArray();
        glitched[1_000] = 1e6;
        var model = online.Model!;

        online.Adopt(model, new DataMatrix(glitched, 2_000, 1));
        twin.Adopt(model, window);
        online.Update(rows.Row(6_000));
        twin.Update(rows.Row(6_000));

        for (var s = 0; s < 2; s++)
        {
            var (a, b) = (online.Model!.Covariances[s], twin.Model!.Covariances[s]);
            Assert.True(Math.Abs(a - b) < 0.1 * b, $"state {s}: variance {a} after adopting a window with a glitch, {b} without it");
        }
    }

    [Fact]
    public void Hmm_GlitchRow_RegimeProbabilitiesFromTheRowAsItCame()
    {
        var online = WarmHmm(CalmAndVolatile(), out _);
        var wide = online.Model!.Covariances[0] > online.Model.Covariances[1] ? 0 : 1;

        online.Update([1e3]);

        Assert.True(online.RegimeProbabilities[wide] > 0.999, $"p(wide) = {online.RegimeProbabilities[wide]}");
    }

    [Fact]
    public void Hmm_RowWhoseDensityUnderflows_LearnedBoundedAndScoredMinusInfinity()
    {
        var online = WarmHmm(CalmAndVolatile(), out var rows);
        var twin = OnlineGaussianHmm.RestoreState(online.SaveState());

        var logDensity = online.Update([1e200]);
        twin.Update(rows.Row(6_000));

        Assert.Equal(double.NegativeInfinity, logDensity);
        Assert.Equal(twin.Observations, online.Observations);
        for (var s = 0; s < 2; s++)
        {
            var (a, b) = (online.Model!.Covariances[s], twin.Model!.Covariances[s]);
            Assert.True(Math.Abs(a - b) < 0.1 * b, $"state {s}: variance {a}, {b} without the row");
        }
    }

    [Fact]
    public void Hmm_LevelThatStays_FollowedByTheModel()
    {
        // A real change is not a glitch: every row after it is far out, the range widens as the variances follow, and the
        // model gets there without a refit (the service's drift refits get there sooner). Rows outside the range are moved,
        // not dropped: dropped, the model would stay at 0 and score about −140 nats/row here. The unbounded estimator
        // scores −2.93 on these rows after the same 30,000 (measured with the bound switched off), the bounded one the same.
        var online = WarmHmm(CalmAndVolatile(), out _);
        var moved = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [50.0, 50.0], [1.0, 9.0], 2, 1, CovarianceType.Full);
        var shifted = moved.Sample(40_000, seed: 2);
        for (var t = 0; t < 30_000; t++)
        {
            online.Update(shifted.Row(t));
        }

        var test = new DataMatrix(shifted.Values.Slice(30_000).ToArray(), 10_000, 1);
        var (score, truth) = (online.Model!.Score(test), moved.Score(test));
        Assert.True(score > truth - 1.5, $"{score:F4} nats/row on the new level against the truth's {truth:F4}");
    }

    [Fact]
    public void WithoutGlitches_FewRowsFarBeyondTheRest_MovedToItsEdge_GroupsOfFiveKept()
    {
        var rng = new Random(4);
        var n = 500;
        var values = new double[n * 2];
        for (var i = 0; i < n; i++)
        {
            values[2 * i] = rng.NextDouble();
            values[(2 * i) + 1] = i < 5 ? 1e6 + i : rng.NextDouble(); // five rows far out in column 1: a group, kept
        }

        values[2 * 7] = -1e9; // one glitch in column 0
        values[2 * 8] = 1e3; // and another, beyond three spreads
        values[2 * 9] = 2.5; // beyond the rest, within three spreads: kept
        values[2 * 10] = double.NaN;
        var data = new DataMatrix(values, n, 2);

        var result = InfluenceBound.WithoutGlitches(data);

        var column = Enumerable.Range(0, n).Select(i => values[2 * i]).Where(v => !double.IsNaN(v)).Order().ToArray();
        Assert.Equal(column[4], result.Values[2 * 7]);
        Assert.Equal(column[^5], result.Values[2 * 8]);
        Assert.Equal(2.5, result.Values[2 * 9]);
        Assert.True(double.IsNaN(result.Values[2 * 10]));
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(values[(2 * i) + 1], result.Values[(2 * i) + 1]);
            if (i is not (7 or 8))
            {
                Assert.Equal(values[2 * i], result.Values[2 * i]);
            }
        }

        var clean = new DataMatrix(Enumerable.Range(0, 40).Select(i => (double)i).ToArray(), 40, 1);
        Assert.Same(clean, InfluenceBound.WithoutGlitches(clean));
        var few = new DataMatrix([0, 1, 2, 3, 4, 5, 6, 7, 8, 1e9], 10, 1); // fewer than 11 values: nothing to judge by
        Assert.Same(few, InfluenceBound.WithoutGlitches(few));
    }

    [Theory]
    [InlineData(1e3)]
    [InlineData(1e20)]
    public void Hmm_GlitchInTheWarmUpBuffer_TheModelAsWithoutIt(double glitch)
    {
        // Before, the first fit gave the glitch a state of its own and kept it there: −2.32 nats/row for good, against −2.08.
        var truth = CalmAndVolatile();
        var rows = truth.Sample(20_000, seed: 1).Values.ToArray();
        var glitched = (double[])rows.Clone();
        glitched[201] = glitch;
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 1);
        var twin = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 1);
        for (var t = 0; t < 20_000; t++)
        {
            online.Update(glitched.AsSpan(t, 1));
            twin.Update(rows.AsSpan(t, 1));
        }

        var test = truth.Sample(3_000, seed: 2);
        var (score, without) = (online.Model!.Score(test), twin.Model!.Score(test));
        Assert.True(Math.Abs(score - without) < 0.01, $"{score:F4} nats/row after a glitch of {glitch} in the warm-up, {without:F4} without it");
    }

    private static double LogDensity(GaussianMixture model, ReadOnlySpan<double> row)
    {
        var logDensity = new double[1];
        model.ScoreSamples(new DataMatrix(row.ToArray(), 1, row.Length), logDensity);
        return logDensity[0];
    }
}
