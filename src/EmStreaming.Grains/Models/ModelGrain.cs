using EmStreaming.Grains.Events;
using EmStreaming.Grains.Registry;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Grains.Models;

/// <summary>What a model grain publishes after each turn: immutable, read by queries without entering the mailbox.</summary>
internal sealed record PublishedModel(
    RegistryEntry? Entry, long Observations, bool WarmingUp, int WarmUpRemaining, double? RecentMeanLogLikelihood, DateTimeOffset? LastObservationAt,
    DateTimeOffset? LastRefitAt, long Refits, long Anomalies, DateTimeOffset? LastSnapshotAt, long? SnapshotVersion,
    GaussianMixture? Gmm, GaussianHmm? Hmm, double[]? RegimeProbabilities, int? Regime, long? RegimeRunLength, DateTimeOffset UpdatedAt,
    RecentWindow? Recent = null, ModelHealth? Health = null);

/// <summary>The definition changed (or was deleted): reload it from the registry.</summary>
internal sealed record ReloadDefinition;

/// <summary>Why a snapshot was written (first byte of its data).</summary>
internal enum SnapshotReason : byte
{
    Policy = 1,
    Timer = 2,
    Deactivation = 3,
    Reset = 4,
}

/// <summary>
/// One activation per model id. Applies its stream in order through <see cref="ModelCore"/>, runs refits on the silo's
/// background scheduler and writes their results back into its own stream (so a replay adopts them at the same log
/// position), persists snapshots on policy and on deactivation, and publishes a <see cref="PublishedModel"/>.
/// </summary>
internal sealed class ModelGrain(IModelRegistry registry, ModelEventHub hub, ModelMetrics metrics, PendingObservations pending) : Grain
{
    public const string GrainType = "model";
    public const string StreamNamespace = "models";

    private RegistryEntry? _entry;
    private ModelCore? _core;
    private long _sinceSnapshot;
    private bool _dirty;
    private DateTimeOffset? _lastSnapshotAt;
    private long? _snapshotVersion;
    private IGrainTimer? _refitTimer;
    private IGrainTimer? _snapshotTimer;

    /// <summary>Test hook: sees every record applied (position, payload), to build reference runs.</summary>
    internal static Action<string, long, ReadOnlyMemory<byte>>? AppliedObserver { get; set; }

    /// <summary>Test hook: a timer tick of a model starts (true) or ends (false); the name is "refit" or "snapshot".</summary>
    internal static Action<string, string, bool>? TickObserver { get; set; }

    /// <summary>Measurement hook (load generator): called right after a view is published, with the key and the view's observation count.</summary>
    internal static Action<string, long>? PublishedObserver { get; set; }

    protected override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _entry = await registry.GetAsync(GrainId.Key, cancellationToken).ConfigureAwait(false);
        var snapshot = await ReadSnapshotAsync(cancellationToken).ConfigureAwait(false);
        _lastSnapshotAt = snapshot?.Timestamp;
        _snapshotVersion = snapshot?.Version;
        if (_entry is not null)
        {
            _core = snapshot is { Data.Length: > 1 } && TryRestore(_entry, snapshot) is { } restored ? restored : new ModelCore(_entry.Definition, _entry.Generation);
            StartTimers();
            if (_core.ResumeRefit() is { } job)
            {
                StartRefit(job);
            }
        }

