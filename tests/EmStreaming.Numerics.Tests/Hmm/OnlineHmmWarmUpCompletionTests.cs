using EmStreaming.Numerics.Hmm;
using static EmStreaming.Numerics.Tests.Hmm.HmmTestData;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>
/// <see cref="OnlineGaussianHmm.TryCompleteWarmUp"/>: the buffer fit on the observations buffered so far, as a service's
/// explicit refit request runs it. The same fit a buffer of that size makes, deterministic, refused below K × (d + 1)
/// observations or while a column is not observed twice.
/// </summary>
public sealed class OnlineHmmWarmUpCompletionTests
{
    private static OnlineHmmOptions Options(int bufferSize = OnlineHmmOptions.DefaultBufferSize) =>
        new() { States = K, BufferSize = bufferSize, BurnIn = 500, BufferFit = new HmmFitOptions { States = K, Seed = 5 } };

    private static OnlineGaussianHmm Fed(DataMatrix rows, int count, OnlineHmmOptions options)
    {
        var online = new OnlineGaussianHmm(options, D);
        for (var t = 0; t < count; t++)
        {
            online.Update(rows.Row(t));
        }

        return online;
    }

    [Fact]
    public void TryCompleteWarmUp_300Of1000_FitsTheSameModelAsABufferOf300()
    {
        var early = Fed(Data, 300, Options());
        Assert.Equal(300, early.WarmUpRows);
        Assert.Equal(K * (D + 1), early.MinimumWarmUp);

        Assert.True(early.TryCompleteWarmUp());

        var natural = Fed(Data, 300, Options(bufferSize: 300));
        Assert.True(early.HasModel);
        Assert.Equal(0, early.WarmUpRows);
        Assert.Equal(0, early.WarmUpRemaining);
        Assert.Equal(300, early.StatisticsCount);
        var a = early.CurrentModel!;
        var b = natural.CurrentModel!;
        Assert.Equal(b.Transitions.ToArray(), a.Transitions.ToArray());
        Assert.Equal(b.Means.ToArray(), a.Means.ToArray());
        Assert.Equal(b.Covariances.ToArray(), a.Covariances.ToArray());
        Assert.Equal(natural.RegimeProbabilities.ToArray(), early.RegimeProbabilities.ToArray());
        Assert.False(early.TryCompleteWarmUp());

        // Both learn on identically.
        for (var t = 300; t < 400; t++)
        {
            Assert.Equal(natural.Update(Data.Row(t)), early.Update(Data.Row(t)));
        }
    }

    [Fact]
    public void TryCompleteWarmUp_SameSeedAndRows_SameBits_AndARestoredStateCompletesIdentically()
    {
        var first = Fed(Data, 200, Options());
        var second = Fed(Data, 200, Options());
        var restored = OnlineGaussianHmm.RestoreState(first.SaveState());

        Assert.True(first.TryCompleteWarmUp());
        Assert.True(second.TryCompleteWarmUp());
        Assert.True(restored.TryCompleteWarmUp());

        var bytes = first.SaveState();
        Assert.Equal(bytes, second.SaveState());
        Assert.Equal(bytes, restored.SaveState());
        Assert.Equal(bytes, OnlineGaussianHmm.RestoreState(bytes).SaveState());
    }

    [Fact]
    public void TryCompleteWarmUp_FewerThanTheMinimum_RefusesAndChangesNothing()
    {
        var online = Fed(Data, (K * (D + 1)) - 1, Options());
        var before = online.SaveState();

        Assert.False(online.TryCompleteWarmUp());
        Assert.Equal(before, online.SaveState());
        Assert.False(online.HasModel);

        // The lenient end-of-file fit would still take them (max(2, K)): the service's minimum is stricter.
        online.Update(Data.Row(K * (D + 1)));
        Assert.True(online.TryCompleteWarmUp());
    }

    [Fact]
    public void TryCompleteWarmUp_ColumnObservedOnce_WaitsUntilItIsObservedTwice()
    {
        var online = new OnlineGaussianHmm(Options(), D);
        var x = new double[D];
        for (var t = 0; t < 50; t++)
        {
            x[0] = Data[t, 0];
            x[1] = t == 0 ? Data[t, 1] : double.NaN;
            online.Update(x);
        }

        Assert.Equal(1, online.UnderObservedColumn);
        Assert.Equal(-1, online.WaitingForColumn); // the buffer is not full: only the early fit is blocked by it
        var before = online.SaveState();
        Assert.False(online.TryCompleteWarmUp());
        Assert.Equal(before, online.SaveState());

        online.Update(Data.Row(50));
        Assert.True(online.TryCompleteWarmUp());
        Assert.All(online.Model!.Means.ToArray(), m => Assert.True(double.IsFinite(m)));
    }

    [Fact]
    public void TryCompleteWarmUp_MissingValues_MatchesABufferOfTheSameRows()
    {
        var rows = new double[120 * D];
        Data.Values[..rows.Length].CopyTo(rows);
        for (var t = 0; t < 120; t += 3)
        {
            rows[(t * D) + (t % 2)] = double.NaN;
        }

        var data = new DataMatrix(rows, 120, D);
        var early = Fed(data, 120, Options());
        Assert.True(early.TryCompleteWarmUp());
        var natural = Fed(data, 120, Options(bufferSize: 120));
        Assert.Equal(natural.CurrentModel!.Means.ToArray(), early.CurrentModel!.Means.ToArray());
        Assert.Equal(natural.CurrentModel!.Transitions.ToArray(), early.CurrentModel!.Transitions.ToArray());
        Assert.Equal(natural.RegimeProbabilities.ToArray(), early.RegimeProbabilities.ToArray());
    }
}
