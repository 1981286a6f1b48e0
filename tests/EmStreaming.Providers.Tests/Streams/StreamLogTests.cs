using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Streams;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;

namespace EmStreaming.Providers.Tests.Streams;

/// <summary>One contract, run against every <see cref="IStreamLog"/> implementation (the queues under the log stream provider).</summary>
public abstract class StreamLogTests : IAsyncLifetime
{
    protected readonly FakeTimeProvider Clock = new();
    private readonly List<IStreamLog> _created = [];

    private protected abstract IStreamLog CreateLog(LogStreamOptions options);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var log in _created)
        {
            await log.DisposeAsync();
        }
    }

    private protected IStreamLog Create(LogStreamOptions options)
    {
        var log = CreateLog(options);
        _created.Add(log);
        return log;
    }

    private protected static LogStreamOptions Options(int queues = 1, int capacity = 1000) => new() { Queues = queues, QueueCapacity = capacity, CacheSize = 1 };

    private static readonly StreamId Stream = StreamId.Create("ns", "k");

    private static byte[] Bytes(int value) => BitConverter.GetBytes(value);

    [Fact]
    public async Task AppendAsync_SeveralQueues_PositionsAreDensePerQueueAndStartAtOne()
    {
        var log = Create(Options(queues: 3));
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(i / 3 + 1, await log.AppendAsync(i % 3, StreamId.Create("ns", $"k{i}"), Bytes(i)));
        }
    }

    [Fact]
    public async Task WaitForEntriesAsync_AnAppendDuringTheWait_EndsItAtOnce()
    {
        // The receiver of an empty queue waits here instead of being polled again; the append must wake it. The waits are
        // 10 minutes long: the 60-second bounds below only turn a lost wake-up into a failure instead of a hang.
        var log = Create(Options(queues: 2));
        await log.AppendAsync(0, Stream, Bytes(1));
        Assert.True(await log.WaitForEntriesAsync(0, 0, TimeSpan.FromMinutes(10), CancellationToken.None));

        var waiting = log.WaitForEntriesAsync(0, 1, TimeSpan.FromMinutes(10), CancellationToken.None);
        var other = log.WaitForEntriesAsync(1, 0, TimeSpan.FromMinutes(10), CancellationToken.None);
        await log.AppendAsync(1, Stream, Bytes(2));
        Assert.True(await other.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.False(waiting.IsCompleted);

        await log.AppendAsync(0, Stream, Bytes(3));
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(2, log.Read(0, 1, 10).Single().Position);
    }

    [Fact]
    public async Task WaitForEntriesAsync_NothingAppended_FalseAfterTheTimeoutOrOnCancellation()
    {
        var log = Create(Options());
        await log.AppendAsync(0, Stream, Bytes(1));
        Assert.False(await log.WaitForEntriesAsync(0, 1, TimeSpan.FromMilliseconds(20), CancellationToken.None));
        Assert.False(await log.WaitForEntriesAsync(0, 1, TimeSpan.Zero, CancellationToken.None));

        using var cancel = new CancellationTokenSource();
        var waiting = log.WaitForEntriesAsync(0, 1, TimeSpan.FromMinutes(10), cancel.Token);
        await cancel.CancelAsync();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task WaitForEntriesAsync_QueueFull_FalseAtOnceSoTheReaderCanAcknowledge()
    {
        // Producers of a full queue wait for the reader's acknowledgement; a reader waiting for their append would stall both
        // for the whole wait.
        var log = Create(Options(capacity: 3));
        for (var i = 1; i <= 3; i++)
        {
            await log.AppendAsync(0, Stream, Bytes(i));
        }

        var waiting = log.WaitForEntriesAsync(0, 3, TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.True(waiting.IsCompleted);
        Assert.False(await waiting);

        log.Acknowledge(0, 1);
        waiting = log.WaitForEntriesAsync(0, 3, TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        await log.AppendAsync(0, Stream, Bytes(4));
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Read_AfterPosition_ReturnsLaterEntriesInOrderWithStreamPayloadAndTime()
    {
        var log = Create(Options());
        for (var i = 0; i < 10; i++)
        {
            await log.AppendAsync(0, StreamId.Create("ns", $"k{i % 2}"), Bytes(i));
        }

        var items = log.Read(0, 3, 4);

        Assert.Equal([4L, 5, 6, 7], items.Select(i => i.Position));
        Assert.Equal([3, 4, 5, 6], items.Select(i => BitConverter.ToInt32(i.Payload)));
        Assert.Equal(["k1", "k0", "k1", "k0"], items.Select(i => i.Stream.GetKeyAsString()));
        Assert.All(items, i => Assert.Equal("ns", i.Stream.GetNamespace()));
        Assert.All(items, i => Assert.Equal(Clock.GetUtcNow(), i.Timestamp));
    }

    [Fact]
    public void Read_NothingCommitted_ReturnsEmptyWithoutWaiting()
    {
        var log = Create(Options());

        Assert.Empty(log.Read(0, 0, 10));
    }

    [Fact]
    public async Task ReadStream_AfterCheckpoint_ReturnsOnlyThatStreamsRetainedEntriesInOrder()
    {
        var log = Create(Options());
        for (var i = 0; i < 12; i++)
        {
            await log.AppendAsync(0, StreamId.Create("ns", $"k{i % 3}"), Bytes(i));
        }

        await log.CommitCheckpointAsync(0, 4);
        var entries = log.ReadStream(0, StreamId.Create("ns", "k1"), log.GetCheckpoint(0));

        // k1 holds i = 1, 4, 7, 10 at positions 2, 5, 8, 11; position 2 was trimmed.
        Assert.Equal([5L, 8, 11], entries.Select(e => e.Position));
        Assert.Equal([4, 7, 10], entries.Select(e => BitConverter.ToInt32(e.Payload)));
        Assert.All(entries, e => Assert.Equal(StreamId.Create("ns", "k1"), e.Stream));
        Assert.Empty(log.ReadStream(0, StreamId.Create("ns", "unknown"), 0));
    }

    [Fact]
    public async Task AppendAsync_QueueFull_WaitsUntilAcknowledged()
    {
        var log = Create(Options(capacity: 2));
        await log.AppendAsync(0, Stream, Bytes(1));
        await log.AppendAsync(0, Stream, Bytes(2));

        var third = log.AppendAsync(0, Stream, Bytes(3)).AsTask();
        await Task.Delay(20);
        Assert.False(third.IsCompleted);

        log.Acknowledge(0, 1);

        Assert.Equal(3, await Wait.Done(third));
    }

    [Fact]
    public async Task AppendAsync_QueueStaysFull_ThrowsBackpressureNamingTheSettingsAndStoresNothing()
    {
        var log = Create(new LogStreamOptions { Queues = 1, QueueCapacity = 1, CacheSize = 1, AppendTimeout = TimeSpan.FromSeconds(5) });
        await log.AppendAsync(0, Stream, Bytes(1));
        var blocked = log.AppendAsync(0, Stream, Bytes(2)).AsTask();
        await Task.Delay(20);
        Assert.False(blocked.IsCompleted);

        Clock.Advance(TimeSpan.FromSeconds(6));

        var error = await Assert.ThrowsAsync<LogBackpressureException>(() => Wait.Done(blocked));
        Assert.Contains("Streams:AppendTimeout", error.Message);
        Assert.Contains("Streams:QueueCapacity", error.Message);
        Assert.Equal(0, error.Queue);
        Assert.Equal(1, log.Count(0));
    }

    [Fact]
    public async Task AppendAsync_CancelledWhileWaiting_ThrowsAndStoresNothing()
    {
        var log = Create(Options(capacity: 1));
        await log.AppendAsync(0, Stream, Bytes(1));
        using var cancel = new CancellationTokenSource();
        var blocked = log.AppendAsync(0, Stream, Bytes(2), cancel.Token).AsTask();

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.Done(blocked));
        Assert.Equal(1, log.Count(0));
    }

    [Fact]
    public async Task CommitCheckpointAsync_TrimsEntriesAtOrBelowAndPositionsKeepGrowing()
    {
        var log = Create(Options());
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync(0, Stream, Bytes(i));
        }

        await log.CommitCheckpointAsync(0, 3);
        Assert.Equal(3, log.GetCheckpoint(0));
        Assert.Equal(2, log.Count(0));
        Assert.Equal([4L, 5], log.Read(0, 0, 10).Select(i => i.Position));

        await log.CommitCheckpointAsync(0, 2); // lower: ignored
        Assert.Equal(3, log.GetCheckpoint(0));

        await log.CommitCheckpointAsync(0, 50); // beyond the end: clamped to the last position
        Assert.Equal(5, log.GetCheckpoint(0));
        Assert.Equal(0, log.Count(0));
        Assert.Equal(6, await log.AppendAsync(0, Stream, Bytes(9)));
    }

    [Fact]
    public async Task AppendAsync_ConcurrentProducers_EachStreamKeepsItsOrder()
    {
        var log = Create(Options(queues: 2));
        const int streams = 8, perStream = 50;
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async s =>
        {
            for (var i = 0; i < perStream; i++)
            {
                await log.AppendAsync(s % 2, StreamId.Create("ns", $"k{s}"), Bytes(i));
            }
        }));

        var seen = new Dictionary<string, List<int>>();
        for (var q = 0; q < 2; q++)
        {
            foreach (var item in log.Read(q, 0, 10_000))
            {
                var key = item.Stream.GetKeyAsString();
                (seen.TryGetValue(key, out var list) ? list : seen[key] = []).Add(BitConverter.ToInt32(item.Payload));
            }
        }

        Assert.Equal(streams, seen.Count);
        Assert.All(seen.Values, values => Assert.Equal(Enumerable.Range(0, perStream), values));
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var log = CreateLog(Options());
        await log.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.AppendAsync(0, Stream, Bytes(1)).AsTask());
    }
}

