using System.Text;
using Azure.Storage.Blobs;
using EmStreaming.Providers.Azure.History;
using EmStreaming.Providers.History;

namespace EmStreaming.Providers.Azure.Tests.History;

/// <summary>
/// What only the Blob implementation can get wrong: several silos (instances) appending to one grain, metadata read from
/// the listing, keys and reasons that are not ASCII, and a blob whose metadata was damaged outside the history.
/// </summary>
public sealed class BlobSnapshotHistoryTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private readonly BlobContainerClient _container = new(azurite.ConnectionString, "history-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task AppendAsync_TwoInstancesRacing_EveryVersionDistinctAndKept()
    {
        var a = History();
        var b = History();

        var appended = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            (i % 2 == 0 ? a : b).AppendAsync("model-1", new SnapshotAppend(new byte[] { (byte)i }, i, $"writer {i}")).AsTask()));

        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), appended.Select(v => v.Version).Order());
        var listed = await a.ListAsync("model-1");
        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), listed.Select(v => v.Version));
        foreach (var version in appended)
        {
            var read = await b.ReadVersionAsync("model-1", version.Version);
            Assert.NotNull(read);
            Assert.Equal(version, read.Metadata);
            Assert.Equal((byte)version.Observations, read.Data.Span[0]);
        }
    }

    [Fact]
    public async Task ListAsync_MetadataFromListing_MatchesWhatAppendReturned()
    {
        var history = History();
        var first = await history.AppendAsync("m", new SnapshotAppend(new byte[300], 10, "policy"));
        _time.Advance(TimeSpan.FromSeconds(3));
        var second = await history.AppendAsync("m", new SnapshotAppend(new byte[700], 25, null));

        var listed = await history.ListAsync("m");

        Assert.Equal([first, second], listed);
        Assert.Equal(300, listed[0].Size);
        Assert.Null(listed[1].Reason);
    }

    [Fact]
    public async Task AppendAsync_NonAsciiKeyAndReason_RoundTrip()
    {
        var history = History();
        const string key = "capteur/température:Zürich — 温度";
        const string reason = "réglage manuel ✓";

        var stored = await history.AppendAsync(key, new SnapshotAppend(Encoding.UTF8.GetBytes("body"), 3, reason));

        var read = await History().ReadVersionAsync(key, stored.Version);
        Assert.NotNull(read);
        Assert.Equal(reason, read.Metadata.Reason);
        Assert.Equal("body", Encoding.UTF8.GetString(read.Data.Span));
        Assert.Empty(await history.ListAsync("capteur/température:Zürich"));
    }

    [Fact]
    public async Task ListAsync_MetadataDamagedOutsideTheHistory_ErrorNamesTheBlob()
    {
        var history = History();
        var stored = await history.AppendAsync("m", new SnapshotAppend(new byte[4], 1, null));
        var name = BlobSnapshotHistory.BlobName("m", stored.Version);
        await _container.GetBlobClient(name).SetMetadataAsync(new Dictionary<string, string> { ["observations"] = "many" });

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => history.ListAsync("m").AsTask());

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppendAsync_RetentionByCount_OldestRemovedFromStorage()
    {
        var history = History(maxVersions: 3);
        for (var i = 0; i < 5; i++)
        {
            await history.AppendAsync("m", new SnapshotAppend(new byte[1], i, null));
        }

        Assert.Equal([3L, 4L, 5L], (await history.ListAsync("m")).Select(v => v.Version));
        var names = new List<string>();
        await foreach (var blob in _container.GetBlobsAsync())
        {
            names.Add(blob.Name);
        }

        Assert.Equal(3, names.Count);
    }

    [Fact]
    public async Task ReadAtAsync_BetweenVersions_NewestAtOrBefore()
    {
        var history = History();
        var first = await history.AppendAsync("m", new SnapshotAppend(new byte[1], 1, null));
        _time.Advance(TimeSpan.FromMinutes(1));
        await history.AppendAsync("m", new SnapshotAppend(new byte[1], 2, null));

        Assert.Equal(first, (await history.ReadAtAsync("m", first.Timestamp.AddSeconds(30)))?.Metadata);
        Assert.Null(await history.ReadAtAsync("m", first.Timestamp.AddMilliseconds(-1)));
    }

    private BlobSnapshotHistory History(int maxVersions = SnapshotHistoryOptions.DefaultMaxVersions) =>
        new(_container, new SnapshotHistoryOptions { MaxVersions = maxVersions }, _time);
}
