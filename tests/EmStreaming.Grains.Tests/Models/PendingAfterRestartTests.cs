using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class PendingAfterRestartTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Restart_RowsOfThePreviousProcessRedelivered_PendingReachesZeroOnlyWhenEveryAcknowledgedRowIsApplied()
    {
        const int batches = 30, rows = 100;
        var h = await ModelHarness.StartAsync(_directory.Path);
        // No snapshot by count or time: after the kill only the log holds these rows.
        await h.Service.PutModelAsync("p", ModelHarness.Gmm(snapshotEvery: null));
        for (var b = 0; b < batches; b++)
        {
            await h.Service.AppendAsync("p", ModelHarness.Rows(rows, 2, b));
        }

        await h.KillAsync();

        await using var restarted = await ModelHarness.StartAsync(_directory.Path);
        var first = (await restarted.Service.GetModelAsync("p")).Status;
        Assert.True(first.Observations < batches * rows, "everything was applied before the restart: nothing to recover");
        Assert.True(first.PendingObservations > 0, $"{first.Observations} applied and nothing pending right after the restart");

        await Wait.UntilAsync(async () => (await restarted.Service.GetModelAsync("p")).Status.PendingObservations == 0, "pending 0", 60);
        Assert.Equal(batches * rows, (await restarted.Service.GetModelAsync("p")).Status.Observations);
    }
}
