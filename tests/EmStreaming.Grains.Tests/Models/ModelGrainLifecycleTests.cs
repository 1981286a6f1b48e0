using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ModelGrainLifecycleTests
{
    [Fact]
    public async Task IdleCollection_DeactivatesWithSnapshot_NextQueryReactivatesWithSameState()
    {
        await using var h = await ModelHarness.StartAsync();
        // No snapshot by count or time: only the deactivation can persist these rows.
        await h.Service.PutModelAsync("idle", ModelHarness.Gmm(snapshotEvery: null));
        await h.Service.AppendAsync("idle", ModelHarness.Rows(600, 2, 3));
        var before = await h.WaitForObservationsAsync("idle", 600);
        var historyBefore = await h.Service.ListSnapshotsAsync("idle");

        await Task.Delay(50);
        await h.CollectIdleAsync(TimeSpan.FromMilliseconds(10)); // what Orleans:CollectionAge does to an idle model
        await Wait.UntilAsync(async () => (await h.Service.ListSnapshotsAsync("idle")).Count > historyBefore.Count, "the deactivation snapshot");

        var history = await h.Service.ListSnapshotsAsync("idle");
        var last = history[^1];
        Assert.Equal(historyBefore.Count + 1, history.Count);
        Assert.Equal("Deactivation", last.Reason);
        Assert.Equal(600, last.Observations);

        var after = await h.Service.GetStateAsync("idle");
        Assert.Equal(600, after.Observations);
        Assert.False(after.WarmingUp);
        Assert.Equal(before.Means, after.Means);
        Assert.Equal(before.Covariances, after.Covariances);
        Assert.Equal(before.Weights, after.Weights);

        await h.Service.AppendAsync("idle", ModelHarness.Rows(100, 2, 4));
        Assert.Equal(700, (await h.WaitForObservationsAsync("idle", 700)).Observations);
    }

    [Fact]
    public async Task SnapshotAndRefitTimers_ManyPeriodsWhileAppending_TicksNeverOverlapAndBothRun()
    {
        await using var h = await ModelHarness.StartAsync();
        var definition = ModelHarness.Gmm(snapshotEvery: null) with
        {
            Refit = new RefitPolicy { Window = 400, EveryObservations = null, Every = TimeSpan.FromSeconds(1), Restarts = 1 },
            Snapshots = new SnapshotPolicy { EveryObservations = null, Every = TimeSpan.FromSeconds(1), Retain = 5 },
        };
        var ids = new[] { "tick-a", "tick-b", "tick-c" };
        foreach (var id in ids)
        {
            await h.Service.PutModelAsync(id, definition);
            await h.Service.AppendAsync(id, ModelHarness.Rows(600, 2, 5));
        }

        var refitOutcomes = 0;
        using var events = new CancellationTokenSource();
        var listening = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in h.Service.SubscribeAsync(null, events.Token))
                {
                    if (e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected)
                    {
                        Interlocked.Increment(ref refitOutcomes);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        // Appends over several timer periods (3 s of real time against 1 s periods), so ticks and turns interleave.
        for (var step = 0; step < 30; step++)
        {
            foreach (var id in ids)
            {
                await h.Service.AppendAsync(id, ModelHarness.Rows(20, 2, 100 + step));
            }

            await Task.Delay(100);
        }

        foreach (var id in ids)
        {
            await h.WaitForObservationsAsync(id, 600 + (30 * 20));
        }

        await Wait.UntilAsync(() => Volatile.Read(ref refitOutcomes) > 0, "a time-based refit applied");
        await Wait.UntilAsync(() => h.Recorder.Ticks.GetValueOrDefault("snapshot") >= ids.Length, "snapshot ticks");
        await events.CancelAsync();
        await listening;

        Assert.Equal(0, h.Recorder.Overlaps);
        Assert.True(h.Recorder.Ticks.GetValueOrDefault("refit") >= ids.Length, $"refit ticks: {h.Recorder.Ticks.GetValueOrDefault("refit")}");
        Assert.Contains(await h.Service.ListSnapshotsAsync("tick-a"), s => s.Reason == "Timer");
    }

    [Fact]
    public async Task SnapshotTimer_IdleModel_DoesNotTick_ChangeIsSnapshottedByTheTimer()
    {
        // A tick that finds nothing to write still costs a thread-pool wake-up: 2,000 idle models with a 30 s period took
        // 2-3 % of a core in ticks that did nothing. The timer now ticks only after a change.
        await using var h = await ModelHarness.StartAsync();
        var definition = ModelHarness.Gmm(snapshotEvery: null) with
        {
            Snapshots = new SnapshotPolicy { EveryObservations = null, Every = TimeSpan.FromSeconds(1), Retain = 50 },
        };
        await h.Service.PutModelAsync("quiet", definition);
        await h.Service.AppendAsync("quiet", ModelHarness.Rows(600, 2, 5));
        await h.WaitForObservationsAsync("quiet", 600);
        await Wait.UntilAsync(async () => (await h.Service.ListSnapshotsAsync("quiet")).Any(s => s.Reason == "Timer" && s.Observations == 600), "the change's timer snapshot");

        // Idle for 5 periods: at most the one tick that may have been armed already when the snapshot above was written.
        var ticks = h.Recorder.Ticks.GetValueOrDefault("snapshot");
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.InRange(h.Recorder.Ticks.GetValueOrDefault("snapshot") - ticks, 0, 1);

        // A change arms it again: the next timer snapshot holds it.
        await h.Service.AppendAsync("quiet", ModelHarness.Rows(20, 2, 6));
        await Wait.UntilAsync(async () => (await h.Service.ListSnapshotsAsync("quiet")).Any(s => s.Reason == "Timer" && s.Observations == 620), "the second change's timer snapshot");
    }

    [Fact]
    public async Task RefitTimer_IdleModel_RefitsOnceNotEveryTick_NewRowsRefitAgain()
    {
        // A time-based refit of a model that applied nothing since the last one fits the same window again: thousands of rows
        // of EM with restarts at every tick of every idle model, for nothing.
        await using var h = await ModelHarness.StartAsync();
        var definition = ModelHarness.Gmm(snapshotEvery: null) with
        {
            Refit = new RefitPolicy { Window = 400, EveryObservations = null, Every = TimeSpan.FromSeconds(1), Restarts = 1 },
        };
        var outcomes = 0;
        using var events = new CancellationTokenSource();
        var listening = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in h.Service.SubscribeAsync("idle-refit", events.Token))
                {
                    if (e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected)
                    {
                        Interlocked.Increment(ref outcomes);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        await h.Service.PutModelAsync("idle-refit", definition);
        await h.Service.AppendAsync("idle-refit", ModelHarness.Rows(600, 2, 5));
        await h.WaitForObservationsAsync("idle-refit", 600);
        await Wait.UntilAsync(() => Volatile.Read(ref outcomes) >= 1, "the first time-based refit");

        // Five idle periods: at most one more (a request already made when the first outcome arrived).
        var first = Volatile.Read(ref outcomes);
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.InRange(Volatile.Read(ref outcomes) - first, 0, 1);

        var before = Volatile.Read(ref outcomes);
        await h.Service.AppendAsync("idle-refit", ModelHarness.Rows(50, 2, 6));
        await Wait.UntilAsync(() => Volatile.Read(ref outcomes) > before, "a refit after new rows");
        await events.CancelAsync();
        await listening;
    }
}
