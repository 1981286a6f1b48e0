using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.Catalog;

internal sealed partial class ActivationData
{
    // Touched only inside turns (one at a time), so no lock.
    private readonly Dictionary<string, long> _applied = new(StringComparer.Ordinal);
    private Dictionary<string, long> _durable = new(StringComparer.Ordinal);
    private string? _etag;

    public IReadOnlyDictionary<string, long> AppliedPositions => _applied;

    public async ValueTask<GrainSnapshot?> ReadSnapshotAsync(CancellationToken cancellationToken)
    {
        EnsureInTurn(nameof(ReadSnapshotAsync));
        var snapshot = await Silo.Snapshots.ReadAsync(Id, cancellationToken).ConfigureAwait(false);
        _etag = snapshot?.ETag;
        _applied.Clear();
        _durable = new Dictionary<string, long>(StringComparer.Ordinal);
        if (snapshot is not null)
        {
            foreach (var (ns, position) in snapshot.Checkpoint)
            {
                _applied[ns] = position;
                _durable[ns] = position;
                Silo.OnDurable(Id, ns, position);
            }
        }

        return snapshot;
    }

    public async ValueTask<GrainSnapshot> WriteSnapshotAsync(ReadOnlyMemory<byte> data, SnapshotRetention? retention, string? tag, CancellationToken cancellationToken)
    {
        EnsureInTurn(nameof(WriteSnapshotAsync));
        var checkpoint = new Dictionary<string, long>(_applied, StringComparer.Ordinal);
        var snapshot = await Silo.Snapshots.WriteAsync(Id, new SnapshotWrite(data, checkpoint, retention, tag), _etag, cancellationToken).ConfigureAwait(false);
        _etag = snapshot.ETag;
        _durable = checkpoint;
        foreach (var (ns, position) in checkpoint)
        {
            Silo.OnDurable(Id, ns, position);
        }

        return snapshot;
    }

    public async ValueTask ClearSnapshotsAsync(CancellationToken cancellationToken)
    {
        EnsureInTurn(nameof(ClearSnapshotsAsync));
        await Silo.Snapshots.DeleteAsync(Id, _etag, cancellationToken).ConfigureAwait(false);
        _etag = null;
        _durable = new Dictionary<string, long>(_applied, StringComparer.Ordinal);
        foreach (var (ns, position) in _applied)
        {
            Silo.OnDurable(Id, ns, position);
        }
    }

    private async Task ApplyStreamItemAsync(StreamItem item, CancellationToken cancellationToken)
    {
        var ns = item.Stream.Namespace;
        if (_applied.TryGetValue(ns, out var applied) && item.Position <= applied)
        {
            // A replay of something the restored snapshot already contains: skip it, and tell the tracker it is durable.
            Silo.Counters.DuplicateSkipped();
            if (_durable.TryGetValue(ns, out var durable))
            {
                Silo.OnDurable(Id, ns, durable);
            }

            return;
        }

        // Advance before the grain runs: a snapshot written during this turn includes this item, and a failed item is
        // dead-lettered rather than retried forever.
        _applied[ns] = item.Position;
        await _grain!.InvokeStreamItemAsync(item, cancellationToken).ConfigureAwait(false);
    }
}
