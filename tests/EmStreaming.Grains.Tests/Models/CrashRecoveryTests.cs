using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class CrashRecoveryTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task KillAtRandomPoints_RestartOnSameFile_EveryRecordAppliedOnceAndStateEqualsUninterruptedReplayBitForBit()
    {
        const int models = 3, chunks = 8;
        var definition = ModelHarness.Gmm(window: 300, refitEvery: 700, snapshotEvery: 400);
        var recorder = new GrainRecorder();
        var random = new Random(20260522);
        var produced = new long[models];
        var h = await ModelHarness.StartAsync(_directory.Path, recorder: recorder);
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
                    await h.Service.AppendAsync($"crash-{m}", ModelHarness.Rows(100, 2, (c * 100) + (m * 10) + b));
                    produced[m] += 100;
                }
            }));
            await Task.Delay(random.Next(0, 30));
            await h.KillAsync();
            h = await ModelHarness.StartAsync(_directory.Path, recorder: recorder);
        }

        for (var m = 0; m < models; m++)
        {
            await h.WaitForObservationsAsync($"crash-{m}", produced[m]);
        }

        // Let refits in flight land, then stop gracefully: every grain persists its final state.
        await Task.Delay(500);
        var final = new Dictionary<string, ModelStateView>();
        for (var m = 0; m < models; m++)
        {
            final[$"crash-{m}"] = await h.Service.GetStateAsync($"crash-{m}");
        }

        var entries = new Dictionary<string, Registry.RegistryEntry>();
        for (var m = 0; m < models; m++)
        {
            entries[$"crash-{m}"] = (await h.Registry.GetAsync($"crash-{m}", default))!;
        }

        await h.DisposeAsync();

        // The reference: each distinct (producer, sequence) once, in the order first applied (the stream's order).
        var applied = recorder.Applied.ToArray();
        var duplicates = applied.Length - applied.Select(a => (a.Model, a.Record.ProducerId, a.Record.Sequence)).Distinct().Count();
        long refits = 0;
        for (var m = 0; m < models; m++)
        {
            var key = $"crash-{m}";
            var entry = entries[key];
            var replay = new ModelCore(entry.Definition, entry.Generation);
            var seen = new HashSet<(string, long)>();
            foreach (var (_, record) in applied.Where(a => a.Model == key))
            {
                if (seen.Add((record.ProducerId, record.Sequence)))
                {
                    replay.Apply(record, key);
                }
            }

            Assert.Equal(produced[m], replay.Observations);
            Assert.Equal(produced[m], final[key].Observations);
            var view = ModelViews.State(key, entry.Definition, replay.Observations, replay.WarmingUp, replay.Gmm!.Model, null, null, null, null, final[key].UpdatedAt);
            Assert.Equal(view.Means, final[key].Means);
            Assert.Equal(view.Covariances, final[key].Covariances);
            Assert.Equal(view.Weights, final[key].Weights);
            refits += replay.RefitApplied;
        }

        Assert.True(refits > 0, "no refit result was applied: the test did not exercise refits");
        Assert.True(duplicates > 0, "no record was ever re-applied after a restart: the test did not exercise recovery");
    }
}
