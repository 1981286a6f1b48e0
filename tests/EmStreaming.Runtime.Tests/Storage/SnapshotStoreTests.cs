using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Tests.TestSupport;

namespace EmStreaming.Runtime.Tests.Storage;

/// <summary>One contract, run against every <see cref="ISnapshotStore"/> implementation.</summary>
public abstract class SnapshotStoreTests : IDisposable
{
    protected readonly FakeTimeProvider Clock = new();
    protected readonly TempDirectory Directory = new();
    private static readonly GrainId Grain = new("model", "sensor-1");

    private protected abstract ISnapshotStore Create();

    public void Dispose() => Directory.Dispose();

    private static SnapshotWrite Write(byte value, long position = 0, SnapshotRetention? retention = null) =>
        new(new[] { value, value }, position == 0 ? null : new Dictionary<string, long> { ["obs"] = position }, retention);

    [Fact]
    public async Task ReadAsync_NoSnapshot_ReturnsNull()
    {
        await using var store = Create();
        Assert.Null(await store.ReadAsync(Grain));
        Assert.Empty(await store.ListHistoryAsync(Grain));
    }

    [Fact]
    public async Task WriteAsync_ThenRead_RoundTripsDataCheckpointVersionAndETag()
    {
        await using var store = Create();
        var written = await store.WriteAsync(Grain, Write(7, position: 42), expectedETag: null);

        var read = await store.ReadAsync(Grain);

        Assert.NotNull(read);
        Assert.Equal(1, read.Version);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(Clock.GetUtcNow(), read.Timestamp);
        Assert.Equal(new byte[] { 7, 7 }, read.Data.ToArray());
        Assert.Equal(42, read.Checkpoint["obs"]);
    }

    [Fact]
    public async Task WriteAsync_StaleETag_ThrowsInconsistentStateAndWritesNothing()
    {
        await using var store = Create();
        var first = await store.WriteAsync(Grain, Write(1), null);
        var second = await store.WriteAsync(Grain, Write(2), first.ETag);

        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync(Grain, Write(3), first.ETag).AsTask());

