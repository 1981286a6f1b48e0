using System.Collections.Concurrent;

namespace EmStreaming.Grains.Models;

/// <summary>
/// This silo's active models and their progress as they last published it, for the metrics: each model grain writes its
/// entry whenever it publishes a new view and removes it when it deactivates. Reading it calls no grain, so it keeps no
/// model active: Orleans counts every call to a grain as activity, and a gauge that asked each active model for its status
/// at every export kept all of them in memory for good (docs/benchmarks.md, "Idle").
/// </summary>
/// <remarks>
/// The entries are those of this silo's activations only; in a cluster each silo's gauges cover the models it hosts. The
/// progress is computed for <see cref="ProducerId"/>, this process's producer on every model stream (the model service's).
/// </remarks>
internal sealed class ModelStatusBoard
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private string? _producerId;

    /// <summary>
    /// The producer whose applied rows the entries carry: the first model service of this process to attach (there is one per
    /// process; tests that start more than one read the gauges of the first); empty until one attaches.
    /// </summary>
    public string ProducerId => Volatile.Read(ref _producerId) ?? "";

    /// <summary>Makes <paramref name="producerId"/> the board's producer unless a service attached before.</summary>
    public void Attach(string producerId) => Interlocked.CompareExchange(ref _producerId, producerId, null);

    /// <summary>The models active on this silo with their last published progress, in no particular order.</summary>
    public IEnumerable<(string Id, ModelProgress Progress)> Active => _entries.Select(e => (e.Key, e.Value.Progress));

    /// <summary>Writes an activation's progress (replacing that activation's previous entry).</summary>
    public void Set(string id, object activation, ModelProgress progress) => _entries[id] = new Entry(activation, progress);

    /// <summary>Removes the entry of <paramref name="activation"/>; one written since by another activation stays.</summary>
    public void Remove(string id, object activation)
    {
        if (_entries.TryGetValue(id, out var entry) && ReferenceEquals(entry.Activation, activation))
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(id, entry));
        }
    }

    private sealed record Entry(object Activation, ModelProgress Progress);
}
