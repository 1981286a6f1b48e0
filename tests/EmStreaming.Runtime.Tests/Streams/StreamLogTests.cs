using EmStreaming.Runtime.Streams;
using EmStreaming.Runtime.Tests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmStreaming.Runtime.Tests.Streams;

/// <summary>One contract, run against every <see cref="IStreamLog"/> implementation.</summary>
public abstract class StreamLogTests : IDisposable
{
    protected readonly FakeTimeProvider Clock = new();
    protected readonly TempDirectory Directory = new();

    private protected abstract IStreamLog Create(StreamOptions options);

    public void Dispose() => Directory.Dispose();

    private static StreamOptions Options(int partitions = 4, int capacity = 1000) => new() { PartitionCount = partitions, PartitionCapacity = capacity };

    private static byte[] Bytes(int value) => BitConverter.GetBytes(value);

    [Fact]
    public async Task AppendAsync_ManyStreams_PositionsAreDensePerPartitionAndStartAtOne()
    {
        await using var log = Create(Options());
        var byPartition = new Dictionary<int, List<long>>();
        for (var i = 0; i < 40; i++)
        {
            var position = await log.AppendAsync(new StreamId("ns", $"k{i % 10}"), Bytes(i));
            Assert.Equal(log.GetPartition($"k{i % 10}"), position.Partition);
            (byPartition.TryGetValue(position.Partition, out var list) ? list : byPartition[position.Partition] = []).Add(position.Position);
        }

        foreach (var positions in byPartition.Values)
        {
            Assert.Equal(Enumerable.Range(1, positions.Count).Select(i => (long)i), positions);
        }
    }

    [Fact]
    public async Task ReadAsync_AfterPosition_ReturnsLaterEntriesInOrderWithPayloads()
    {
        await using var log = Create(Options(partitions: 1));
        for (var i = 0; i < 10; i++)
        {
            await log.AppendAsync(new StreamId("ns", "k"), Bytes(i));
        }

        var items = await Wait.Done(log.ReadAsync(0, 3, 4).AsTask());
        Assert.Equal([4L, 5, 6, 7], items.Select(i => i.Position));
        Assert.Equal([3, 4, 5, 6], items.Select(i => BitConverter.ToInt32(i.Payload.Span)));
        Assert.All(items, i => Assert.Equal(new StreamId("ns", "k"), i.Stream));
        Assert.All(items, i => Assert.Equal(Clock.GetUtcNow(), i.Timestamp));
    }

    [Fact]
    public async Task ReadAsync_NothingNew_WaitsUntilAnAppend()
    {
        await using var log = Create(Options(partitions: 1));
        var read = log.ReadAsync(0, 0, 10).AsTask();
        await Task.Delay(5);
        Assert.False(read.IsCompleted);

        await log.AppendAsync(new StreamId("ns", "k"), Bytes(7));

        var items = await Wait.Done(read);
        Assert.Equal(7, BitConverter.ToInt32(Assert.Single(items).Payload.Span));
    }

    [Fact]
    public async Task AppendAsync_CallerReusesBuffer_StoredPayloadUnchanged()
    {
        await using var log = Create(Options(partitions: 1));
        var buffer = Bytes(1);
        await log.AppendAsync(new StreamId("ns", "k"), buffer);
        buffer[0] = 99;

        var item = Assert.Single(await Wait.Done(log.ReadAsync(0, 0, 10).AsTask()));
        Assert.Equal(1, BitConverter.ToInt32(item.Payload.Span));
    }

    [Fact]
    public async Task AppendAsync_PartitionFull_WaitsUntilAcknowledged()
    {
        await using var log = Create(Options(partitions: 1, capacity: 2));
        var stream = new StreamId("ns", "k");
        await log.AppendAsync(stream, Bytes(1));
        await log.AppendAsync(stream, Bytes(2));

        var third = log.AppendAsync(stream, Bytes(3)).AsTask();
        await Task.Delay(5);
        Assert.False(third.IsCompleted);

        log.Acknowledge(0, 1);

        Assert.Equal(3, (await Wait.Done(third)).Position);
    }

    [Fact]
    public async Task AppendAsync_PartitionStaysFull_ThrowsBackpressureTimeoutNamingTheSetting()
    {
        await using var log = Create(new StreamOptions { PartitionCount = 1, PartitionCapacity = 1, AppendTimeout = TimeSpan.FromSeconds(5) });
        var stream = new StreamId("ns", "k");
        await log.AppendAsync(stream, Bytes(1));
        var blocked = log.AppendAsync(stream, Bytes(2)).AsTask();
        await Task.Delay(5);
        Assert.False(blocked.IsCompleted);

        Clock.Advance(TimeSpan.FromSeconds(6));

        var error = await Assert.ThrowsAsync<BackpressureTimeoutException>(() => Wait.Done(blocked));
        Assert.Contains("stream partition 0", error.Message);
        Assert.Contains("StreamOptions.AppendTimeout", error.Message);
        Assert.Equal(1, await log.CountAsync(0));
    }