        Assert.Equal(first.ETag, error.ExpectedETag);
        Assert.Equal(second.ETag, error.CurrentETag);
        var latest = await store.ReadAsync(Grain);
        Assert.Equal(2, latest!.Version);
        Assert.Equal(new byte[] { 2, 2 }, latest.Data.ToArray());
    }

    [Fact]
    public async Task WriteAsync_NullETagWhenSnapshotExists_ThrowsInconsistentState()
    {
        await using var store = Create();
        await store.WriteAsync(Grain, Write(1), null);
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync(Grain, Write(2), null).AsTask());
    }

    [Fact]
    public async Task WriteAsync_ETagWhenNoSnapshot_ThrowsInconsistentState()
    {
        await using var store = Create();
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync(Grain, Write(1), "made-up").AsTask());
        Assert.Null(await store.ReadAsync(Grain));
    }

    [Fact]
    public async Task ListHistoryAsync_SeveralWrites_ListsVersionTimeAndSizeOldestFirst()
    {
        await using var store = Create();
        string? etag = null;
        for (var i = 0; i < 3; i++)
        {
            etag = (await store.WriteAsync(Grain, new SnapshotWrite(new byte[i + 1]), etag)).ETag;
            Clock.Advance(TimeSpan.FromMinutes(10));
        }

        var history = await store.ListHistoryAsync(Grain);

        var start = Clock.GetUtcNow() - TimeSpan.FromMinutes(30);
        Assert.Equal(
            [new SnapshotHistoryEntry(1, start, 1), new SnapshotHistoryEntry(2, start.AddMinutes(10), 2), new SnapshotHistoryEntry(3, start.AddMinutes(20), 3)],
            history);
    }

    [Fact]
    public async Task WriteAsync_WithTag_TagListedInHistoryAndReturnedOnRead()
    {
        await using var store = Create();
        var v1 = await store.WriteAsync(Grain, new SnapshotWrite(new byte[3], Tag: "n=100;policy"), null);
        await store.WriteAsync(Grain, new SnapshotWrite(new byte[4]), v1.ETag);

        Assert.Equal(["n=100;policy", null], (await store.ListHistoryAsync(Grain)).Select(h => h.Tag));
        Assert.Equal("n=100;policy", (await store.ReadVersionAsync(Grain, 1))!.Tag);
        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(Grain, new SnapshotWrite(new byte[1], Tag: new string('t', 2000)), null).AsTask());
    }

    [Fact]
    public async Task ReadVersionAsync_And_ReadAtAsync_ReturnPastVersions()
    {
        await using var store = Create();
        var t0 = Clock.GetUtcNow();
        var v1 = await store.WriteAsync(Grain, Write(1), null);
        Clock.Advance(TimeSpan.FromHours(1));
        await store.WriteAsync(Grain, Write(2), v1.ETag);

        Assert.Equal(new byte[] { 1, 1 }, (await store.ReadVersionAsync(Grain, 1))!.Data.ToArray());
        Assert.Null(await store.ReadVersionAsync(Grain, 3));
        Assert.Equal(1, (await store.ReadAtAsync(Grain, t0.AddMinutes(30)))!.Version);
        Assert.Equal(2, (await store.ReadAtAsync(Grain, t0.AddHours(2)))!.Version);
        Assert.Null(await store.ReadAtAsync(Grain, t0.AddMinutes(-1)));
    }

    [Fact]
    public async Task WriteAsync_RetentionMaxVersions_KeepsOnlyTheNewest()
    {
        await using var store = Create();
        string? etag = null;
        for (byte i = 1; i <= 5; i++)
        {
            etag = (await store.WriteAsync(Grain, Write(i, retention: new SnapshotRetention(2, TimeSpan.FromDays(1))), etag)).ETag;
        }

        Assert.Equal([4L, 5], (await store.ListHistoryAsync(Grain)).Select(h => h.Version));
    }

    [Fact]
    public async Task WriteAsync_RetentionMaxAge_DropsOldVersionsButKeepsTheLatest()
    {
        await using var store = Create();
        var retention = new SnapshotRetention(100, TimeSpan.FromHours(1));
        var v1 = await store.WriteAsync(Grain, Write(1, retention: retention), null);
        Clock.Advance(TimeSpan.FromMinutes(30));
        var v2 = await store.WriteAsync(Grain, Write(2, retention: retention), v1.ETag);
        Clock.Advance(TimeSpan.FromMinutes(45));
        await store.WriteAsync(Grain, Write(3, retention: retention), v2.ETag);

        // v1 is 75 minutes old (dropped), v2 45 minutes (kept).
        Assert.Equal([2L, 3], (await store.ListHistoryAsync(Grain)).Select(h => h.Version));
    }

    [Fact]
    public async Task DeleteAsync_MatchingETag_RemovesAllVersions_ThenAFreshWriteStartsAtVersionOne()
    {
        await using var store = Create();
        var v1 = await store.WriteAsync(Grain, Write(1), null);
        var v2 = await store.WriteAsync(Grain, Write(2), v1.ETag);

        await Assert.ThrowsAsync<InconsistentStateException>(() => store.DeleteAsync(Grain, v1.ETag).AsTask());
        await store.DeleteAsync(Grain, v2.ETag);

        Assert.Null(await store.ReadAsync(Grain));
        Assert.Empty(await store.ListHistoryAsync(Grain));
        Assert.Equal(1, (await store.WriteAsync(Grain, Write(3), null)).Version);
    }

    [Fact]
    public async Task WriteAsync_OtherGrain_IsIndependent()
    {
        await using var store = Create();
        await store.WriteAsync(Grain, Write(1), null);
        var other = new GrainId("model", "sensor-2");

        var written = await store.WriteAsync(other, Write(9), null);

        Assert.Equal(1, written.Version);
        Assert.Equal(new byte[] { 1, 1 }, (await store.ReadAsync(Grain))!.Data.ToArray());
    }

    [Fact]
    public async Task WriteAsync_DefaultGrainIdOrHostileCheckpointNamespace_RejectedAndNothingStored()
    {
        await using var store = Create();
        await Assert.ThrowsAsync<InvalidGrainKeyException>(() => store.WriteAsync(default, Write(1), null).AsTask());
        var hostile = new SnapshotWrite(new byte[1], new Dictionary<string, long> { ["../x"] = 1 });
        await Assert.ThrowsAsync<InvalidGrainKeyException>(() => store.WriteAsync(Grain, hostile, null).AsTask());
        Assert.Null(await store.ReadAsync(Grain));
    }
}

public sealed class InMemorySnapshotStoreTests : SnapshotStoreTests
{
    private protected override ISnapshotStore Create() => new InMemorySnapshotStore(Clock);
}

public sealed class SqliteSnapshotStoreTests : SnapshotStoreTests
{
    private protected override ISnapshotStore Create() => new SqliteSnapshotStore(Directory.SqliteOptions, Clock);

    [Fact]
    public async Task Reopen_SameFile_KeepsHistoryAndETag()
    {
        var grain = new GrainId("model", "m1");
        GrainSnapshot written;
        await using (var store = Create())
        {
            written = await store.WriteAsync(grain, new SnapshotWrite(new byte[] { 5 }, new Dictionary<string, long> { ["a"] = 3, ["b"] = 9 }), null);
        }

        await using var reopened = Create();
        var read = await reopened.ReadAsync(grain);
        Assert.Equal(written.ETag, read!.ETag);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 3, ["b"] = 9 }, read.Checkpoint);
    }
}
