using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class PendingAfterRestartTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Restart_RowsOfThePreviousProcessRedelivered_PendingIsExactlyWhatIsOutstandingAndZeroOnlyWhenAllApplied()
    {
        const int batches = 30, rows = 100, total = batches * rows;
        // Neither process delivers anything until the restarted one has answered its first status: before the kill only the
        // log holds these rows (the stored state has none of them), and the first status is read before any replay. (With the
        // agents running, either process could apply them all first, and the test recovered nothing.)
        var h = await ModelHarness.StartAsync(_directory.Path, services: ModelHarness.StreamAgentsStopped);
        await h.Service.PutModelAsync("p", ModelHarness.Gmm(snapshotEvery: null));
        for (var b = 0; b < batches; b++)
        {
            await h.Service.AppendAsync("p", ModelHarness.Rows(rows, 2, b));
        }

        await h.KillAsync();

        await using var restarted = await ModelHarness.StartAsync(_directory.Path, services: ModelHarness.StreamAgentsStopped);
        var first = (await restarted.Service.GetModelAsync("p")).Status;
        Assert.Equal(0, first.Observations);
        Assert.Equal(total, first.PendingObservations);
        await restarted.StartStreamAgentsAsync();

        // Rows accepted by this process count too, alongside the replayed ones.
        await restarted.Service.AppendAsync("p", ModelHarness.Rows(rows, 2, 99));
        var samples = 0;
        while (true)
        {
            var status = (await restarted.Service.GetModelAsync("p")).Status;
            samples++;
            // Every sample, whatever the replay's progress: applied + pending = accepted, so pending 0 means all applied.
            Assert.Equal(total + rows, status.Observations + status.PendingObservations);
            if (status.PendingObservations == 0)
            {
                break;
            }

            Assert.True(samples < 600_000, "pending never reached 0");
            await Task.Delay(1);
        }

        Assert.Equal(total + rows, (await restarted.Service.GetModelAsync("p")).Status.Observations);
    }
}
