namespace EmStreaming.Runtime.Streams;

/// <summary>
/// Decides how far a partition's log may be trimmed. An entry is safe once every grain it was delivered to has persisted a snapshot at or
/// beyond its position. The tracker keeps, per (grain type, stream) with unpersisted deliveries, the oldest such position; the safe
/// position is just below the oldest of those, and never beyond what has been delivered.
/// </summary>
internal sealed class PartitionTracker(long checkpoint)
{
    private readonly object _lock = new();
    private readonly Dictionary<(string GrainType, StreamId Stream), Pending> _pending = [];
    private long _delivered = checkpoint;

    public long Committed { get; set; } = checkpoint;

    /// <summary>Called before the item enters the grain's mailbox, so a fast persist cannot be counted before the delivery.</summary>
    public void OnDelivering(string grainType, StreamId stream, long position)
    {
        lock (_lock)
        {
            if (_pending.TryGetValue((grainType, stream), out var pending))
            {
                pending.Last = position;
            }
            else
            {
                _pending[(grainType, stream)] = new Pending { Oldest = position, Last = position };
            }
        }
    }

    public void OnDelivered(long position)
    {
        lock (_lock)
        {
            _delivered = Math.Max(_delivered, position);
        }
    }

    public void OnDurable(string grainType, StreamId stream, long position)
    {
        lock (_lock)
        {
            if (!_pending.TryGetValue((grainType, stream), out var pending))
            {
                return;
            }

            if (pending.Last <= position)
            {
                _pending.Remove((grainType, stream));
            }
            else
            {
                // Positions are per partition, so this stream's next entry is somewhere above: P + 1 is a safe lower bound.
                pending.Oldest = Math.Max(pending.Oldest, position + 1);
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