    [Fact]
    public async Task AppendAsync_CancelledWhileWaiting_ThrowsAndStoresNothing()
    {
        await using var log = Create(Options(partitions: 1, capacity: 1));
        var stream = new StreamId("ns", "k");
        await log.AppendAsync(stream, Bytes(1));
        using var cancel = new CancellationTokenSource();
        var blocked = log.AppendAsync(stream, Bytes(2), cancel.Token).AsTask();

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.Done(blocked));
        Assert.Equal(1, await log.CountAsync(0));
    }

    [Fact]
    public async Task CommitCheckpointAsync_TrimsEntriesAtOrBelowAndPositionsKeepGrowing()
    {
        await using var log = Create(Options(partitions: 1));
        var stream = new StreamId("ns", "k");
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync(stream, Bytes(i));
        }

        await log.CommitCheckpointAsync(0, 3);
        Assert.Equal(3, await log.GetCheckpointAsync(0));
        Assert.Equal(2, await log.CountAsync(0));
        Assert.Equal([4L, 5], (await Wait.Done(log.ReadAsync(0, 0, 10).AsTask())).Select(i => i.Position));

        await log.CommitCheckpointAsync(0, 2); // lower: ignored
        Assert.Equal(3, await log.GetCheckpointAsync(0));

        await log.CommitCheckpointAsync(0, 5);
        Assert.Equal(0, await log.CountAsync(0));
        Assert.Equal(6, (await log.AppendAsync(stream, Bytes(9))).Position);
    }

    [Fact]
    public async Task AppendAsync_ConcurrentProducers_EachKeyKeepsItsOrder()
    {
        await using var log = Create(Options(partitions: 3, capacity: 10_000));
        const int keys = 30, perKey = 40;
        await Task.WhenAll(Enumerable.Range(0, keys).Select(k => Task.Run(async () =>
        {
            for (var i = 0; i < perKey; i++)
            {
                await log.AppendAsync(new StreamId("ns", $"key-{k}"), Bytes(i));
            }
        })));

        var seen = new Dictionary<string, List<int>>();
        for (var p = 0; p < log.PartitionCount; p++)
        {
            var count = await log.CountAsync(p);
            var items = count == 0 ? [] : await Wait.Done(log.ReadAsync(p, 0, (int)count).AsTask());
            Assert.Equal(Enumerable.Range(1, items.Count).Select(i => (long)i), items.Select(i => i.Position));
            foreach (var item in items)
            {
                (seen.TryGetValue(item.Stream.Key, out var list) ? list : seen[item.Stream.Key] = []).Add(BitConverter.ToInt32(item.Payload.Span));
            }
        }

        Assert.Equal(keys, seen.Count);
        Assert.All(seen.Values, values => Assert.Equal(Enumerable.Range(0, perKey), values));
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var log = Create(Options());
        await log.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.AppendAsync(new StreamId("ns", "k"), Bytes(1)).AsTask());
    }

    [Fact]
    public void GetPartition_SameKey_IsStableAcrossInstances()
    {
        // The durable layout depends on this: a key must land in the same partition after a restart.
        Assert.Equal(StreamPartitionerExpectation("sensor-42", 8), Create(Options(partitions: 8)).GetPartition("sensor-42"));
    }

    private static int StreamPartitionerExpectation(string key, int count)
    {
        var hash = 2166136261u; // FNV-1a reference, written independently of the implementation
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(key))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)count);
    }
}

public sealed class InMemoryStreamLogTests : StreamLogTests
{
    private protected override IStreamLog Create(StreamOptions options) => new InMemoryStreamLog(options, Clock);
}

public sealed class SqliteStreamLogTests : StreamLogTests
{
    private protected override IStreamLog Create(StreamOptions options) => new SqliteStreamLog(Directory.SqliteOptions, options, Clock, NullLogger.Instance);

    [Fact]
    public async Task Reopen_SameFile_KeepsEntriesCheckpointAndNextPosition()
    {
        var options = new StreamOptions { PartitionCount = 1 };
        await using (var log = Create(options))
        {
            for (var i = 0; i < 4; i++)
            {
                await log.AppendAsync(new StreamId("ns", "k"), BitConverter.GetBytes(i));
            }

            await log.CommitCheckpointAsync(0, 2);
        }

        await using var reopened = Create(options);
        Assert.Equal(2, await reopened.GetCheckpointAsync(0));
        Assert.Equal([3L, 4], (await Wait.Done(reopened.ReadAsync(0, 2, 10).AsTask())).Select(i => i.Position));
        Assert.Equal(5, (await reopened.AppendAsync(new StreamId("ns", "k"), BitConverter.GetBytes(9))).Position);
    }

    [Fact]
    public async Task Reopen_DifferentPartitionCount_ThrowsNamingTheSetting()
    {
        await using (Create(new StreamOptions { PartitionCount = 2 }))
        {
        }

        var error = Assert.Throws<InvalidOperationException>(() => Create(new StreamOptions { PartitionCount = 3 }));
        Assert.Contains("StreamOptions.PartitionCount", error.Message);
    }
}
