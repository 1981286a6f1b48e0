using EmStreaming.Providers.History;
using EmStreaming.Testing;

namespace EmStreaming.Providers.TestKit;

/// <summary>
/// The <see cref="ISnapshotHistory"/> contract, run against every implementation: derive a sealed class and implement
/// <see cref="Create"/>. Time comes from <see cref="Clock"/>, a manual clock, so no test depends on the wall clock.
/// </summary>
public abstract class SnapshotHistoryContractTests : IAsyncLifetime
{
    private const string Grain = "sensor-1";
    private readonly List<ISnapshotHistory> _created = [];

    /// <summary>The manual clock the history must read its time from.</summary>
    protected FakeTimeProvider Clock { get; } = new();

    /// <summary>Creates a history (fresh and empty for the first call of a test; later calls of a test may reopen the same store).</summary>
    protected abstract ISnapshotHistory Create(SnapshotHistoryOptions options, TimeProvider clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var history in _created)
        {
            if (history is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    private ISnapshotHistory New(int maxVersions = 100, TimeSpan? maxAge = null)
    {
        var history = Create(new SnapshotHistoryOptions { MaxVersions = maxVersions, MaxAge = maxAge ?? TimeSpan.FromDays(7) }, Clock);
        _created.Add(history);
        return history;
    }

    private static SnapshotAppend Body(byte value, long observations = 10, string? reason = "policy") => new(new[] { value, value, value }, observations, reason);

    [Fact]
    public async Task ListAsync_NoVersions_IsEmptyAndReadsReturnNull()
    {
        var history = New();

        Assert.Empty(await history.ListAsync(Grain));
        Assert.Null(await history.ReadVersionAsync(Grain, 1));
        Assert.Null(await history.ReadAtAsync(Grain, Clock.GetUtcNow()));
    }

    [Fact]
    public async Task AppendAsync_Several_ListsMetadataOldestFirstWithoutBodies()
    {
        var history = New();
        var start = Clock.GetUtcNow();
        var first = await history.AppendAsync(Grain, new SnapshotAppend(new byte[5], 100, "policy"));
        Clock.Advance(TimeSpan.FromMinutes(10));
        await history.AppendAsync(Grain, new SnapshotAppend(new byte[7], 250, "refit"));
        Clock.Advance(TimeSpan.FromMinutes(10));
        await history.AppendAsync(Grain, new SnapshotAppend(new byte[2], 300, null));

        var list = await history.ListAsync(Grain);

        Assert.Equal(new SnapshotVersion(1, start, 100, "policy", 5), first);
        Assert.Equal(
            [
                new SnapshotVersion(1, start, 100, "policy", 5),
                new SnapshotVersion(2, start.AddMinutes(10), 250, "refit", 7),
                new SnapshotVersion(3, start.AddMinutes(20), 300, null, 2),
            ],
            list);
    }

    [Fact]
    public async Task ReadVersionAsync_ReturnsThatVersionsBodyAndMetadata()
    {
        var history = New();
        await history.AppendAsync(Grain, Body(1, observations: 5));
        await history.AppendAsync(Grain, Body(2, observations: 9));

        var read = await history.ReadVersionAsync(Grain, 1);

        Assert.NotNull(read);
        Assert.Equal(new byte[] { 1, 1, 1 }, read.Data.ToArray());
        Assert.Equal(5, read.Metadata.Observations);
        Assert.Null(await history.ReadVersionAsync(Grain, 3));
    }

    [Fact]
    public async Task ReadAtAsync_ReturnsNewestAtOrBeforeTheTime()
    {
        var history = New();
        var t0 = Clock.GetUtcNow();
        await history.AppendAsync(Grain, Body(1));
        Clock.Advance(TimeSpan.FromHours(1));
        await history.AppendAsync(Grain, Body(2));

        Assert.Null(await history.ReadAtAsync(Grain, t0.AddMinutes(-1)));
        Assert.Equal(1, (await history.ReadAtAsync(Grain, t0))!.Metadata.Version);
        Assert.Equal(1, (await history.ReadAtAsync(Grain, t0.AddMinutes(59)))!.Metadata.Version);
        Assert.Equal(new byte[] { 2, 2, 2 }, (await history.ReadAtAsync(Grain, t0.AddHours(2)))!.Data.ToArray());
    }

    [Fact]
    public async Task AppendAsync_RetentionByCount_KeepsOnlyTheNewest()
    {
        var history = New(maxVersions: 2);
        for (byte i = 1; i <= 5; i++)
        {
            await history.AppendAsync(Grain, Body(i));
        }

        Assert.Equal([4L, 5], (await history.ListAsync(Grain)).Select(v => v.Version));
        Assert.Null(await history.ReadVersionAsync(Grain, 3));
    }

    [Fact]
    public async Task AppendAsync_PerGrainMaxVersions_OverridesTheDefaultForThatGrainOnly()
    {
        var history = New(maxVersions: 4);
        for (byte i = 1; i <= 6; i++)
        {
            await history.AppendAsync(Grain, Body(i) with { MaxVersions = 2 });
            await history.AppendAsync("other", Body(i));
            await history.AppendAsync("larger", Body(i) with { MaxVersions = 5 });
        }

        Assert.Equal([5L, 6], (await history.ListAsync(Grain)).Select(v => v.Version));
        Assert.Equal([3L, 4, 5, 6], (await history.ListAsync("other")).Select(v => v.Version));
        Assert.Equal([2L, 3, 4, 5, 6], (await history.ListAsync("larger")).Select(v => v.Version));
        Assert.Null(await history.ReadVersionAsync(Grain, 4));
    }

    [Fact]
    public async Task AppendAsync_PerGrainMaxVersionsBelowOne_ThrowsAndStoresNothing()
    {
        var history = New();

        await Assert.ThrowsAsync<ArgumentException>(() => history.AppendAsync(Grain, Body(1) with { MaxVersions = 0 }).AsTask());

        Assert.Empty(await history.ListAsync(Grain));
    }

    [Fact]
    public async Task AppendAsync_RetentionByAge_DropsOldVersionsButAlwaysKeepsTheNewest()
    {
        var history = New(maxAge: TimeSpan.FromHours(1));
        await history.AppendAsync(Grain, Body(1));
        Clock.Advance(TimeSpan.FromMinutes(30));
        await history.AppendAsync(Grain, Body(2));
        Clock.Advance(TimeSpan.FromMinutes(45));
        await history.AppendAsync(Grain, Body(3));

        // v1 is 75 minutes old (dropped), v2 45 minutes (kept).
        Assert.Equal([2L, 3], (await history.ListAsync(Grain)).Select(v => v.Version));

        Clock.Advance(TimeSpan.FromDays(30));
        await history.AppendAsync(Grain, Body(4));
        Assert.Equal([4L], (await history.ListAsync(Grain)).Select(v => v.Version));
    }

    [Fact]
    public async Task DeleteAllAsync_RemovesEveryVersion_ThenNumberingRestartsAtOne()
    {
        var history = New();
        await history.AppendAsync(Grain, Body(1));
        await history.AppendAsync(Grain, Body(2));
        await history.AppendAsync("other", Body(9));

        await history.DeleteAllAsync(Grain);

        Assert.Empty(await history.ListAsync(Grain));
        Assert.Null(await history.ReadVersionAsync(Grain, 1));
        Assert.Single(await history.ListAsync("other"));
        Assert.Equal(1, (await history.AppendAsync(Grain, Body(3))).Version);
        await history.DeleteAllAsync("never-written");
    }

    [Fact]
    public async Task AppendAsync_CallerReusesBuffer_StoredBodyUnchanged()
    {
        var history = New();
        var buffer = new byte[] { 1, 2, 3 };
        await history.AppendAsync(Grain, new SnapshotAppend(buffer, 1));
        buffer[0] = 99;

        Assert.Equal(new byte[] { 1, 2, 3 }, (await history.ReadVersionAsync(Grain, 1))!.Data.ToArray());
    }

    [Fact]
    public async Task AppendAsync_InvalidInput_RejectedAndNothingStored()
    {
        var history = New();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => history.AppendAsync("", Body(1)).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => history.AppendAsync("bad\nkey", Body(1)).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => history.AppendAsync(new string('k', SnapshotHistoryKeys.MaxKeyLength + 1), Body(1)).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => history.AppendAsync(Grain, new SnapshotAppend(new byte[1], -1)).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => history.AppendAsync(Grain, new SnapshotAppend(new byte[1], 1, new string('r', 2000))).AsTask());

        Assert.Empty(await history.ListAsync(Grain));
    }

    [Fact]
    public async Task AppendAsync_ConcurrentAppendsToOneGrain_GetDistinctConsecutiveVersions()
    {
        var history = New();

        var versions = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => history.AppendAsync(Grain, Body((byte)i)).AsTask()));

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), versions.Select(v => v.Version).Order());
    }
}
