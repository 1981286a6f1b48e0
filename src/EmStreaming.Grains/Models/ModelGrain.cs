using EmStreaming.Grains.Events;
using EmStreaming.Grains.Registry;
using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.History;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace EmStreaming.Grains.Models;

/// <summary>What the service needs of a model grain besides <see cref="IModelGrain"/>: definition changes and pending rows.</summary>
internal interface IModelControlGrain : IGrainWithStringKey
{
    /// <summary>The definition changed (or was deleted): reload it from the registry (a turn).</summary>
    Task ReloadAsync();

    /// <summary>Status, and the rows applied so far from <paramref name="producerId"/> (the service's own producer).</summary>
    [AlwaysInterleave]
    Task<ModelProgress> GetProgressAsync(string producerId);

    /// <summary>What an append needs (exists, generation, dimension, failure), from the definition the grain holds: no registry read.</summary>
    [AlwaysInterleave]
    Task<AppendTarget> GetAppendTargetAsync();

    /// <summary>
    /// Whether a record (<paramref name="producerId"/>, <paramref name="sequence"/>) is applied, never was, or may have been
    /// forgotten (<see cref="ProducerWindows.Judge"/>): asked before an idempotent retry appends its first attempt's record again.
    /// </summary>
    [AlwaysInterleave]
    Task<RetryVerdict> JudgeRetryAsync(string producerId, long sequence);

    /// <summary>
    /// A service appended <paramref name="rows"/> rows under another producer's identity (an idempotent retry of a request a
    /// dead process took): counted outstanding until applied, as that producer's rows, unless already applied.
    /// </summary>
    [AlwaysInterleave]
    Task ExpectAsync(string producerId, long sequence, int rows);

    /// <summary>Reads the registry and reloads when it differs from what the grain holds (a turn; a no-op when they agree), then as <see cref="GetAppendTargetAsync"/>.</summary>
    Task<AppendTarget> SyncAsync();

    /// <summary>
    /// For each record (producer, sequence), whether the stored state covers it: the Azure Queue receiver deletes a message
    /// only then. False for every record while the model is failed (its messages stay queued until it is restored); true for
    /// every record of a model that does not exist (they are inert). With a positive <paramref name="wait"/>, while some record
    /// is not stored yet, the answer waits for the grain's next state write (at most <paramref name="wait"/>), so the receiver
    /// can delete right after it instead of asking again a period later.
    /// </summary>
    [AlwaysInterleave]
    Task<bool[]> AreStoredAsync(RecordKey[] records, TimeSpan wait);

    /// <summary>Makes a snapshot of the history the current state (a turn); see <see cref="IModelService.RestoreSnapshotAsync"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The history holds no such version (parameter <c>version</c>).</exception>
    /// <exception cref="ArgumentException">The version cannot be read or does not fit the current definition (parameter <c>version</c>).</exception>
    /// <exception cref="KeyNotFoundException">The model does not exist.</exception>
    Task<ModelStatus> RestoreAsync(long version);
}

/// <summary>
/// A model's status, the rows it has applied from one producer, whether it may still be reading records from before its
/// activation whose rows it cannot count (Azure Queues after a restart), and the rows of other producers its log held at
/// activation that are not applied yet (counted exactly from the log); null status when the model does not exist. Rows are
/// those of the definition <c>Generation</c> only: a producer compares them with the rows it appended to that generation.
/// </summary>
[GenerateSerializer, Immutable]
internal sealed record ModelProgress(
    [property: Id(0)] ModelStatus? Status, [property: Id(1)] long ProducerRows, [property: Id(2)] bool CatchingUp, [property: Id(3)] long OutstandingRows = 0,
    [property: Id(4)] long Generation = 0);

/// <summary>A stream record's identity for the exactly-once rule: its producer and that producer's sequence number.</summary>
[GenerateSerializer, Immutable]
internal readonly record struct RecordKey([property: Id(0)] string ProducerId, [property: Id(1)] long Sequence);

