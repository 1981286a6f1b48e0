using Orleans.Runtime;

namespace EmStreaming.Providers.Streams;

/// <summary>The log in memory: the same ordering, backpressure and checkpoint rules as the SQLite log, no durability beyond the process.</summary>
internal sealed class InMemoryStreamLog : IStreamLog
{
    private readonly LogStreamOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Queue[] _queues;
    private readonly AppendBells _bells;
    private volatile bool _disposed;

    public InMemoryStreamLog(string provider, LogStreamOptions options, TimeProvider timeProvider)
    {
        _options = options.Clone();
        _timeProvider = timeProvider;
        _queues = new Queue[_options.Queues];
        _bells = new AppendBells(_options.Queues);
        for (var i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new Queue(new QueueFlow(provider, i, _options.QueueCapacity, 0));
        }
    }

    public int QueueCount => _queues.Length;

    public async ValueTask<long> AppendAsync(int queue, StreamId stream, byte[] payload, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var q = Get(queue);
        await q.Flow.ReserveAsync(_options.AppendTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        lock (q.Lock)
        {
            if (_disposed)
            {
                q.Flow.ReleaseUnused();
                throw new ObjectDisposedException(nameof(InMemoryStreamLog));
            }

            var position = ++q.LastPosition;
            q.Entries.Add(new LogEntry(stream, position, _timeProvider.GetUtcNow(), payload));
            _bells.Ring(queue);
            return position;
        }
    }

    public IReadOnlyList<LogEntry> Read(int queue, long afterPosition, int maxCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var q = Get(queue);
        lock (q.Lock)
        {
            var start = FirstAfter(q.Entries, afterPosition);
            return start < q.Entries.Count ? q.Entries.GetRange(start, Math.Min(maxCount, q.Entries.Count - start)) : [];
        }
    }

    public Task<bool> WaitForEntriesAsync(int queue, long afterPosition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var q = Get(queue);
        var bell = _bells.Current(queue);
        lock (q.Lock)
        {
            if (q.LastPosition > afterPosition)
            {
                return Task.FromResult(true);
            }
        }

        return q.Flow.HasRoom ? AppendBells.WaitAsync(bell, timeout, cancellationToken) : Task.FromResult(false);
    }

    public IReadOnlyList<LogEntry> ReadStream(int queue, StreamId stream, long afterPosition)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var q = Get(queue);
        lock (q.Lock)
        {
            var entries = new List<LogEntry>();
            for (var i = FirstAfter(q.Entries, afterPosition); i < q.Entries.Count; i++)
            {
                if (q.Entries[i].Stream == stream)
                {
                    entries.Add(q.Entries[i]);
                }
            }

            return entries;
        }
    }

    public void Acknowledge(int queue, long position) => Get(queue).Flow.Acknowledge(position);

    public long GetCheckpoint(int queue)
    {
        var q = Get(queue);
        lock (q.Lock)
        {
            return q.Checkpoint;
        }
    }

    public ValueTask CommitCheckpointAsync(int queue, long position, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var q = Get(queue);
        lock (q.Lock)
        {
            if (position > q.Checkpoint)
            {
                q.Checkpoint = Math.Min(position, q.LastPosition);
                q.Entries.RemoveRange(0, FirstAfter(q.Entries, q.Checkpoint));
            }
        }

        return ValueTask.CompletedTask;
    }

    public long Count(int queue)
    {
        var q = Get(queue);
        lock (q.Lock)
        {
            return q.Entries.Count;
        }
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return ValueTask.CompletedTask;
    }

    private Queue Get(int queue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, _queues.Length);
        return _queues[queue];
    }

    private static int FirstAfter(List<LogEntry> entries, long position)
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

    private sealed class Queue(QueueFlow flow)
    {
        public readonly object Lock = new();
        public readonly List<LogEntry> Entries = [];
        public readonly QueueFlow Flow = flow;
        public long LastPosition;
        public long Checkpoint;
    }
}
