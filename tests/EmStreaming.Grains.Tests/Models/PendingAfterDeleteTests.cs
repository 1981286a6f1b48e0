using EmStreaming.Grains.Service;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.Models;

public sealed class PendingAfterDeleteTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>
    /// Two silos: one appends rows and they are applied; the other deletes the model and re-creates it. The appending silo
    /// counted its rows, and the grain's windows, cleared by the DELETE, no longer count them applied: without a per-generation
    /// count that silo reported its old rows as pending for the new model, forever (nothing of it will ever apply them).
    /// </summary>
    [Fact]
    public async Task DeleteAndRecreateOnAnotherSilo_RowsOfTheOldGeneration_NotPendingOnTheSiloThatAppendedThem()
    {
        await using var h = await ModelHarness.StartAsync();
        var appender = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        await h.Service.PutModelAsync("pd", ModelHarness.Gmm());
        await appender.AppendAsync("pd", ModelHarness.Rows(40, 2, 1));
        await h.WaitForObservationsAsync("pd", 40);
        Assert.Equal(0, (await appender.GetModelAsync("pd")).Status.PendingObservations);

        Assert.True(await h.Service.DeleteModelAsync("pd"));
        await h.Service.PutModelAsync("pd", ModelHarness.Gmm());

        var status = (await appender.GetModelAsync("pd")).Status;
        Assert.Equal(0, status.Observations);
        Assert.Equal(0, status.PendingObservations);

        // The new generation's rows count as before: pending until applied, then 0, with applied + pending = accepted.
        await appender.AppendAsync("pd", ModelHarness.Rows(15, 2, 2));
        var after = (await appender.GetModelAsync("pd")).Status;
        Assert.Equal(15, after.Observations + after.PendingObservations);
        await h.WaitForObservationsAsync("pd", 15);
        Assert.Equal(0, (await appender.GetModelAsync("pd")).Status.PendingObservations);
    }

    /// <summary>
    /// Rows of a deleted model's generation still in the log when a re-created model with the same id activates from its
    /// stored state (a restart): they are inert for the new model (applied to nothing), so they are not pending either.
    /// Counted from the log without looking at their generation, they were reported pending for the new model until the
    /// replay reached them, with 0 rows acknowledged for it.
    /// The first silo's pulling agents never start, so none of those records is applied (and covered by a state write)
    /// before the kill: whether the grain caught up with them first used to be a race, and when it did the test was vacuous.
    /// </summary>
    [Fact]
    public async Task RestartAfterDeleteAndRecreate_OldGenerationRowsInTheLog_NotPending()
    {
        const int batches = 20, rows = 50;
        var first = await ModelHarness.StartAsync(_directory.Path, services: ModelHarness.StreamAgentsStopped);
        await first.Service.PutModelAsync("pr", ModelHarness.Gmm(snapshotEvery: null));
        var oldGeneration = (await first.Registry.GetAsync("pr", CancellationToken.None))!.Generation;
        for (var b = 0; b < batches; b++)
        {
            await first.Service.AppendAsync("pr", ModelHarness.Rows(rows, 2, b));
        }

        Assert.True(await first.Service.DeleteModelAsync("pr"));
        await first.Service.PutModelAsync("pr", ModelHarness.Gmm(snapshotEvery: null));
        Assert.DoesNotContain(first.Recorder.Applied, a => a.Model == "pr"); // the agents are stopped: all of it is still in the log
        await first.KillAsync();

        await using var restarted = await ModelHarness.StartAsync(_directory.Path);
        var status = (await restarted.Service.GetModelAsync("pr")).Status;
        Assert.Equal(0, status.Observations);
        Assert.Equal(0, status.PendingObservations);
        // Not vacuous: the old generation's records were in the log, and this process read them (inert).
        await Wait.UntilAsync(
            () => restarted.Recorder.Applied.Any(a => a.Model == "pr" && a.Record.Generation == oldGeneration),
            "an old generation's record replayed after the restart");
    }
}