/// <summary>
/// One activation per model id. Consumes the model's stream (implicit subscription) in order through <see cref="ModelCore"/>,
/// skipping records it has already applied by their producer's sequence (never by stream token), runs refits off the turn
/// and writes their results back into its own stream (so a replay adopts them at the same position), persists its state on
/// policy, on a timer and on deactivation, and publishes an immutable view that queries read without waiting for a turn.
/// </summary>
[ImplicitStreamSubscription(ModelStreams.Namespace)]
internal sealed partial class ModelGrain : Grain, IModelGrain, IModelControlGrain, IStreamSubscriptionObserver, IAsyncBatchObserver<object>
{
    /// <summary>Producer id of the records the grain writes into its own stream (refit requests and results).</summary>
    public const string ControlProducer = "model";

    private readonly IPersistentState<ModelGrainState> _state;
    private readonly IModelRegistry _registry;
    private readonly ModelEventHub _hub;
    private readonly ModelMetrics _metrics;
    private readonly ISnapshotHistory _history;
    private readonly IStreamPersistenceTracker _tracker;
    private readonly IStreamBacklog _backlog;
    private readonly IModelGrainObserver _observer;
    private readonly ModelStatusBoard _board;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _streamProvider;
    private readonly bool _deleteWhenStored;
    private readonly TimeSpan _commitInterval;
    private readonly ProducerWindows _windows = new();
    private readonly OutstandingRows _outstanding = new();
    private readonly CancellationTokenSource _stopping = new();

    private RegistryEntry? _entry;
    private ModelCore? _core;
    private string? _failure;
    private long _controlSequence;
    private long _sinceSnapshot;
    private bool _dirty;          // changed since the last snapshot in the history
    private bool _uncommitted;    // changed since the last state write
    private volatile ProducerWindows _stored = new(); // the producer windows of the last state written (or read)
    private StreamSequenceToken? _lastToken;
    private DateTimeOffset? _lastSnapshotAt;
    private long? _snapshotVersion;
    private IGrainTimer? _refitTimer;
    private IGrainTimer? _snapshotTimer;
    private long _refitRequestedAt = -1;                              // observations when the refit timer last asked for a refit
    private bool _commitArmed;                                       // the commit timer will tick (records applied, not written)
    private (DateTimeOffset Anchor, TimeSpan Period) _commitGrid;   // the instants the commit timer ticks at when armed
    private bool _snapshotArmed;                                     // the snapshot timer will tick (a change since the last snapshot)
    private (DateTimeOffset Anchor, TimeSpan Period) _snapshotGrid; // the instants the snapshot timer ticks at when armed
    private IGrainTimer? _commitTimer;
    private TaskCompletionSource? _nextWrite; // AreStoredAsync callers waiting for the next state write
    private bool _deactivating;                // this grain asked to be deactivated: AreStoredAsync no longer waits
    private PublishedModel _published = PublishedModel.Missing;
    private long _catchUpNonce; // non-zero while this activation has not yet read its own catch-up marker

    public ModelGrain(
        IGrainContext context, IPersistentStateFactory stateFactory, IOptions<ModelStorageOptions> storage, IOptions<ModelStreamOptions> streams,
        IOptions<AzureQueueStreamSettings> queues, IModelRegistry registry, ModelEventHub hub, ModelMetrics metrics, ISnapshotHistory history, IStreamPersistenceTracker tracker,
        IStreamBacklog backlog, IModelGrainObserver observer, ModelStatusBoard board, TimeProvider time, ILogger<ModelGrain> logger)
    {
        _board = board;
        _state = stateFactory.Create<ModelGrainState>(context, new StateConfiguration("model", storage.Value.ProviderName));
        _streamProvider = streams.Value.ProviderName;
        // Azure Queue streams delete a message once this grain says its stored state covers it (AreStoredAsync): the state is
        // written every CommitInterval while records arrive (0: after every delivery), not before each delivery returns.
        _deleteWhenStored = streams.Value.AzureQueue;
        _commitInterval = queues.Value.CommitInterval;
        _registry = registry;
        _hub = hub;
        _metrics = metrics;
        _history = history;
        _tracker = tracker;
        _backlog = backlog;
        _observer = observer;
        _time = time;
        _logger = logger;
    }

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _entry = await _registry.GetAsync(Id, cancellationToken);
        DecodedModelState? stored = null;
        if (_state.State.Corruption is { } corruption)
        {
            // The storage could not read it (checksum or envelope): activate failed rather than fail the activation, which would
            // make the pulling agent retry this model's records while every other model of its queue waits.
            Fail($"its stored state is corrupt: {corruption}");
        }
        else if (_state.State.Data is { Length: > 0 } data)
        {
            try
            {
                stored = ModelStateCodec.Decode(data);
            }
            catch (InvalidDataException e)
            {
                Fail($"its stored state cannot be read: {e.Message}");
            }

            _state.State = new ModelGrainState(); // decoded: the bytes need not stay in memory
        }

