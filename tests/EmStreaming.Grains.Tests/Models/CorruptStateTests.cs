using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class CorruptStateTests : IDisposable
{
    // One queue: the corrupt model and the healthy one share it, so a stalled delivery to one would hold up the other.
    private static readonly Dictionary<string, string?> OneQueue = new() { ["Streams:Queues"] = "1" };
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(false)] // the storage's checksum catches it
    [InlineData(true)] // the checksum matches but the bytes are not a model state
    public async Task StoredStateCorrupt_ThatModelFailsAloneAndLoudly_OthersApplyAndRestoreRecoversWithoutLosingRecords(bool validChecksum)
    {
        await using (var h = await ModelHarness.StartAsync(_directory.Path, OneQueue))
        {
            foreach (var id in new[] { "good", "bad" })
            {
                await h.Service.PutModelAsync(id, ModelHarness.Gmm(snapshotEvery: 100));
                await h.Service.AppendAsync(id, ModelHarness.Rows(200, 2, 1));
                await h.WaitForObservationsAsync(id, 200);
            }
        }

        StoredStates.Corrupt(_directory.Path, "bad", validChecksum);

        await using (var h = await ModelHarness.StartAsync(_directory.Path, OneQueue))
        {
            // An external producer's batch for the corrupt model goes through the shared queue first.
            var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
                .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "bad"));
            await stream.OnNextAsync(new ObservationBatch { ProducerId = "gateway", Sequence = 1, Values = ModelHarness.Rows(30, 2, 5).Values.ToArray(), Columns = 2 });

            // The healthy model behind it on the same queue applies new rows (a stalled queue would hold them for about a minute).
            await h.Service.AppendAsync("good", ModelHarness.Rows(50, 2, 2));
            await h.WaitForObservationsAsync("good", 250);

            var page = await h.Service.ListModelsAsync(null, null, 10);
            Assert.Equal(["bad", "good"], page.Models.Select(m => m.Id));
            var bad = page.Models.Single(m => m.Id == "bad").Status;
            Assert.Contains(validChecksum ? "model state" : "corrupt", bad.Failure);
            Assert.Null(page.Models.Single(m => m.Id == "good").Status.Failure);

            // The metrics' census (no grain called) sees the same: the failed model, active in its failed state, and the good one.
            var census = await h.Service.CensusAsync();
            Assert.Contains(validChecksum ? "model state" : "corrupt", census.Active.Single(m => m.Id == "bad").Status.Failure);
            Assert.Null(census.Active.Single(m => m.Id == "good").Status.Failure);

            var query = await Assert.ThrowsAsync<ModelUnavailableException>(() => h.Service.GetStateAsync("bad"));
            Assert.Equal("bad", query.Id);
            Assert.Contains(validChecksum ? "model state" : "corrupt", query.Message);
            // Appends are refused (the client keeps its rows), not accepted for a model that cannot apply them.
            await Assert.ThrowsAsync<ModelUnavailableException>(() => h.Service.AppendAsync("bad", ModelHarness.Rows(10, 2, 3)));

            // Recovery: the history is intact; restoring its newest version makes the model healthy again, and the external
            // batch it refused while failed (kept in the log, never acknowledged as persisted) is applied then.
            var versions = await h.Service.ListSnapshotsAsync("bad");
            var newest = versions[^1];
            Assert.Equal(200, newest.Observations);
            var restored = await h.Service.RestoreSnapshotAsync("bad", newest.Version);
            Assert.Null(restored.Failure);
            Assert.Equal(230, restored.Observations);
            Assert.Null((await h.Service.CensusAsync()).Active.Single(m => m.Id == "bad").Status.Failure);
            Assert.Equal(230, (await h.Service.GetStateAsync("bad")).Observations);
            await h.Service.AppendAsync("bad", ModelHarness.Rows(20, 2, 4));
            await h.WaitForObservationsAsync("bad", 250);

            var missing = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => h.Service.RestoreSnapshotAsync("bad", newest.Version + 100));
            Assert.Equal("version", missing.Field);
        }

        // The restore was stored: a restart reads a sound state.
        await using (var h = await ModelHarness.StartAsync(_directory.Path, OneQueue))
        {
            Assert.Null((await h.Service.GetModelAsync("bad")).Status.Failure);
            await h.WaitForObservationsAsync("bad", 250);
        }
    }
}