public sealed class InMemoryStreamLogTests : StreamLogTests
{
    private protected override IStreamLog CreateLog(LogStreamOptions options) => new InMemoryStreamLog("test", options, Clock);
}

public sealed class SqliteStreamLogTests : StreamLogTests
{
    private readonly TempDirectory _directory = new();
    private readonly SqliteDatabaseProvider _databases = new();

    private protected override IStreamLog CreateLog(LogStreamOptions options) =>
        new SqliteStreamLog("test", _databases.Get(_directory.Options), options, Clock, NullLogger.Instance);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _databases.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Reopen_SameFile_KeepsEntriesCheckpointAndNextPosition()
    {
        var stream = StreamId.Create("ns", "k");
        var log = CreateLog(Options());
        for (var i = 0; i < 4; i++)
        {
            await log.AppendAsync(0, stream, BitConverter.GetBytes(i));
        }

        await log.CommitCheckpointAsync(0, 2);
        await log.DisposeAsync();

        var reopened = Create(Options());
        Assert.Equal(2, reopened.GetCheckpoint(0));
        var replay = reopened.Read(0, 2, 10);
        Assert.Equal([3L, 4], replay.Select(i => i.Position));
        Assert.All(replay, i => Assert.Equal(stream, i.Stream));
        Assert.Equal(5, await reopened.AppendAsync(0, stream, BitConverter.GetBytes(9)));
    }

