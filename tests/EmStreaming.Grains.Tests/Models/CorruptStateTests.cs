using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Grains.Tests.Models;

public sealed class CorruptStateTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(false)] // the storage's checksum catches it: the grain cannot activate
    [InlineData(true)] // the checksum matches but the bytes are not a model state: the grain activates failed
    public async Task StoredStateCorrupt_ThatModelReportsFailed_OthersListAndAnswer(bool validChecksum)
    {
        await using (var h = await ModelHarness.StartAsync(_directory.Path))
        {
            foreach (var id in new[] { "good", "bad" })
            {
                await h.Service.PutModelAsync(id, ModelHarness.Gmm(snapshotEvery: 100));
                await h.Service.AppendAsync(id, ModelHarness.Rows(200, 2, 1));
                await h.WaitForObservationsAsync(id, 200);
            }
        }

        byte[] garbage = [0x45, 0x4d, 0x47, 0x53, 0x02, 0x00, 0x01, 0x00, 0xff, 0xff];
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory.Path, "emstreaming.db")};Pooling=false"))
        {
            connection.Open();
            using var update = connection.CreateCommand();
            update.CommandText = validChecksum
                ? "UPDATE grain_state SET data = $data, checksum = $checksum WHERE grain_id LIKE '%bad%'"
                : "UPDATE grain_state SET data = $data WHERE grain_id LIKE '%bad%'";
            // The storage's payload: its format byte (0x01: the state's own bytes), then ours.
            byte[] payload = [0x01, .. garbage];
            update.Parameters.AddWithValue("$data", payload);
            update.Parameters.AddWithValue("$checksum", unchecked((long)System.IO.Hashing.XxHash64.HashToUInt64(payload)));
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        await using (var h = await ModelHarness.StartAsync(_directory.Path))
        {
            var page = await h.Service.ListModelsAsync(null, null, 10);
            Assert.Equal(["bad", "good"], page.Models.Select(m => m.Id));
            var bad = page.Models.Single(m => m.Id == "bad").Status;
            Assert.NotNull(bad.Failure);
            Assert.Contains(validChecksum ? "model state" : "corrupt", bad.Failure);
            var good = page.Models.Single(m => m.Id == "good").Status;
            Assert.Null(good.Failure);
            Assert.Equal(200, good.Observations);
            Assert.Equal(200, (await h.Service.GetStateAsync("good")).Observations);
            Assert.NotNull((await h.Service.GetModelAsync("bad")).Status.Failure);
            var query = await Assert.ThrowsAsync<ModelConflictException>(() => h.Service.GetStateAsync("bad"));
            Assert.Contains("failed", query.Message);
        }
    }
}