        Publish();
    }

    protected override async Task OnStreamItemAsync(StreamItem item, CancellationToken cancellationToken)
    {
        pending.Applied(GrainId.Key, item.Position);
        if (_core is null)
        {
            return; // no definition: entries of a deleted model are inert (and trimmed once this position is persisted)
        }

        var (events, job) = _core.Apply(item.Payload.Span, item.Timestamp, GrainId.Key);
        AppliedObserver?.Invoke(GrainId.Key, item.Position, item.Payload);
        if (item.Payload.Span[0] == (byte)ModelRecordKind.Observations)
        {
            var rows = (item.Payload.Length - ModelRecord.HeaderSize - 8 - Observations.ObservationBatchCodec.HeaderSize) / (8 * _core.Definition.Dimension);
            metrics.Observations.Add(rows);
            metrics.BatchLatency.Record((TimeProvider.GetUtcNow() - item.Timestamp).TotalMilliseconds);
            _sinceSnapshot += rows;
        }

        _dirty = true;
        if (events is not null)
        {
            foreach (var e in events)
            {
                if (e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected)
                {
                    metrics.Refits.Add(1, new KeyValuePair<string, object?>("adopted", e.Type == ModelEventType.RefitAdopted));
                }
                else if (e.Type == ModelEventType.Drift)
                {
                    metrics.Drifts.Add(1);
                }

                hub.Publish(e);
            }
        }

        if (job is not null)
        {
            StartRefit(job);
        }

        if (_core.Definition.Snapshots.EveryObservations is { } every && _sinceSnapshot >= every)
        {
            await SnapshotAsync(SnapshotReason.Policy, cancellationToken).ConfigureAwait(false);
        }

        Publish();
    }

    protected override async ValueTask<object?> ReceiveAsync(object message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case ReloadDefinition:
                await ReloadAsync(cancellationToken).ConfigureAwait(false);
                return null;
            default:
                return await base.ReceiveAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_core is not null && _dirty)
        {
            await SnapshotAsync(SnapshotReason.Deactivation, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var entry = await registry.GetAsync(GrainId.Key, cancellationToken).ConfigureAwait(false);
        _refitTimer?.Dispose();
        _snapshotTimer?.Dispose();
        if (entry is null)
        {
            // Deleted: forget the state, remove every snapshot version, and leave; pending entries are inert for any successor.
            _core = null;
            _entry = null;
            var latest = await Silo.Snapshots.ReadAsync(GrainId, cancellationToken).ConfigureAwait(false);
            if (latest is not null)
            {
                await Silo.Snapshots.DeleteAsync(GrainId, latest.ETag, cancellationToken).ConfigureAwait(false);
            }

            // Forget the ETag and positions of the deleted history, so a successor's first write does not conflict.
            await ReadSnapshotAsync(cancellationToken).ConfigureAwait(false);
            _lastSnapshotAt = null;
            _snapshotVersion = null;

            Publish();
            DeactivateOnIdle();
            return;
        }

        var previous = _core;
        _entry = entry;
        _core = previous is not null && previous.Generation == entry.Generation
            ? ModelCore.Restore(entry.Definition, previous.Save()) // same shape: new policies, same state
            : new ModelCore(entry.Definition, entry.Generation);
        StartTimers();
        await SnapshotAsync(SnapshotReason.Reset, cancellationToken).ConfigureAwait(false);
        Publish();
    }

    private ModelCore? TryRestore(RegistryEntry entry, GrainSnapshot snapshot)
    {
        try
        {
            var core = ModelCore.Restore(entry.Definition, snapshot.Data.Span[1..]);
            return core.Generation == entry.Generation ? core : null;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or ArgumentException)
        {
            Logger.LogWarning(ex, "Snapshot {Version} of model {Id} is unreadable for its current definition; starting fresh", snapshot.Version, GrainId.Key);
            return null;
        }
    }

    private void StartTimers()
    {
        var definition = _entry!.Definition;
        if (definition.Refit.Every is { } refitEvery)
        {
            // A time-based refit is requested through the log (a request record), so a replay sees it at the same position.
            var producer = Silo.Streams;
            var stream = new StreamId(StreamNamespace, GrainId.Key);
            var generation = _entry.Generation;
            _refitTimer = RegisterGrainTimer(
                async ct =>
                {
                    TickObserver?.Invoke(GrainId.Key, "refit", true);
                    try
                    {
                        if (_core is { RefitInFlight: false, WarmingUp: false })
                        {
                            await producer.AppendAsync(stream, ModelRecord.EncodeRefitRequest(generation), ct).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        TickObserver?.Invoke(GrainId.Key, "refit", false);
                    }
                },
                Phase(refitEvery),
                refitEvery);
        }

        if (definition.Snapshots.Every is { } snapshotEvery)
        {
            _snapshotTimer = RegisterGrainTimer(
                async ct =>
                {
                    TickObserver?.Invoke(GrainId.Key, "snapshot", true);
                    try
                    {
                        if (_core is not null && _dirty)
                        {
                            await SnapshotAsync(SnapshotReason.Timer, ct).ConfigureAwait(false);
                            Publish();
                        }
                    }
                    finally
                    {
                        TickObserver?.Invoke(GrainId.Key, "snapshot", false);
                    }
                },
                Phase(snapshotEvery),
                snapshotEvery);
        }
    }

    /// <summary>
    /// First tick of a periodic timer: a fixed fraction (0, 1] of the period derived from the key, so models activated together
    /// (a restart, a load test) do not all snapshot or refit in the same instant; the period, and so the bound on a snapshot's
    /// age, is unchanged.
    /// </summary>
    private TimeSpan Phase(TimeSpan period)
    {
        var hash = 2166136261u;
        foreach (var c in GrainId.Key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return TimeSpan.FromTicks(Math.Max(1, (long)(period.Ticks * ((hash % 1024) + 1) / 1024.0)));
    }

    private void StartRefit(RefitJob job)
    {
        var producer = Silo.Streams;
        var stream = new StreamId(StreamNamespace, GrainId.Key);
        var logger = Logger;
        StartBackgroundJob(
            async ct =>
            {
                double[] parameters;
                try
                {
                    parameters = RefitCodec.Run(job, ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A failed refit is recorded as an empty result, so the log (not this activation) says it is over.
                    logger.LogWarning(ex, "Refit {Sequence} of model {Id} failed", job.Sequence, stream.Key);
                    parameters = [];
                }

                await producer.AppendAsync(stream, ModelRecord.EncodeRefitResult(job.Generation, job.Sequence, parameters), ct).ConfigureAwait(false);
                return true;
            },
            (result, _) =>
            {
                if (!result.Succeeded && !result.Canceled)
                {
                    Logger.LogWarning(result.Exception, "Refit {Sequence} of model {Id} could not be recorded; it is re-run on the next activation", job.Sequence, GrainId.Key);
                }

                return Task.CompletedTask;
            });
    }

    private async Task SnapshotAsync(SnapshotReason reason, CancellationToken cancellationToken)
    {
        var core = _core!;
        var state = core.Save();
        var data = new byte[state.Length + 1];
        data[0] = (byte)reason;
        state.CopyTo(data, 1);
        var retain = core.Definition.Snapshots.Retain;
        var written = await WriteSnapshotAsync(data, new SnapshotRetention(retain, TimeSpan.FromDays(3650)), cancellationToken: cancellationToken).ConfigureAwait(false);
        _sinceSnapshot = 0;
        _dirty = false;
        _lastSnapshotAt = written.Timestamp;
        _snapshotVersion = written.Version;
        metrics.SnapshotWritten(written.Timestamp);
        if (hub.HasSubscribers)
        {
            hub.Publish(new ModelEvent { ModelId = GrainId.Key, Type = ModelEventType.SnapshotWritten, Time = written.Timestamp, Observations = core.Observations, SnapshotVersion = written.Version });
        }
    }

    private void Publish()
    {
        var core = _core;
        if (core is null)
        {
            PublishView(new PublishedModel(_entry, 0, true, 0, null, null, null, 0, 0, _lastSnapshotAt, _snapshotVersion, null, null, null, null, null, TimeProvider.GetUtcNow()));
            return;
        }

        GaussianMixture? gmm = null;
        core.Gmm?.TryGetModel(out gmm);
        var hmm = core.Hmm is { HasModel: true } h ? h.Model : null;
        PublishView(new PublishedModel(
            _entry, core.Observations, core.WarmingUp, core.WarmUpRemaining, core.RecentMeanLogLikelihood, core.LastObservationAt, core.LastRefitAt, core.Refits,
            core.Anomalies, _lastSnapshotAt, _snapshotVersion, gmm, hmm, hmm is null ? null : core.Hmm!.RegimeProbabilities.ToArray(),
            hmm is null ? null : core.Hmm!.Regime, hmm is null ? null : core.Hmm!.RunLength, TimeProvider.GetUtcNow(), core.Window, core.Health));
        PublishedObserver?.Invoke(GrainId.Key, core.Observations);
    }
}
