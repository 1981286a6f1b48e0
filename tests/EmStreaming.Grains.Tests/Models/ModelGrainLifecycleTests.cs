using System.Collections.Concurrent;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

[Collection(GrainObserverCollection.Name)]
public sealed class ModelGrainLifecycleTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public async Task IdleForCollectionAge_DeactivatesWithSnapshot_NextQueryReactivatesWithSameState()
    {
        await using var h = await ModelHarness.StartAsync(_clock);
        // No snapshot by count or time: only the deactivation can persist these rows.
        await h.Service.PutModelAsync("idle", ModelHarness.Gmm(snapshotEvery: null));
        await h.Service.AppendAsync("idle", ModelHarness.Rows(600, 2, 3));
        var before = await h.WaitForObservationsAsync("idle", 600);
        var historyBefore = await h.Service.ListSnapshotsAsync("idle");
        var activations = h.Silo.GetStatistics().Activations;

        _clock.Advance(TimeSpan.FromMinutes(16)); // default CollectionAge 15 min, checked every minute
        await Wait.UntilAsync(() => h.Silo.GetStatistics() is { Deactivations: >= 1, ActiveActivations: 0 }, "idle deactivation");

        var history = await h.Service.ListSnapshotsAsync("idle");
        var last = history[^1];
        Assert.Equal(historyBefore.Count + 1, history.Count);
        Assert.Equal("Deactivation", last.Reason);
        Assert.Equal(600, last.Observations);

        var after = await h.Service.GetStateAsync("idle");
        Assert.Equal(activations + 1, h.Silo.GetStatistics().Activations);
        Assert.Equal(600, after.Observations);
        Assert.False(after.WarmingUp);
        Assert.Equal(before.Means, after.Means);
        Assert.Equal(before.Covariances, after.Covariances);
        Assert.Equal(before.Weights, after.Weights);

        await h.Service.AppendAsync("idle", ModelHarness.Rows(100, 2, 4));
        Assert.Equal(700, (await h.WaitForObservationsAsync("idle", 700)).Observations);
    }

    [Fact]
    public async Task SnapshotAndRefitTimers_ClockAdvancedManyPeriodsWhileAppending_TicksNeverOverlapAndBothRun()
    {
        var inTick = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var ticks = new ConcurrentDictionary<string, int>();
        ModelGrain.TickObserver = (key, timer, entering) =>
        {
            if (!key.StartsWith("tick-", StringComparison.Ordinal))
            {
                return;
            }

            if (entering)
            {
                ticks.AddOrUpdate(timer, 1, (_, n) => n + 1);
                if (inTick.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }
            }
            else
            {
                inTick.AddOrUpdate(key, 0, (_, n) => n - 1);
            }
        };
        try
        {
            await using var h = await ModelHarness.StartAsync(_clock);
            var definition = ModelHarness.Gmm(snapshotEvery: null) with
            {
                Refit = new RefitPolicy { Window = 400, EveryObservations = null, Every = TimeSpan.FromSeconds(2), Restarts = 1 },
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

            for (var step = 0; step < 40; step++)
            {
                foreach (var id in ids)
                {
                    await h.Service.AppendAsync(id, ModelHarness.Rows(20, 2, 100 + step));
                }

                _clock.Advance(TimeSpan.FromMilliseconds(700));
                await Task.Yield();
            }

            foreach (var id in ids)
            {
                await h.WaitForObservationsAsync(id, 600 + (40 * 20));
            }

            await Wait.UntilAsync(() => Volatile.Read(ref refitOutcomes) > 0, "a time-based refit applied");
            await events.CancelAsync();
            await listening;

            Assert.Equal(0, overlaps);
            Assert.True(ticks.GetValueOrDefault("snapshot") >= ids.Length, $"snapshot ticks: {ticks.GetValueOrDefault("snapshot")}");
            Assert.True(ticks.GetValueOrDefault("refit") >= ids.Length, $"refit ticks: {ticks.GetValueOrDefault("refit")}");
            Assert.Contains(await h.Service.ListSnapshotsAsync("tick-a"), s => s.Reason == "Timer");
        }
        finally
        {
            ModelGrain.TickObserver = null;
        }
    }
}
