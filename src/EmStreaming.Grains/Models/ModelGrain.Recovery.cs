using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace EmStreaming.Grains.Models;

/// <summary>What a model grain does to know what is outstanding after a restart, and to come back from a state it could not read.</summary>
internal sealed partial class ModelGrain
{
    public async Task<ModelStatus> RestoreAsync(long version)
    {
        var entry = _entry ?? throw new KeyNotFoundException($"model '{Id}' does not exist");
        var snapshot = await _history.ReadVersionAsync(Id, version, CancellationToken.None)
            ?? throw new ArgumentOutOfRangeException(nameof(version), $"model '{Id}' has no snapshot version {version}");
        DecodedModelState stored;
        ModelCore core;
        try
        {
            stored = ModelStateCodec.Decode(snapshot.Data.Span);
            core = ModelCore.Restore(entry.Definition, stored.Core);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException)
        {
            throw new ArgumentException($"snapshot version {version} of model '{Id}' cannot be restored: {e.Message}", nameof(version), e);
        }

        if (core.Generation != entry.Generation)
        {
            throw new ArgumentException(
                $"snapshot version {version} of model '{Id}' was taken under definition generation {core.Generation}; the model's definition is generation {entry.Generation}",
                nameof(version));
        }

        // A failed model does not know what its unreadable state had applied: the snapshot's producer windows say it, and what
        // the log holds beyond them is applied again below. A healthy model keeps its windows: a roll-back discards the rows
        // applied after the snapshot on purpose (applying them again would undo it), and the pending count stays exact.
        var recovering = _failure is not null;
        _core = core;
        _failure = null;
        if (recovering)
        {
            _controlSequence = stored.ControlSequence;
            _windows.ReplaceWith(stored.Windows);

            _outstanding.Clear();
        }

        _refitTimer?.Dispose();
        _snapshotTimer?.Dispose();
        StartTimers();
        // Stored over the unreadable (or newer) state: this activation holds the stored ETag, so the write is not a conflict.
        _dirty = true;
        await SnapshotAsync(SnapshotReason.Reset, CancellationToken.None);

        // Recovering: what the log still holds beyond the snapshot (records refused while failed, or newer than the snapshot) is
        // applied again, in order; the producer windows skip what the snapshot covers. Azure Queues keep nothing to re-read.
        if (recovering && await _backlog.ReadAsync(_streamProvider, StreamId.Create(ModelStreams.Namespace, Id), CancellationToken.None) is { } events)
        {
            foreach (var e in events)
            {
                if (ToRecord(e.Event) is { } record)
                {
                    await ApplyAsync(record, e.Token);
                }
            }

            if (_dirty)
            {
                await SnapshotAsync(SnapshotReason.Reset, CancellationToken.None);
            }
        }

        if (_core.ResumeRefit() is { } job)
        {
            StartRefit(job, NextControlSequence());
        }

        _logger.LogWarning("Model {Id} was restored from snapshot version {Version} ({Observations} observations now)", Id, version, _core.Observations);
        Publish();
        return Status(_published)!;
    }

    /// <summary>
    /// After a restart (a stored state exists), what the log holds for this model that the stored state does not cover is
    /// outstanding: counted exactly, row by row, from the log (SQLite, in memory). A provider without a readable log (Azure
    /// Queues) gets a marker instead, appended once every message a dead silo had taken is visible again; until this
    /// activation reads it back, the model reports itself catching up and the service reports at least 1 pending row.
    /// </summary>
    private async Task StartCatchUpAsync(CancellationToken cancellationToken)
    {
        if (await _backlog.ReadAsync(_streamProvider, StreamId.Create(ModelStreams.Namespace, Id), cancellationToken) is { } events)
        {
            foreach (var e in events)
            {
                // A record of an earlier generation (the model was deleted and re-created, or reset) is inert: not pending.
                if (ToRecord(e.Event) is { RowCount: > 0 } record && IsCurrent(record) && _windows.WouldAccept(record.ProducerId, record.Sequence))
                {
                    _outstanding.Add(record.ProducerId, record.Sequence, record.RowCount);
                }
            }

            return;
        }

        _catchUpNonce = Random.Shared.NextInt64(1, long.MaxValue);
        Produce(
            new ModelStreamRecord
            {
                Kind = ModelRecordKind.CatchUpMarker, ProducerId = ControlProducer, Sequence = 0, Generation = 0, Timestamp = _time.GetUtcNow(), Nonce = _catchUpNonce,
            },
            _backlog.RedeliveryHorizon);
    }

    /// <summary>A stream event as a record: ours as it is, an external producer's batch held to the service's rules; null for anything else.</summary>
    private ModelStreamRecord? ToRecord(object? item) => item switch
    {
        ModelStreamRecord r => r,
        ObservationBatch b => Checked(b),
        _ => null,
    };
}
