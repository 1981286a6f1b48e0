using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>The regime a filter reports: the most likely one (the default), or with hysteresis (0.8 recommended).</summary>
public sealed class RegimeTrackingTests
{
    [Theory]
    [InlineData(-1, new[] { 0.3, 0.7 }, 1)]         // none yet: the most likely one
    [InlineData(0, new[] { 0.3, 0.7 }, 0)]          // more likely, not yet confident: stays
    [InlineData(0, new[] { 0.2, 0.8 }, 1)]          // reaches 0.8: takes over
    [InlineData(1, new[] { 0.79, 0.21 }, 1)]
    [InlineData(0, new[] { 0.15, 0.4, 0.45 }, 2)]   // the current one fell to 0.2 or below: the most likely one, though below 0.8
    [InlineData(0, new[] { 0.25, 0.35, 0.4 }, 0)]
    [InlineData(2, new[] { 0.05, 0.9, 0.05 }, 1)]
    public void Next_FollowsTheRule(int current, double[] probabilities, int expected)
    {
        Assert.Equal(expected, RegimeTracking.Next(current, probabilities, RegimeTracking.Recommended));
        // The default is the most likely regime, whatever came before.
        Assert.Equal(Array.IndexOf(probabilities, probabilities.Max()), RegimeTracking.Next(current, probabilities));
    }

    [Theory]
    [InlineData(0.49)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void Next_ConfidenceOutsideHalfToOne_Refused(double confidence)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RegimeTracking.Next(0, [0.5, 0.5], confidence));
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => online.RegimeConfidence = confidence);
    }

    /// <summary>
    /// Calm and volatile returns (sd 1 and 3), one switch per 100 rows, filtered with the true parameters (the online HMM
    /// frozen in its burn-in): the plain argmax (the default) changes more than twice as often as the regime does; at 0.8 the
    /// reported regime about as often, and it misjudges hardly more rows.
    /// </summary>
    [Fact]
    public void OnlineRegime_CalmAndVolatile_ChangesAboutAsOftenAsTheTruth()
    {
        const int n = 30_000;
        var truth = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [0.0, 0.0], [1.0, 9.0], 2, 1, CovarianceType.Diag);
        var states = new int[n];
        var data = truth.Sample(n, 3, states);
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, Covariance = CovarianceType.Diag, InitialModel = truth, BurnIn = n + 1 }, 1)
        {
            RegimeConfidence = RegimeTracking.Recommended,
        };
        var plain = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, Covariance = CovarianceType.Diag, InitialModel = truth, BurnIn = n + 1 }, 1);
        int switches = 0, changes = 0, argmaxChanges = 0, wrong = 0, argmaxWrong = 0, previous = -1, previousArgmax = -1;
        for (var t = 0; t < n; t++)
        {
            online.Update(data.Row(t));
            plain.Update(data.Row(t));
            var p = online.RegimeProbabilities;
            var argmax = p[1] > p[0] ? 1 : 0;
            Assert.Equal(argmax, plain.Regime);
            switches += t > 0 && states[t] != states[t - 1] ? 1 : 0;
            changes += previous >= 0 && online.Regime != previous ? 1 : 0;
            argmaxChanges += previousArgmax >= 0 && argmax != previousArgmax ? 1 : 0;
            wrong += online.Regime != states[t] ? 1 : 0;
            argmaxWrong += argmax != states[t] ? 1 : 0;
            previous = online.Regime;
            previousArgmax = argmax;
        }

        var summary = $"{switches} switches; reported regime {changes} changes, {wrong} rows wrong; argmax {argmaxChanges} changes, {argmaxWrong} wrong";
        Assert.True(argmaxChanges > 1.8 * switches, summary);
        Assert.True(changes < 1.3 * switches && changes > 0.8 * switches, summary);
        Assert.True(wrong < argmaxWrong + (0.01 * n), summary);
        Assert.Equal(OnlineHmmPhase.BurnIn, online.Phase);
    }
}
