using System.Collections.Concurrent;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Grains.Registry;
using EmStreaming.Runtime;
using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Storage;

namespace EmStreaming.Grains.Tests.Models;

[Collection(GrainObserverCollection.Name)]
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new();
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task KillAtRandomPoints_RestartOnSameFile_EveryRecordAppliedOnceAndStateEqualsUninterruptedReplayBitForBit()
    {
        const int models = 3, chunks = 12;
        var definition = ModelHarness.Gmm(window: 300, refitEvery: 700, snapshotEvery: 400);
        var applied = new ConcurrentDictionary<(string Key, long Position), byte[]>();
        var duplicates = 0;
        ModelGrain.AppliedObserver = (key, position, payload) =>
        {
            if (key.StartsWith("crash-", StringComparison.Ordinal) && !applied.TryAdd((key, position), payload.ToArray()))
            {
                Interlocked.Increment(ref duplicates);
            }
        };
        try
        {
            var random = new Random(20260522);
            var produced = new long[models];
            var h = await ModelHarness.StartAsync(_clock, _directory.Path);
            for (var m = 0; m < models; m++)
            {
                await h.Service.PutModelAsync($"crash-{m}", definition);
            }

            for (var c = 0; c < chunks; c++)
            {
                await Task.WhenAll(Enumerable.Range(0, models).Select(async m =>
                {
                    for (var b = random.Next(1, 6); b > 0; b--)
                    {
                        var rows = ModelHarness.Rows(100, 2, (c * 100) + (m * 10) + b);
                        await h.Service.AppendAsync($"crash-{m}", rows);
                        produced[m] += 100;
                    }
                }));
                for (var i = random.Next(0, 200); i > 0; i--)
                {
                    await Task.Yield();
                }

                await h.KillAsync();
                h = await ModelHarness.StartAsync(_clock, _directory.Path);
            }

            for (var m = 0; m < models; m++)
            {
                await h.WaitForObservationsAsync($"crash-{m}", produced[m]);
            }

            // Stop gracefully (every grain persists its final state; a refit still in flight is cancelled, so it is in neither
            // the final state nor the reference), then read the snapshots straight from the file: a silo started on it would
            // deliver what the stopped one left undelivered (a late refit result), racing the read.
            await h.Silo.StopAsync();
            await h.DisposeAsync();
            var reference = applied.ToArray();
            var registry = new SqliteModelRegistry(Path.Combine(_directory.Path, "emstreaming.db"), _clock);
            await using var snapshots = new SqliteSnapshotStore(new SqliteOptions { DataDirectory = _directory.Path, FullSync = false }, _clock);

            long refits = 0;
            for (var m = 0; m < models; m++)
            {
                var key = $"crash-{m}";
                var entry = (await registry.GetAsync(key, default))!;
                var replay = new ModelCore(entry.Definition, entry.Generation);
                foreach (var record in reference.Where(a => a.Key.Key == key).OrderBy(a => a.Key.Position))
                {
                    replay.Apply(record.Value, DateTimeOffset.MinValue, key);
                }

                var snapshot = await snapshots.ReadAsync(new GrainId(ModelGrain.GrainType, key));
                var recovered = ModelCore.Restore(entry.Definition, snapshot!.Data.Span[1..]);
                Assert.Equal(produced[m], recovered.Observations);
                Assert.Equal(replay.Gmm!.SaveState(), recovered.Gmm!.SaveState());
                Assert.Equal(replay.CopyWindow().Values.ToArray(), recovered.CopyWindow().Values.ToArray());
                Assert.Equal(replay.RefitApplied, recovered.RefitApplied);
                refits += recovered.RefitApplied;
            }

            Assert.True(refits > 0, "no refit result was applied: the test did not exercise refits");

            Assert.True(applied.Keys.Any(k => k.Position > 0), "nothing applied");
            Assert.True(duplicates > 0, "no record was ever replayed: the test did not exercise recovery");
        }
        finally
        {
            ModelGrain.AppliedObserver = null;
        }
    }
}
