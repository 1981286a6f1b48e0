using System.Collections.Concurrent;

namespace EmStreaming.Grains.Models;

/// <summary>
/// Rows accepted (durable in the log) but not yet applied, per model: the service records each appended batch with its log
/// position, the grain reports the position of each record it applies. Only batches accepted by this process are counted
/// (after a restart, replayed batches are applied without having been counted here).
/// </summary>
/// <remarks>
/// The grain may apply a batch before the append's continuation records it (delivery races the acknowledgement), so the
/// ledger remembers the highest applied position and ignores batches at or below it. Positions increase per key.
/// </remarks>
internal sealed class PendingObservations
{
    private readonly ConcurrentDictionary<string, Entry> _models = new(StringComparer.Ordinal);

    public void Accepted(string id, long position, int rows)
    {
        var entry = _models.GetOrAdd(id, static _ => new Entry());
        lock (entry)
        {
            if (position <= entry.Applied)
            {
                return;
            }

            entry.Batches.Enqueue((position, rows));
            entry.Pending += rows;
        }
    }

    public void Applied(string id, long position)
    {
        if (!_models.TryGetValue(id, out var entry))
        {
            // Nothing accepted by this process yet; remember the position only once something is.
            entry = _models.GetOrAdd(id, static _ => new Entry());
        }

        lock (entry)
        {
            entry.Applied = Math.Max(entry.Applied, position);
            while (entry.Batches.TryPeek(out var batch) && batch.Position <= position)
            {
                entry.Batches.Dequeue();
                entry.Pending -= batch.Rows;
            }
        }
    }

    public long Get(string id)
    {
        if (!_models.TryGetValue(id, out var entry))
        {
            return 0;
        }

        lock (entry)
        {
            return entry.Pending;
        }
    }

    /// <summary>A deleted model's entries are inert: forget them.</summary>
    public void Forget(string id) => _models.TryRemove(id, out _);

    private sealed class Entry
    {
        public readonly Queue<(long Position, int Rows)> Batches = new();
        public long Applied;
        public long Pending;
    }
}