    [Fact]
    public async Task Reopen_AllTrimmed_PositionsDoNotGoBackwards()
    {
        var stream = StreamId.Create("ns", "k");
        var log = CreateLog(Options());
        await log.AppendAsync(0, stream, [1]);
        await log.AppendAsync(0, stream, [2]);
        await log.CommitCheckpointAsync(0, 2);
        await log.DisposeAsync();

        var reopened = Create(Options());

        Assert.Equal(3, await reopened.AppendAsync(0, stream, [3]));
    }

    [Fact]
    public async Task Reopen_DifferentQueueCount_ThrowsNamingTheSetting()
    {
        await CreateLog(Options(queues: 2)).DisposeAsync();

        var error = Assert.Throws<InvalidOperationException>(() => CreateLog(Options(queues: 3)));

        Assert.Contains("Streams:Queues", error.Message);
    }

    [Fact]
    public async Task Open_FileIsNotADatabase_ThrowsCorruptDataFileNamingTheFile()
    {
        await File.WriteAllBytesAsync(_directory.DatabasePath, Enumerable.Range(0, 8192).Select(i => (byte)(i * 13)).ToArray());

        var error = Assert.Throws<CorruptDataFileException>(() => CreateLog(Options()));

        Assert.Equal(_directory.DatabasePath, error.FilePath);
    }
}
