using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Models;

public sealed class WarmUpColumnRestartTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>The status once every accepted row is applied (appends are applied from the model's stream).</summary>
    private static async Task<EmStreaming.Contracts.ModelStatus> AppliedAsync(ModelHarness h, string id)
    {
        var status = (await h.Service.GetModelAsync(id)).Status;
        for (var tries = 0; (status.PendingObservations > 0 || status.Observations == 0) && tries < 6_000; tries++)
        {
            await Task.Delay(5);
            status = (await h.Service.GetModelAsync(id)).Status;
        }

        return status;
    }

    [Fact]
    public async Task Append_GmmRecordWithoutAColumnPastTheWarmUp_EveryRowCountedOnceWarnsRestoresThenReady()
    {
        // One append of 700 rows (14 batches of 50) without column 1, past the 500-row warm-up: the batch completing the warm-up
        // used to be refused, and the grain skipped the record with its first 450 rows already in the estimator. Now the model
        // counts all 700 rows once, warms up naming the column, comes back the same after a restart, and is ready once the
        // column arrives.
        var h = await ModelHarness.StartAsync(_directory.Path);
        await h.Service.PutModelAsync("w", ModelHarness.Gmm(snapshotEvery: null));
        var blind = ModelHarness.Rows(700, 2, 3).Values.ToArray();
        for (var i = 1; i < blind.Length; i += 2)
        {
            blind[i] = double.NaN;
        }

        await h.Service.AppendAsync("w", new DataMatrix(blind, 700, 2));
        var before = await AppliedAsync(h, "w");
        Assert.Equal(700, before.Observations);
        Assert.True(before.WarmingUp);
        Assert.Contains(before.Health!.Warnings, w => w.Contains("column 1 has fewer than 2 observed values"));

        await h.KillAsync();
        await using var restarted = await ModelHarness.StartAsync(_directory.Path);
        var status = await AppliedAsync(restarted, "w");

        Assert.Equal(700, status.Observations);
        Assert.True(status.WarmingUp);
        Assert.Contains(status.Health!.Warnings, w => w.Contains("column 1 has fewer than 2 observed values"));

        await restarted.Service.AppendAsync("w", ModelHarness.Rows(100, 2, 4));
        var ready = await AppliedAsync(restarted, "w");
        Assert.Equal(800, ready.Observations);
        Assert.False(ready.WarmingUp);
        Assert.DoesNotContain(ready.Health!.Warnings, w => w.Contains("observed value"));
    }
}
