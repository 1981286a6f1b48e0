using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// <see cref="OnlineGaussianMixture.TryCompleteWarmUp"/>: the first fit on the rows buffered so far, for a stream too small
/// or too slow to fill the warm-up. It must be the very fit a warm-up of that many rows makes, deterministic, and refuse
/// (changing nothing) below K × (d + 1) rows or while a column is not observed twice.
/// </summary>
public sealed class WarmUpCompletionTests
{
    private const int K = 3;
    private const int D = 2;

    private static OnlineGmmOptions Options(int warmUp = 0) => new() { Components = K, WarmUpObservations = warmUp, Seed = 11 };

    private static OnlineGaussianMixture Fed(double[] rows, int batch, OnlineGmmOptions options)
    {
        var model = OnlineGaussianMixture.Create(options, D);
        for (var i = 0; i < rows.Length / D; i += batch)
        {
            var n = Math.Min(batch, (rows.Length / D) - i);
            model.Update(rows.AsSpan(i * D, n * D));
        }

        return model;
    }

    [Fact]
    public void MinimumWarmUp_IsComponentsTimesDimensionPlusOne()
    {
        Assert.Equal(15, OnlineGmmOptions.MinimumWarmUp(3, 4)); // iris: 3 components in 4 dimensions
        Assert.Equal(K * (D + 1), OnlineGaussianMixture.Create(Options(), D).MinimumWarmUp);
        // Never above the warm-up itself: a warm-up of 7 rows (the options allow any size above K) completes early at 7.
        Assert.Equal(7, OnlineGaussianMixture.Create(Options(warmUp: 7), D).MinimumWarmUp);
    }

    [Fact]
    public void TryCompleteWarmUp_150RowsOfAnAutomatic500_FitsTheSameModelAsAWarmUpOf150()
    {
        var rows = SyntheticMixture.ThreeComponents2D().Sample(150, seed: 4);
        var early = Fed(rows, 50, Options());
        Assert.True(early.IsWarmingUp);
        Assert.Equal(350, early.WarmUpRemaining);
        Assert.Equal(150, early.WarmUpRows);

        Assert.True(early.TryCompleteWarmUp());

        var natural = Fed(rows, 50, Options(warmUp: 150));
        Assert.False(early.IsWarmingUp);
        Assert.False(natural.IsWarmingUp);
        Assert.Equal(0, early.WarmUpRemaining);
        Assert.Equal(0, early.WarmUpRows);
        Assert.Equal(150, early.Observations);
        var a = early.Model.Parameters;
        var b = natural.Model.Parameters;
        Assert.Equal(b.Weights, a.Weights);
        Assert.Equal(b.Means, a.Means);
        Assert.Equal(b.Covariances, a.Covariances);
        Assert.False(early.TryCompleteWarmUp()); // warm: nothing more to complete

        // And it learns on from there like the other: the same next batch gives the same parameters.
        var next = SyntheticMixture.ThreeComponents2D().Sample(64, seed: 5);
        early.Update(next);
        natural.Update(next);
        Assert.Equal(natural.Model.Parameters.Means, early.Model.Parameters.Means);
    }

    [Fact]
    public void TryCompleteWarmUp_SameSeedAndRows_SameBits_AndARestoredStateCompletesIdentically()
    {
        var rows = SyntheticMixture.ThreeComponents2D().Sample(120, seed: 6);
        var first = Fed(rows, 40, Options());
        var second = Fed(rows, 40, Options());
        var restored = OnlineGaussianMixture.Restore(first.SaveState());
        Assert.Equal(first.SaveState(), restored.SaveState());

        Assert.True(first.TryCompleteWarmUp());
        Assert.True(second.TryCompleteWarmUp());
        Assert.True(restored.TryCompleteWarmUp());

        var bytes = first.SaveState();
        Assert.Equal(bytes, second.SaveState());
        Assert.Equal(bytes, restored.SaveState());
        Assert.Equal(bytes, OnlineGaussianMixture.Restore(bytes).SaveState());
    }

    [Fact]
    public void TryCompleteWarmUp_FewerThanTheMinimum_RefusesAndChangesNothing()
    {
        var rows = SyntheticMixture.ThreeComponents2D().Sample((K * (D + 1)) - 1, seed: 7);
        var model = Fed(rows, 100, Options());
        var before = model.SaveState();

        Assert.False(model.TryCompleteWarmUp());

        Assert.True(model.IsWarmingUp);
        Assert.Equal(before, model.SaveState());
        model.Update(SyntheticMixture.ThreeComponents2D().Sample(1, seed: 8));
        Assert.True(model.TryCompleteWarmUp()); // K × (d + 1) rows: enough
    }

    [Fact]
    public void TryCompleteWarmUp_ColumnObservedOnce_WaitsUntilItIsObservedTwice()
    {
        // Column 1 is missing from every row but one: no spread for it, so the first fit must wait.
        var rows = SyntheticMixture.ThreeComponents2D().Sample(60, seed: 9);
        for (var i = 1; i < 60; i++)
        {
            rows[(i * D) + 1] = double.NaN;
        }

        var model = Fed(rows, 20, Options());
        Assert.Equal(1, model.UnderObservedColumn);
        var before = model.SaveState();

        Assert.False(model.TryCompleteWarmUp());
        Assert.Equal(before, model.SaveState());

        model.Update([0.5, 0.25]);
        Assert.Equal(-1, model.UnderObservedColumn);
        Assert.True(model.TryCompleteWarmUp());
        Assert.All(model.Model.Parameters.Means, m => Assert.True(double.IsFinite(m)));
        Assert.All(model.Model.Parameters.Covariances, c => Assert.True(double.IsFinite(c)));
    }

    [Fact]
    public void TryCompleteWarmUp_MissingValues_MatchesAWarmUpOfTheSameRows()
    {
        var rows = SyntheticMixture.ThreeComponents2D().Sample(90, seed: 10);
        for (var i = 0; i < 90; i += 4)
        {
            rows[(i * D) + (i % 8 == 0 ? 0 : 1)] = double.NaN;
        }

        var early = Fed(rows, 30, Options());
        Assert.True(early.TryCompleteWarmUp());
        var natural = Fed(rows, 30, Options(warmUp: 90));
        Assert.Equal(natural.Model.Parameters.Means, early.Model.Parameters.Means);
        Assert.Equal(natural.Model.Parameters.Covariances, early.Model.Parameters.Covariances);
    }
}
