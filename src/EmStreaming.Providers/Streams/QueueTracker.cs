using Orleans.Runtime;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// Decides how far a queue's log may be trimmed. An entry is safe once the consumer of its stream has persisted a state at or
/// beyond its position. The tracker keeps, per stream with unpersisted deliveries, the oldest such position; the safe position
/// is just below the oldest of those, and never beyond what has been delivered.
/// </summary>
internal sealed class QueueTracker(long checkpoint)
{
    private readonly object _lock = new();
    private readonly Dictionary<StreamId, Pending> _pending = [];
    private long _delivered = checkpoint;

    /// <summary>Called when the receiver hands an entry to the agent, so a fast persist cannot be counted before the delivery.</summary>
    public void OnDelivering(StreamId stream, long position)
    {
        lock (_lock)
        {
            if (_pending.TryGetValue(stream, out var pending))
            {
                pending.Last = position;
            }
            else
            {
                _pending[stream] = new Pending { Oldest = position, Last = position };
            }

            _delivered = Math.Max(_delivered, position);
        }
    }

    /// <summary>An entry that needs no persistence (it could not be decoded) counts as delivered.</summary>
    public void OnSkipped(long position)
    {
        lock (_lock)
        {
            _delivered = Math.Max(_delivered, position);
        }
    }

    /// <summary>The consumer of <paramref name="stream"/> persisted everything up to <paramref name="position"/>.</summary>
    public void OnPersisted(StreamId stream, long position)
    {
        lock (_lock)
        {
            if (!_pending.TryGetValue(stream, out var pending))
            {
                return;
            }

            if (pending.Last <= position)
            {
                _pending.Remove(stream);
            }
            else
            {
                // Positions are per queue, so this stream's next entry is somewhere above: position + 1 is a safe lower bound.
                pending.Oldest = Math.Max(pending.Oldest, position + 1);
            }
        }
    }

    /// <summary>Streams with deliveries not yet persisted.</summary>
    public int PendingStreams
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public long SafePosition
    {
        get
        {
            lock (_lock)
            {
                var safe = _delivered;
                foreach (var pending in _pending.Values)
                {
                    safe = Math.Min(safe, pending.Oldest - 1);
                }

                return safe;
            }
        }
    }

    private sealed class Pending
    {
        public long Oldest;
        public long Last;
    }
}