        if (_entry is not null && _failure is null)
        {
            _core = stored is not null ? TryRestore(_entry, stored) : null;
            if (stored is not null && _core is not null)
            {
                _controlSequence = stored.ControlSequence;
                _windows.ReplaceWith(stored.Windows);
                _stored = _windows.Clone();
            }

            var entry = _entry;
            if (!TryBuild(() => _core ?? new ModelCore(entry.Definition, entry.Generation)))
            {
                Publish();
                return;
            }

            if (await _history.ListAsync(Id, cancellationToken) is [.., var latest])
            {
                _lastSnapshotAt = latest.Timestamp;
                _snapshotVersion = latest.Version;
            }

            if (_state.RecordExists)
            {
                // A stored state means a previous activation (maybe another process) may have left records in the log. Without
                // one, the model was just created (its first state is written when it is) and nothing older can be pending.
                await StartCatchUpAsync(cancellationToken);
            }
            if (_core!.ResumeRefit() is { } job)
            {
                StartRefit(job, NextControlSequence());
            }
        }

        Publish();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            if (_core is not null && _dirty && _failure is null)
            {
                await SnapshotAsync(SnapshotReason.Deactivation, cancellationToken);
            }
        }
        finally
        {
            _board.Remove(Id, this);
        }
    }

    /// <summary>Batch delivery: the records of one delivery are applied in one turn and the view is published once.</summary>
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) => handleFactory.Create<object>().ResumeAsync((IAsyncBatchObserver<object>)this);

    public async Task OnNextAsync(IList<SequentialItem<object>> items)
    {
        var changed = false;
        foreach (var item in items)
        {
            changed |= await OnNextAsync(item.Item, item.Token);
        }

        if (changed)
        {
            if (_deleteWhenStored && _commitInterval == TimeSpan.Zero)
            {
                await CommitAsync();
            }

            Publish();
        }
    }

    public async Task<bool[]> AreStoredAsync(RecordKey[] records, TimeSpan wait)
    {
        var stored = Stored(records);
        if (wait > TimeSpan.Zero && _failure is null && _core is not null && !_deactivating && Array.IndexOf(stored, false) >= 0)
        {
            // Interleaved: the wait holds no turn, but Orleans deactivates an activation only once no request is running, so
            // a deactivation this grain asks for ends the waits first (Deactivate); one the silo starts (shutdown, moving the
            // grain) waits for them, at most the wait the receiver offered (twice the commit interval).
            using var limit = new CancellationTokenSource();
            var next = (_nextWrite ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            await Task.WhenAny(next, Task.Delay(wait, _time, limit.Token));
            await limit.CancelAsync();
            stored = Stored(records);
        }

        return stored;
    }

    private bool[] Stored(RecordKey[] records)
    {
        var stored = new bool[records.Length];
        if (_failure is null)
        {
            var windows = _stored;
            for (var i = 0; i < records.Length; i++)
            {
                // A model that does not exist applies nothing: its records are inert whether stored or not.
                stored[i] = _core is null || !windows.WouldAccept(records[i].ProducerId, records[i].Sequence);
            }
        }

        return stored;
    }

    /// <summary>Deactivates once idle; the waits of <see cref="AreStoredAsync"/> end first, so they do not hold it up.</summary>
    private void Deactivate()
    {
        _deactivating = true;
        WakeStoredWaiters();
        DeactivateOnIdle();
    }

    /// <summary>Ends the waits of <see cref="AreStoredAsync"/>: a state write was attempted, or the grain failed or deactivates.</summary>
    private void WakeStoredWaiters()
    {
        var waiting = _nextWrite;
        _nextWrite = null;
        waiting?.TrySetResult();
    }

    /// <summary>
    /// Writes the state (model, producer windows) if records were applied since the last write: the Azure Queue receiver
    /// then deletes their messages. A lost ETag race means another activation (a stale owner's successor) stored a newer
    /// state: this one refuses further records and deactivates, and the undeleted messages reappear and are applied once by
    /// a fresh activation that reads the winner's state.
    /// </summary>
    private async Task CommitAsync()
    {
        if (!_uncommitted || _core is null || _failure is not null)
        {
            return;
        }

        try
        {
            await WriteStateAsync(SnapshotReason.Policy, _core, CancellationToken.None);
        }
        catch (Orleans.Storage.InconsistentStateException e)
        {
            _failure = $"another activation stored a newer state ({e.Message}); reloading";
            Deactivate();
            throw;
        }
    }

    /// <summary>One record; true when the model changed.</summary>
    private async Task<bool> OnNextAsync(object item, StreamSequenceToken? token)
    {
        if (_failure is not null)
        {
            // Never apply on top of a state we could not read. Returning (not throwing, which would pin the queue's cache and
            // stall the other models of the queue) without calling Persisted keeps the record in the log: nothing is trimmed
            // past it, and it is delivered again after a restart.
            _logger.LogWarning(
                "Model {Id} is failed ({Failure}): a stream record was not applied; it stays {Where} until a restore applies it", Id, _failure,
                _deleteWhenStored ? "in its queue (delivered again after each visibility timeout)" : "in the log");
            return false;
        }

        var record = ToRecord(item);
        if (record is null)
        {
            _logger.LogWarning("Model {Id} skipped a stream event of type {Type}", Id, item?.GetType().Name ?? "null");
            return false;
        }

        return await ApplyAsync(record, token);
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex)
    {
        _logger.LogWarning(ex, "Stream of model {Id} reported an error", Id);
        return Task.CompletedTask;
    }

    public async Task ReloadAsync()
    {
        var entry = await _registry.GetAsync(Id, CancellationToken.None);
        StopTimers();
        if (entry is null)
        {
            // Deleted: forget the state and every snapshot version; pending records of the old generation are inert for a successor.
            _core = null;
            _entry = null;
            _failure = null;
            _windows.Clear();
            _outstanding.Clear();
            _uncommitted = false;
            await _state.ClearStateAsync();
            await _history.DeleteAllAsync(Id, CancellationToken.None);
            _lastSnapshotAt = null;
            _snapshotVersion = null;
            _dirty = false;
            Publish();
            Deactivate();
            return;
        }

        var previous = _core;
        _entry = entry;
        _failure = null;
        if (previous is null || previous.Generation != entry.Generation)
        {
            _windows.ResetRows(); // rows counted applied were the old generation's; the service counts the new one's from 0
        }

        if (!TryBuild(() => previous is not null && previous.Generation == entry.Generation
            ? ModelCore.Restore(entry.Definition, previous.Save()) // same shape: new policies, same state
            : new ModelCore(entry.Definition, entry.Generation)))
        {
            Publish();
            return;
        }

        await SnapshotAsync(SnapshotReason.Reset, CancellationToken.None);
        Publish();
    }

    /// <summary>Applies one record unless its producer's window says it was applied already; true when the model changed.</summary>
    private async Task<bool> ApplyAsync(ModelStreamRecord record, StreamSequenceToken? token)
    {
        _lastToken = token ?? _lastToken;
        if (record.Kind == ModelRecordKind.CatchUpMarker)
        {
            // Not an effect: outside the producer windows (a marker of a crashed activation may share a reused sequence).
            var ours = record.Nonce != 0 && record.Nonce == _catchUpNonce;
            _catchUpNonce = ours ? 0 : _catchUpNonce;
            ReportCoveredIfClean(token);
            return ours;
        }

        if (!ProducerWindows.IsIdentity(record.ProducerId))
        {
            // No identity to apply it exactly once by (an external producer's batch without a producer id): skipped, reported.
            _logger.LogWarning("Model {Id} skipped a record without a valid producer id (null or longer than {Max} characters)", Id, ProducerWindows.MaxProducerIdLength);
            return false;
        }

        if (record is { ProducerId: ControlProducer, Kind: ModelRecordKind.RefitRequest or ModelRecordKind.RefitResult } && record.Sequence > _controlSequence)
        {
            // A control record of a previous activation that died before a state write recorded its sequence: number what
            // this activation produces after it, or the next refit result would reuse that sequence and be skipped as its duplicate.
            _controlSequence = record.Sequence;
        }

        // Rows count toward the producer's applied rows only for the current generation: a record of a deleted or reset model
        // is inert, and its rows were never pending for the model the service now counts for (ModelProgress.Generation).
        var activeEvictions = _windows.ActiveEvictions;
        var accepted = _windows.TryAccept(record.ProducerId, record.Sequence, IsCurrent(record) ? record.RowCount : 0, _time.GetUtcNow().UtcTicks);
        if (_windows.ActiveEvictions != activeEvictions)
        {
            _logger.LogWarning(
                "Model {Id} has {Max} producers that sent records within {Horizon}, the most it keeps: it forgot the least recently used one, whose "
                + "redelivered or late records can no longer be told from new ones", Id, ProducerWindows.MaxProducers, ProducerWindows.IdleHorizon);
        }

        if (!accepted)
        {
            // A redelivery: its effect is already in this state. With nothing unsaved, the stored state covers it too, so say so:
            // a grain that only skips redeliveries after a restart never writes, and would otherwise hold its queue's trimming back.
            ReportCoveredIfClean(token);
            return false;
        }

        _dirty = true;
        ArmSnapshotTimer();
        _uncommitted = true;
        ArmCommitTimer();
        _outstanding.Applied(record.ProducerId, record.Sequence);
        if (_core is null)
        {
            return true; // no definition: records of a deleted model are inert (and trimmed once this position is persisted)
        }

        List<ModelEvent>? events;
        RefitJob? job;
        var observationsBefore = _core.Observations;
        try
        {
            (events, job) = _core.Apply(record, Id);
        }
        catch (Exception e) when (ModelCore.IsRejection(e))
        {
            // A record this model cannot apply (an external producer's batch of the wrong width): skipped once, reported. A
            // refusal by the estimator part way through a batch does not come here: the core counts the rows it applied.
            _logger.LogWarning(e, "Model {Id} skipped record {Sequence} of producer {Producer}", Id, record.Sequence, record.ProducerId);
            _hub.Publish(new ModelEvent { ModelId = Id, Type = ModelEventType.Failed, Time = _time.GetUtcNow(), Observations = _core.Observations, Message = e.Message });
            return true;
        }

        _observer.Applied(Id, record);
        // The rows the model took: fewer than the record's when the estimator refused it part way (the rest are named in a
        // Failed event), none for an older generation's inert record.
        var applied = _core.Observations - observationsBefore;
        if (applied > 0)
        {
            _metrics.Observations.Add(applied);
            _metrics.BatchLatency.Record((_time.GetUtcNow() - record.Timestamp).TotalMilliseconds);
            _sinceSnapshot += applied;
        }

        if (events is not null)
        {
            foreach (var e in events)
            {
                // Only a refit's result is a refit; a refit request the model refuses (warming up, one still running, a window
                // too small) answers with a refitRejected event too, but no refit ran.
                if (e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected && record.Kind == ModelRecordKind.RefitResult)
                {
                    _metrics.Refits.Add(1, new KeyValuePair<string, object?>("adopted", e.Type == ModelEventType.RefitAdopted));
                }
                else if (e.Type == ModelEventType.Drift)
                {
                    _metrics.Drifts.Add(1);
                }

                _hub.Publish(e);
            }
        }

        if (job is not null)
        {
            StartRefit(job, NextControlSequence());
        }

        if (SnapshotDue)
        {
            await SnapshotAsync(SnapshotReason.Policy, CancellationToken.None);
        }

        return true;
    }

    /// <summary>Whether a record belongs to the model's current generation (0: an external producer's, meant for the current one).</summary>
    private bool IsCurrent(ModelStreamRecord record) => _core is { } core && (record.Generation == 0 || record.Generation == core.Generation);

    private bool SnapshotDue => _core?.Definition.Snapshots.EveryObservations is { } every && _sinceSnapshot >= every;

    /// <summary>
    /// An external producer's batch, held to the service's rules (<see cref="Observations.ModelInput"/>): rows with an infinite
    /// value or no observed value are dropped; a batch of the wrong width or shape is kept whole and skipped when applied.
    /// </summary>
    private ModelStreamRecord Checked(ObservationBatch batch)
    {
        var record = ModelStreamRecord.From(batch);
        if (_core is not { } core || batch.Columns != core.Definition.Dimension || batch.Values is not { } values || values.Length % batch.Columns != 0)
        {
            return record;
        }

        List<double>? kept = null;
        var rows = values.Length / batch.Columns;
        for (var i = 0; i < rows; i++)
        {
            var row = values.AsSpan(i * batch.Columns, batch.Columns);
            if (Observations.ModelInput.Check(row) is null)
            {
                kept?.AddRange(row);
            }
            else if (kept is null)
            {
                kept = [.. values.AsSpan(0, i * batch.Columns)];
            }
        }

        return kept is null ? record : record with { Values = [.. kept] };
    }

    private ModelCore? TryRestore(RegistryEntry entry, DecodedModelState stored)
    {
        try
        {
            var core = ModelCore.Restore(entry.Definition, stored.Core);
            return core.Generation == entry.Generation ? core : null;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or ArgumentException)
        {
            Fail($"its stored state does not fit its definition: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Builds the model from its stored definition and starts its timers; false, with the model failed (a clear 503, still
    /// deletable and redefinable), when the definition cannot be built (one stored by an older build with laxer checks).
    /// </summary>
    private bool TryBuild(Func<ModelCore> build)
    {
        try
        {
            _core = build();
            StartTimers();
            return true;
        }
        catch (Exception e) when (ModelCore.IsRejection(e))
        {
            _core = null;
            StopTimers();
            Fail($"its stored definition cannot be built: {e.Message}; redefine it (PUT) or delete it");
            return false;
        }
    }

    private void Fail(string reason)
    {
        _failure = reason;
        WakeStoredWaiters();
        _logger.LogError("Model {Id} is failed: {Reason}", Id, reason);
    }

    private long NextControlSequence() => ++_controlSequence;

    private void StopTimers()
    {
        _refitTimer?.Dispose();
        _snapshotTimer?.Dispose();
        _commitTimer?.Dispose();
        _refitTimer = _snapshotTimer = _commitTimer = null;
    }

    private void StartTimers()
    {
        StopTimers();
        var definition = _entry!.Definition;
        if (_deleteWhenStored && _commitInterval > TimeSpan.Zero)
        {
            // Writes what was applied since the last write, so the receiver can delete its messages (AreStoredAsync). Dormant
            // until a record arms it, like the snapshot timer below: a tick every CommitInterval (500 ms) of every idle model
            // would wake the thread pool thousands of times a second on a silo holding a few thousand models. Armed, it
            // fires on the grid it always ticked on (activation + n × interval), so a record waits for its write no longer.
            _commitGrid = (_time.GetUtcNow(), _commitInterval);
            _commitArmed = false;
            _commitTimer = this.RegisterGrainTimer(
                async () =>
                {
                    _commitArmed = false;
                    _observer.Tick(Id, "commit", true);
                    try
                    {
                        await CommitAsync();
                    }
                    finally
                    {
                        _observer.Tick(Id, "commit", false);
                        if (_uncommitted)
                        {
                            ArmCommitTimer();
                        }
                    }
                },
                new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = false });
            if (_uncommitted)
            {
                ArmCommitTimer();
            }
        }

        if (definition.Refit.Every is { } refitEvery)
        {
            // A time-based refit is requested through the stream (a request record), so a replay sees it at the same position.
            // The append runs off the turn: a turn never waits for its own stream.
            _refitTimer = this.RegisterGrainTimer(
                () =>
                {
                    _observer.Tick(Id, "refit", true);
                    try
                    {
                        // Not on a model that applied nothing since the last time-based request: the same window again
                        // (an EM fit of thousands of rows with restarts) on every tick of an idle model is work for nothing.
                        if (_core is { RefitInFlight: false, WarmingUp: false } core && core.Observations != _refitRequestedAt)
                        {
                            _refitRequestedAt = core.Observations;
                            Produce(new ModelStreamRecord
                            {
                                Kind = ModelRecordKind.RefitRequest, ProducerId = ControlProducer, Sequence = NextControlSequence(), Generation = core.Generation,
                                Timestamp = _time.GetUtcNow(),
                            });
                        }
                    }
                    finally
                    {
                        _observer.Tick(Id, "refit", false);
                    }

                    return Task.CompletedTask;
                },
                new GrainTimerCreationOptions(Phase(refitEvery), refitEvery) { Interleave = false, KeepAlive = false });
        }

        if (definition.Snapshots.Every is { } snapshotEvery)
        {
            // Dormant until a change arms it (ArmSnapshotTimer): a tick of a model with nothing to write costs a thread-pool
            // wake-up, and 2,000 idle models with a 30 s period took 2–3 % of a core in ticks that did nothing
            // (docs/benchmarks.md, "Idle"). Armed, it fires on the model's own grid (activation + phase + n × period), so
            // models that change together still write at spread instants.
            _snapshotGrid = (_time.GetUtcNow() + Phase(snapshotEvery), snapshotEvery);
            _snapshotArmed = false;
            _snapshotTimer = this.RegisterGrainTimer(
                async ct =>
                {
                    _snapshotArmed = false;
                    _observer.Tick(Id, "snapshot", true);
                    try
                    {
                        if (_core is not null && _dirty && _failure is null)
                        {
                            await SnapshotAsync(SnapshotReason.Timer, ct);
                            Publish();
                        }
                    }
                    finally
                    {
                        _observer.Tick(Id, "snapshot", false);
                        if (_dirty)
                        {
                            ArmSnapshotTimer();
                        }
                    }
                },
                new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = false });
            if (_dirty)
            {
                ArmSnapshotTimer();
            }
        }
    }

    /// <summary>
    /// Arms the snapshot timer, if the definition has one and it is not armed, for the next instant of the model's grid: a
    /// change is in a snapshot at most one period after it, as with a timer that ticks every period.
    /// </summary>
    private void ArmSnapshotTimer() => Arm(_snapshotTimer, ref _snapshotArmed, _snapshotGrid);

    /// <summary>Arms the commit timer (Azure Queue streams), if there is one and it is not armed, for the next instant of its grid.</summary>
    private void ArmCommitTimer() => Arm(_commitTimer, ref _commitArmed, _commitGrid);

    private void Arm(IGrainTimer? timer, ref bool armed, (DateTimeOffset Anchor, TimeSpan Period) grid)
    {
        if (timer is null || armed)
        {
            return;
        }

        var since = _time.GetUtcNow() - grid.Anchor;
        var due = since < TimeSpan.Zero ? -since : grid.Period - TimeSpan.FromTicks(since.Ticks % grid.Period.Ticks);
        timer.Change(due, Timeout.InfiniteTimeSpan);
        armed = true;
    }

    /// <summary>
    /// First tick of a periodic timer: a fixed fraction (0, 1] of the period derived from the key, so models activated together
    /// (a restart, a load test) do not all snapshot or refit in the same instant.
    /// </summary>
    private TimeSpan Phase(TimeSpan period)
    {
        var hash = 2166136261u;
        foreach (var c in Id)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return TimeSpan.FromTicks(Math.Max(1, (long)(period.Ticks * ((hash % 1024) + 1) / 1024.0)));
    }

    private void StartRefit(RefitJob job, long sequence)
    {
        var stream = Stream();
        var logger = _logger;
        var id = Id;
        var time = _time;
        var stopping = _stopping.Token;
        _ = Task.Run(
            async () =>
            {
                double[] parameters;
                try
                {
                    parameters = RefitCodec.Run(job, stopping);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A failed refit is recorded as an empty result, so the stream (not this activation) says it is over.
                    logger.LogWarning(ex, "Refit {Sequence} of model {Id} failed", job.Sequence, id);
                    parameters = [];
                }

                await stream.OnNextAsync(new ModelStreamRecord
                {
                    Kind = ModelRecordKind.RefitResult, ProducerId = ControlProducer, Sequence = sequence, Generation = job.Generation,
                    Timestamp = time.GetUtcNow(), RefitSequence = job.Sequence, Parameters = parameters,
                });
            },
            stopping).ContinueWith(
                t => logger.LogWarning(t.Exception, "Refit {Sequence} of model {Id} could not be recorded; it is re-run on the next activation", job.Sequence, id),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>Appends a control record from a background task (after <paramref name="delay"/>): never awaited by the turn.</summary>
    private void Produce(ModelStreamRecord record, TimeSpan delay = default)
    {
        var stream = Stream();
        var logger = _logger;
        var id = Id;
        var time = _time;
        var stopping = _stopping.Token;
        _ = Task.Run(async () =>
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, stopping);
            }

            await stream.OnNextAsync(record);
        }).ContinueWith(
            t => logger.LogWarning(t.Exception, "Model {Id} could not append a {Kind} record", id, record.Kind),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private IAsyncStream<object> Stream() => this.GetStreamProvider(_streamProvider).GetStream<object>(StreamId.Create(ModelStreams.Namespace, Id));

    /// <summary>A record with no effect on the model is covered by the stored state when nothing is unsaved: the log may be trimmed below it.</summary>
    private void ReportCoveredIfClean(StreamSequenceToken? token)
    {
        if (!_dirty && token is not null && _state.RecordExists)
        {
            _tracker.Persisted(StreamId.Create(ModelStreams.Namespace, Id), token);
        }
    }

    private async Task SnapshotAsync(SnapshotReason reason, CancellationToken cancellationToken)
    {
        var core = _core!;
        var token = _lastToken;
        var data = await WriteStateAsync(reason, core, cancellationToken);
        if (token is not null)
        {
            // Everything up to this record is in the stored state: the provider may trim the log below it.
            _tracker.Persisted(StreamId.Create(ModelStreams.Namespace, Id), token);
        }

        var info = await _history.AppendAsync(Id, new SnapshotAppend(data, core.Observations, reason.ToString(), core.Definition.Snapshots.Retain), cancellationToken);
        _sinceSnapshot = 0;
        _dirty = false;
        _lastSnapshotAt = info.Timestamp;
        _snapshotVersion = info.Version;
        _metrics.SnapshotWritten(info.Timestamp);
        if (_hub.HasSubscribers)
        {
            _hub.Publish(new ModelEvent { ModelId = Id, Type = ModelEventType.SnapshotWritten, Time = info.Timestamp, Observations = core.Observations, SnapshotVersion = info.Version });
        }
    }

    /// <summary>
    /// Writes the grain state (the model and the producer windows as they are now) and returns the bytes written. Once it is
    /// stored, <see cref="AreStoredAsync"/> answers from those windows; a failed write leaves the changes uncommitted.
    /// </summary>
    private async Task<byte[]> WriteStateAsync(SnapshotReason reason, ModelCore core, CancellationToken cancellationToken)
    {
        var windows = _windows.Clone();
        var data = ModelStateCodec.Encode(reason, _controlSequence, windows, core.Save());
        _state.State = new ModelGrainState { Data = data };
        var uncommitted = _uncommitted;
        _uncommitted = false;
        try
        {
            await _state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            _uncommitted = uncommitted;
            WakeStoredWaiters();
            throw;
        }
        finally
        {
            // The written bytes hold the whole window: do not keep a second copy per model between writes (the ETag stays with
            // the persistent state, not with this object).
            _state.State = new ModelGrainState();
        }

        _stored = windows;
        WakeStoredWaiters();
        return data;
    }

    private sealed record StateConfiguration(string StateName, string StorageName) : IPersistentStateConfiguration;
}
