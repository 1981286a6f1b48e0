namespace EmStreaming.Runtime.Streams;

/// <summary>Stream log held in memory: same ordering, backpressure and checkpoint semantics as the SQLite log, no durability beyond the process.</summary>
internal sealed class InMemoryStreamLog : IStreamLog
{
    private readonly StreamOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Partition[] _partitions;
    private volatile bool _disposed;

    public InMemoryStreamLog(StreamOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _options = options.Clone();
        _timeProvider = timeProvider;
        _partitions = new Partition[_options.PartitionCount];
        for (var i = 0; i < _partitions.Length; i++)
        {
            _partitions[i] = new Partition(new PartitionFlow(i, _options.PartitionCapacity, 0));
        }
    }

    public int PartitionCount => _partitions.Length;

    public int GetPartition(string streamKey) => StreamPartitioner.GetPartition(streamKey, _partitions.Length);

    public async ValueTask<StreamPosition> AppendAsync(StreamId stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        GrainKey.Validate(stream.Key, "stream key");
        var index = GetPartition(stream.Key);
        var partition = _partitions[index];
        await partition.Flow.ReserveAsync(_options.AppendTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        var copy = payload.ToArray();
        long position;
        lock (partition.Lock)
        {
            if (_disposed)
            {
                partition.Flow.ReleaseUnused();
                throw new ObjectDisposedException(nameof(InMemoryStreamLog));
            }

            position = ++partition.LastPosition;
            partition.Entries.Add(new StreamItem(stream, index, position, _timeProvider.GetUtcNow(), copy));
        }

        partition.Flow.Signal();
        return new StreamPosition(index, position);
    }

    public async ValueTask<IReadOnlyList<StreamItem>> ReadAsync(int partition, long afterPosition, int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        var p = GetPartitionState(partition);
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var signal = p.Flow.WaitSignalAsync();
            lock (p.Lock)
            {
                var start = FirstAfter(p.Entries, afterPosition);
                if (start < p.Entries.Count)
                {
                    var count = Math.Min(maxCount, p.Entries.Count - start);
                    return p.Entries.GetRange(start, count);
                }
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Acknowledge(int partition, long position) => GetPartitionState(partition).Flow.Acknowledge(position);

    public ValueTask<long> GetCheckpointAsync(int partition, CancellationToken cancellationToken = default)
    {
        var p = GetPartitionState(partition);
        lock (p.Lock)
        {
            return ValueTask.FromResult(p.Checkpoint);
        }
    }

    public ValueTask CommitCheckpointAsync(int partition, long position, CancellationToken cancellationToken = default)
    {
        var p = GetPartitionState(partition);
        lock (p.Lock)
        {
            if (position > p.Checkpoint)
            {
                p.Checkpoint = Math.Min(position, p.LastPosition);
                p.Entries.RemoveRange(0, FirstAfter(p.Entries, p.Checkpoint));
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<long> CountAsync(int partition, CancellationToken cancellationToken = default)
    {
        var p = GetPartitionState(partition);
        lock (p.Lock)
        {
            return ValueTask.FromResult((long)p.Entries.Count);
        }
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (var p in _partitions)
        {
            p.Flow.Signal();
        }

        return ValueTask.CompletedTask;
    }

    private Partition GetPartitionState(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _partitions.Length);
        return _partitions[partition];
    }

    private static int FirstAfter(List<StreamItem> entries, long position)
    {
        int lo = 0, hi = entries.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (entries[mid].Position <= position)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private sealed class Partition(PartitionFlow flow)
    {
        public readonly object Lock = new();
        public readonly List<StreamItem> Entries = [];
        public readonly PartitionFlow Flow = flow;
        public long LastPosition;
        public long Checkpoint;
    }
}
