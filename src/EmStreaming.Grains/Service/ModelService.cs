using System.Collections.Concurrent;
using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Events;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Observations;
using EmStreaming.Grains.Registry;
using EmStreaming.Providers.History;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace EmStreaming.Grains.Service;

/// <summary>
/// <see cref="IModelService"/> over Orleans: validates once (<see cref="ModelInput"/>), puts accepted rows on the model's
/// stream and answers once the stream provider has made them durable, and answers queries from the grain's published view
/// (interleaved grain calls, never behind a turn).
/// </summary>
/// <remarks>
/// Exactly-once: this service is one producer (<see cref="ProducerId"/>, new per process) and numbers its records to each
/// model 1, 2, 3...; the grain skips a number it has applied. Pending rows: rows this producer appended to a model minus the
/// rows of this producer the grain has applied.
/// </remarks>
internal sealed class ModelService(
    IClusterClient client, IModelRegistry registry, ModelTemplates templates, ModelEventHub hub, ISnapshotHistory history, IOptions<ModelStreamOptions> streams,
    ModelStatusBoard board, TimeProvider time) : IModelService
{
    private readonly ConcurrentDictionary<(string, string), SemaphoreSlim> _keyLocks = new();
    private readonly ConcurrentDictionary<string, ProducerCounter> _counters = new(StringComparer.Ordinal);
    // (model, sequence) of this producer's keyed records appended and counted whose answer is not recorded yet: a retry in this
    // process appends the same record again and must not count its rows twice. Added only once the record is durable and its
    // rows counted (an append that fails before leaves none: nothing was counted, a retry counts them); removed once no retry
    // can append it again (its answer recorded, or the model's verdict on it final). It deliberately outlives a request that
    // failed between the durable append and recording its answer: removing it then would count the rows of this process's
    // retry a second time, and the pending count would never fall to 0 again.
    private readonly ConcurrentDictionary<(string, long), byte> _unanswered = new();
    private readonly IStreamProvider _streams = client.GetStreamProvider(streams.Value.ProviderName);

    /// <summary>Keyed records of this producer whose rows are counted and whose answer is not recorded yet (for tests).</summary>
    internal int UnansweredCount => _unanswered.Count;

    /// <summary>This process's producer id on every model stream.</summary>
    public string ProducerId { get; } = AttachNew(board);

    /// <summary>A new producer id, attached to the status board (whose entries carry the first service's applied rows).</summary>
    private static string AttachNew(ModelStatusBoard board)
    {
        var id = $"svc-{Guid.NewGuid():N}";
        board.Attach(id);
        return id;
    }

    public async Task<PutModelOutcome> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default)
    {
        ModelInput.EnsureId(id);
        ArgumentNullException.ThrowIfNull(definition);
        ModelDefinitionValidator.Validate(definition);
        ModelCore.EnsureBuildable(definition);
        var (outcome, _) = await registry.PutAsync(id, definition, onlyIfAbsent: false, cancellationToken).ConfigureAwait(false);
        if (outcome != PutModelOutcome.Unchanged)
        {
            await Control(id).ReloadAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Created, Time = time.GetUtcNow(), Message = outcome.ToString() });
        }
        else
        {
            // Appends take the definition from the grain, not the registry: a retry of a PUT whose reload never ran (the process
            // died after the registry write) must still bring the grain up to date. A no-op when it is.
            await Control(id).SyncAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return outcome;
    }

    public async Task<ModelInfo> GetModelAsync(string id, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        return new ModelInfo(id, entry.Definition, await StatusAsync(id, cancellationToken).ConfigureAwait(false), entry.CreatedAt);
    }

    public async Task<ModelPage> ListModelsAsync(string? prefix, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1_000)
        {
            throw new ModelValidationException("limit", "limit must be between 1 and 1000");
        }

        if (prefix is { Length: > 0 })
        {
            ModelInput.EnsureId(prefix, "prefix", "a prefix");
        }

        var page = await registry.ListAsync(prefix, cursor, limit + 1, cancellationToken).ConfigureAwait(false);
        var entries = page.Take(limit).ToList();
        var statuses = await Task.WhenAll(entries.Select(e => StatusAsync(e.Id, cancellationToken))).ConfigureAwait(false);
        var models = entries.Select((e, i) => new ModelInfo(e.Id, e.Definition, statuses[i], e.CreatedAt)).ToList();
        return new ModelPage(models, page.Count > limit ? models[^1].Id : null);
    }

    public async Task CheckReadyAsync(CancellationToken cancellationToken = default)
    {
        await registry.ListAsync(null, null, 1, cancellationToken).ConfigureAwait(false);
        await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<ModelCensus> CensusAsync(CancellationToken cancellationToken = default)
    {
        const int Page = 1_000;
        var entries = new Dictionary<string, RegistryEntry>(StringComparer.Ordinal);
        var known = new List<string>();
        string? after = null;
        while (true)
        {
            // Pages come ordered by id, so the ids do too.
            var page = await registry.ListAsync(null, after, Page, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page)
            {
                entries[entry.Id] = entry;
                known.Add(entry.Id);
            }

            if (page.Count < Page)
            {
                break;
            }

            after = page[^1].Id;
        }

        // The progress this silo's model grains last published: no grain is called. A call to an active grain counts as
        // activity, so asking each one at every export kept every model active for good.
        // The entries carry the applied rows of the board's producer: this service's, unless the process runs several (tests),
        // and then this service's own pending rows cannot be told from them.
        var ours = board.ProducerId == ProducerId;
        var active = board.Active
            .Where(a => a.Progress.Status is not null && entries.ContainsKey(a.Id))
            .OrderBy(a => a.Id, StringComparer.Ordinal)
            .Select(a => new ModelInfo(a.Id, entries[a.Id].Definition, StatusOf(a.Id, a.Progress, ours), entries[a.Id].CreatedAt))
            .ToList();
        return new ModelCensus(known, active);
    }

    public async Task<bool> DeleteModelAsync(string id, CancellationToken cancellationToken = default)
    {
        ModelInput.EnsureId(id);
        if (!await registry.DeleteAsync(id, cancellationToken).ConfigureAwait(false))
        {
            // Already gone from the registry; a grain that missed the reload of an earlier delete (the process died after the
            // registry write) would still take appends: bring it up to date (a no-op that writes nothing when it is).
            await Control(id).SyncAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await Control(id).ReloadAsync().WaitAsync(cancellationToken).ConfigureAwait(false);

        // Its keys went with the registry entry, so no retry will ever judge this model's unanswered records: their marks
        // (left when an answer could not be written and no retry came) would stay for the life of the process.
        foreach (var mark in _unanswered.Keys)
        {
            if (mark.Item1 == id)
            {
                _unanswered.TryRemove(mark, out _);
            }
        }

        // The numbering goes on over a DELETE: a record of the old generation still in the stream marks its (producer,
        // sequence) in the new windows when it arrives (inert), so a re-created model's append that reused that sequence would
        // be skipped as its duplicate. Pending rows need nothing here: every service counts them per generation, and a
        // re-created model has a new one (also on the silos that did not take the DELETE).
        hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Deleted, Time = time.GetUtcNow() });
        return true;
    }

    public Task<AppendResult> AppendAsync(string id, DataMatrix rows, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return AppendAsync(id, rows, idempotencyKey, static (dimension, r) => ModelInput.Validate(r, dimension), cancellationToken);
    }

    public Task<AppendResult> AppendRowsAsync(string id, IReadOnlyList<double[]> rows, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return AppendAsync(id, rows, idempotencyKey, static (dimension, r) => ModelInput.Validate(r, dimension), cancellationToken);
    }

    public async Task<ModelStateView> GetStateAsync(string id, CancellationToken cancellationToken = default)
    {
        await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        return await CallAsync(id, g => g.GetStateAsync(), cancellationToken).ConfigureAwait(false);
    }

    public async Task<RecentRows> GetRecentAsync(string id, int limit, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 10_000)
        {
            throw new ModelValidationException("limit", "limit must be between 1 and 10000");
        }

        await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var recent = await CallAsync(id, g => g.GetRecentAsync(limit), cancellationToken).ConfigureAwait(false);
        return new RecentRows(new DataMatrix(recent.Rows.Values, recent.Rows.Rows, recent.Rows.Columns), recent.FirstObservation);
    }

    public async Task<PredictResult> PredictAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var view = await QueryRowsAsync(id, rows, cancellationToken).ConfigureAwait(false);
        return await CallAsync(id, g => g.PredictAsync(view), cancellationToken).ConfigureAwait(false);
    }

    public async Task<RegimeResult> FilterAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var view = await QueryRowsAsync(id, rows, cancellationToken, hmmOnly: true).ConfigureAwait(false);
        return await CallAsync(id, g => g.FilterAsync(view), cancellationToken).ConfigureAwait(false);
    }

    public async Task<DataMatrix> ImputeAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var view = await QueryRowsAsync(id, rows, cancellationToken, allowEmptyRows: true).ConfigureAwait(false);
        var imputed = await CallAsync(id, g => g.ImputeAsync(view), cancellationToken).ConfigureAwait(false);
        return new DataMatrix(imputed.Values, imputed.Rows, imputed.Columns);
    }

    public async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default)
    {
        await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var versions = await history.ListAsync(id, cancellationToken).ConfigureAwait(false);
        return [.. versions.Select(Info)];
    }

    public async Task<SnapshotView> GetSnapshotAsync(string id, long? version, DateTimeOffset? at, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var snapshot = version is { } v ? await history.ReadVersionAsync(id, v, cancellationToken).ConfigureAwait(false)
            : at is { } t ? await history.ReadAtAsync(id, t, cancellationToken).ConfigureAwait(false)
            : await history.ListAsync(id, cancellationToken).ConfigureAwait(false) is [.., var newest]
                ? await history.ReadVersionAsync(id, newest.Version, cancellationToken).ConfigureAwait(false)
                : null;
        if (snapshot is null)
        {
            throw version is not null || at is not { } when
                ? new SnapshotNotFoundException(id, "version", version is { } missing ? $"model '{id}' has no snapshot version {missing}" : $"model '{id}' has no snapshot yet")
                : new SnapshotNotFoundException(id, "time", $"model '{id}' has no snapshot at or before {when.UtcDateTime:yyyy-MM-ddTHH:mm:ss.FFFFFFFZ}");
        }

        var stored = ModelStateCodec.Decode(snapshot.Data.Span);
        var core = ModelCore.Restore(entry.Definition, stored.Core);
        GaussianMixture? gmm = null;
        core.Gmm?.TryGetModel(out gmm);
        var hmm = core.Hmm is { HasModel: true } h ? h.Model : null;
        var state = ModelViews.State(
            id, entry.Definition, core.Observations, core.WarmingUp, gmm, hmm, hmm is null ? null : core.Hmm!.RegimeProbabilities.ToArray(),
            hmm is null ? null : core.Hmm!.Regime, hmm is null ? null : core.Hmm!.RunLength, snapshot.Metadata.Timestamp);
        return new SnapshotView(Info(snapshot.Metadata), state);
    }

    public async Task<ModelStatus> RestoreSnapshotAsync(string id, long version, CancellationToken cancellationToken = default)
    {
        await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        try
        {
            await Control(id).RestoreAsync(version).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (KeyNotFoundException)
        {
            throw new ModelNotFoundException(id);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "version")
        {
            throw new SnapshotNotFoundException(id, "version", Unparameterized(e));
        }
        catch (ArgumentException e) when (e.ParamName == "version")
        {
            throw new ModelValidationException("version", Unparameterized(e));
        }

        return await StatusAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The grain's message without the " (Parameter 'version')" that <see cref="ArgumentException"/> appends.</summary>
    private static string Unparameterized(ArgumentException e) =>
        e.Message.Replace(" (Parameter 'version')", string.Empty, StringComparison.Ordinal);

    public async Task RefitAsync(string id, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        // A warming-up model fits early on a request only with enough rows: refused now rather than answered later by an event.
        // Rows accepted and not yet applied come before this request in the stream, so they count; the model decides again
        // when it applies the request (it may still refuse, with a refitRejected event: a row it did not take, a column unobserved).
        var status = await StatusAsync(id, cancellationToken).ConfigureAwait(false);
        if (status is { WarmingUp: true, Failure: null } && status.EarlyFitRemaining - status.PendingObservations is var remaining and > 0)
        {
            var d = entry.Definition;
            var minimum = Math.Min(
                ModelDefinitionValidator.MinimumWarmUp(d.Components, d.Dimension),
                d.WarmUp ?? (d.Kind == ModelKind.Hmm ? Numerics.Hmm.OnlineHmmOptions.DefaultBufferSize : int.MaxValue));
            throw new ModelWarmingUpException(
                id,
                (int)remaining,
                $"model '{id}' is warming up: a refit ends the warm-up early with a first fit on the rows received so far once there are {minimum} "
                + $"({(d.Kind == ModelKind.Hmm ? "states" : "components")} × (dimension + 1)) with every column observed at least twice; "
                + $"{remaining} more rows are needed ({status.WarmUpRemaining} for the automatic first fit)");
        }

        // Through the stream: the request is durable and ordered with the observations, so a replay makes the same decision.
        var counter = Counter(id);
        await Stream(id).OnNextAsync(new ModelStreamRecord
        {
            Kind = ModelRecordKind.RefitRequest, ProducerId = ProducerId, Sequence = counter.Next(), Generation = entry.Generation, Timestamp = time.GetUtcNow(),
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public IAsyncEnumerable<ModelEvent> SubscribeAsync(string? id, CancellationToken cancellationToken = default)
    {
        if (id is not null)
        {
            ModelInput.EnsureId(id);
        }

        return hub.SubscribeAsync(id, time, cancellationToken);
    }

    private async Task<AppendResult> AppendAsync<TRows>(
        string id, TRows rows, string? idempotencyKey, Func<int, TRows, (DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected)> validate,
        CancellationToken cancellationToken)
    {
        ModelInput.EnsureId(id);
        ModelInput.EnsureIdempotencyKey(idempotencyKey);
        var target = await AppendTargetAsync(id, dimension => validate(dimension, rows).Accepted is not null, cancellationToken).ConfigureAwait(false);
        if (!target.Exists)
        {
            // An unknown id under a template and a batch with no row the template would accept: the model is not created
            // and no answer is stored under the key (there is no model to hold it); a retry gets the same rejections.
            return new AppendResult(0, validate(target.Dimension, rows).Rejected);
        }

        if (idempotencyKey is null)
        {
            return await AppendValidatedAsync(id, target, validate(target.Dimension, rows), keyed: false, 0, null, cancellationToken).ConfigureAwait(false);
        }

        // One request per key at a time, so two concurrent retries cannot both append.
        var gate = _keyLocks.GetOrAdd((id, idempotencyKey), _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var validated = validate(target.Dimension, rows);
            var request = RequestFingerprint.Of(validated);
            var appends = validated.Accepted is { Rows: > 0 };
            // Refused before anything could be appended: the key is not taken, so the client may retry it with any batch.
            EnsureCanApply(id, target, appends);
            // The record identity this request appends under, taken before the key: a retry of a request that did not record its
            // answer (its process died, its client gave up) appends the same identity, and the producer window applies one copy.
            var counter = Counter(id);
            var identity = appends ? (ProducerId, counter.Next()) : default;
            // The key is taken in the registry (shared by the silos) before the append: the per-key lock above holds only in
            // this process, and two silos that both found the key free would both append and answer, while the grain applies
            // only the first batch it reads under the key (a different batch under the same key was acknowledged, never applied).
            var reservation = new StoredAnswer(request, null, identity.Item1, identity.Item2);
            var legacy = false;
            if (await registry.ReserveAnswerAsync(id, idempotencyKey, reservation, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                counter.GiveBack(identity.Item2); // unused: no gap in this producer's numbering when nothing came in between
                if (!stored.Request.Matches(validated))
                {
                    throw new ModelConflictException(
                        $"idempotency key '{idempotencyKey}' of model '{id}' was already used for a different batch (other rows, or rows rejected "
                        + "differently); a key names one batch, also when the request under it failed after reaching the stream, since its rows "
                        + "may still be applied: retry with the same rows, or send a different batch under a new key");
                }

                if (stored.Result is { } answered)
                {
                    return answered with { Replayed = true };
                }

                // Reserved for this very batch by a request that has not answered (still running, or its process died): append
                // it again under that request's identity; whichever copy the grain reads second is a duplicate in its window.
                // (A reservation without an identity, written before they existed, falls back to a new one and the key hash.)
                identity = stored.ProducerId is { } producer ? (producer, stored.Sequence) : appends ? (ProducerId, counter.Next()) : default;
                legacy = stored.ProducerId is null;
                if (stored.ProducerId is not null
                    && await RetryAsync(id, idempotencyKey, validated, request, identity, cancellationToken).ConfigureAwait(false) is { } known)
                {
                    return known;
                }
            }

            // The record carries the key's hash only for such a legacy reservation: its copies are appended under different
            // identities, and the grain tells them apart by the hash. Otherwise the identity alone makes the batch apply once,
            // and a hash in the record would let another key of the same 64-bit hash (a crafted one) drop this acknowledged
            // batch as a copy of its own.
            var keyHash = legacy ? ModelStreamRecord.HashKey(idempotencyKey) : 0;
            var result = await AppendValidatedAsync(id, target, validated, keyed: true, keyHash, identity.Item1 is null ? null : identity, cancellationToken)
                .ConfigureAwait(false);
            await registry.SaveAnswerAsync(id, idempotencyKey, new StoredAnswer(request, result), cancellationToken).ConfigureAwait(false);
            Answered(id, identity);
            return result;
        }
        finally
        {
            gate.Release();
            _keyLocks.TryRemove(new KeyValuePair<(string, string), SemaphoreSlim>((id, idempotencyKey), gate));
        }
    }

    /// <summary>
    /// The retry of a keyed request that reserved <paramref name="identity"/> and never recorded its answer, when the model's
    /// windows already know the outcome: applied (its answer is recorded now and returned), or no longer knowable (a 409, as
    /// appending again could apply the batch twice). Null: never applied, append it again under the same identity.
    /// </summary>
    private async Task<AppendResult?> RetryAsync(
        string id, string key, (DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) validated, RequestFingerprint request, (string Producer, long Sequence) identity,
        CancellationToken cancellationToken)
    {
        switch (await Control(id).JudgeRetryAsync(identity.Producer, identity.Sequence).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            case RetryVerdict.Seen:
                var answer = new AppendResult(validated.Accepted?.Rows ?? 0, validated.Rejected, identity.Sequence);
                await registry.SaveAnswerAsync(id, key, new StoredAnswer(request, answer), cancellationToken).ConfigureAwait(false);
                Answered(id, identity);
                return answer with { Replayed = true };
            case RetryVerdict.Unknowable:
                // Final: the windows never learn again what they forgot (the evicted mark stays, the forgotten mark only rises), so every later retry under the key is this 409 and none appends: the "rows already counted" mark of a
                // first attempt in this process would otherwise stay for the life of the process.
                Answered(id, identity);
                throw new ModelConflictException(
                    $"idempotency key '{key}' of model '{id}' was taken by a request that never recorded its answer, and model '{id}' can no "
                    + $"longer tell whether that batch was applied (it has forgotten a producer, as it does with more than "
                    + $"{ProducerWindows.RecentProducers} of them, or more than {ProducerWindows.MaxMissingRanges} gaps in that producer's later records): appending it again could apply it "
                    + "twice. Check the model's observations before sending it under a new key");
            default:
                return null;
        }
    }

    /// <summary>A keyed record is answered: no retry of it will append again, so its "rows already counted" mark can go.</summary>
    private void Answered(string id, (string? Producer, long Sequence) identity)
    {
        if (identity.Producer == ProducerId)
        {
            _unanswered.TryRemove((id, identity.Sequence), out _);
        }
    }

    /// <summary>
    /// A model that cannot apply (its stored state is unreadable) refuses a batch with rows to append: the client keeps its rows
    /// and is told why, instead of a 200 for rows that would wait, unapplied, in the log or the queue until an operator restores it.
    /// </summary>
    private static void EnsureCanApply(string id, AppendTarget target, bool appends)
    {
        if (appends && target.Failure is { } failure)
        {
            throw new ModelUnavailableException(id, failure);
        }
    }

    // identity: the record's producer id and sequence, a keyed request's reserved one; null: this producer's next.
    private async Task<AppendResult> AppendValidatedAsync(
        string id, AppendTarget target, (DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) validated, bool keyed, ulong keyHash,
        (string Producer, long Sequence)? identity, CancellationToken cancellationToken)
    {
        var (accepted, rejected) = validated;
        if (accepted is null || accepted.Rows == 0)
        {
            return new AppendResult(0, rejected);
        }

        EnsureCanApply(id, target, appends: true);
        var counter = Counter(id);
        var (producer, sequence) = identity ?? (ProducerId, counter.Next());
        // Rows this producer appends count toward its pending rows once; a retry of its own unanswered record whose first copy
        // reached the stream counted them already (the grain applies one copy). Another producer's identity (a retry of a
        // request a dead process took) is not counted here: its rows are that producer's, in the grain's outstanding count.
        var count = producer == ProducerId && !_unanswered.ContainsKey((id, sequence));
        var values = ModelStreamRecord.Pack(accepted.Values);
        // Answered only once OnNextAsync completed: the provider has made the record durable.
        await Stream(id).OnNextAsync(new ModelStreamRecord
        {
            Kind = ModelRecordKind.Observations, ProducerId = producer, Sequence = sequence, Generation = target.Generation, Timestamp = time.GetUtcNow(),
            KeyHash = keyHash, PackedValues = values, Columns = accepted.Columns,
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (producer != ProducerId)
        {
            // Nobody live counts another (dead) producer's rows: the grain counts them outstanding until it applies them.
            await Control(id).ExpectAsync(producer, sequence, accepted.Rows).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (count)
        {
            counter.Accepted(target.Generation, accepted.Rows);
            if (keyed)
            {
                // Until the answer is recorded, a retry in this process must not count these rows again.
                _unanswered[(id, sequence)] = 0;
            }
        }

        return new AppendResult(accepted.Rows, rejected, sequence);
    }

    private async Task<ModelStatus> StatusAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            var progress = await Control(id).GetProgressAsync(ProducerId).WaitAsync(cancellationToken).ConfigureAwait(false);
            return progress.Status is null ? throw new ModelNotFoundException(id) : StatusOf(id, progress);
        }
        catch (Exception e) when (e is not (ModelNotFoundException or OperationCanceledException))
        {
            // One model whose state cannot be read (its activation fails) is reported failed; the others still list.
            return new ModelStatus { Observations = 0, WarmingUp = true, Failure = e.Message };
        }
    }

    /// <summary>
    /// What an append needs, from the model's grain (one interleaved call, no registry read). A grain that knows no definition
    /// hands over to the registry path: 404 or creation from a template exactly as before, then the grain is brought up to date
    /// (it may have missed the reload of a write whose process died) and asked again. A template creates the model only for
    /// a batch <paramref name="anyAccepted"/> says has a row of the template's dimension to keep: a batch rejected whole
    /// (every row of the wrong width or all missing) creates nothing, and the answer is a target that does not exist.
    /// </summary>
    private async Task<AppendTarget> AppendTargetAsync(string id, Func<int, bool> anyAccepted, CancellationToken cancellationToken)
    {
        var target = await Control(id).GetAppendTargetAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (target.Exists)
        {
            return target;
        }

        if (templates.Match(id) is { } template && !anyAccepted(template.Dimension)
            && await registry.GetAsync(id, cancellationToken).ConfigureAwait(false) is null)
        {
            return AppendTarget.Missing with { Dimension = template.Dimension };
        }

        await RequireAsync(id, createFromTemplate: true, cancellationToken).ConfigureAwait(false);
        target = await Control(id).SyncAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        // Deleted between the registry read and the grain's: as if the registry had answered first.
        return target.Exists ? target : throw new ModelNotFoundException(id);
    }

    private async Task<RegistryEntry> RequireAsync(string id, bool createFromTemplate, CancellationToken cancellationToken)
    {
        ModelInput.EnsureId(id);
        if (await registry.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            return entry;
        }

        if (createFromTemplate && templates.Match(id) is { } template)
        {
            var (outcome, created) = await registry.PutAsync(id, template, onlyIfAbsent: true, cancellationToken).ConfigureAwait(false);
            if (outcome == PutModelOutcome.Created)
            {
                await Control(id).ReloadAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Created, Time = time.GetUtcNow(), Message = "template" });
            }

            return created;
        }

        throw new ModelNotFoundException(id);
    }

    private async Task<RowsView> QueryRowsAsync(string id, DataMatrix rows, CancellationToken cancellationToken, bool hmmOnly = false, bool allowEmptyRows = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        if (hmmOnly && entry.Definition.Kind != ModelKind.Hmm)
        {
            throw new ModelValidationException("kind", $"model '{id}' is a gmm; regimes exist only for an hmm");
        }

        ModelInput.EnsureQueryRows(rows, entry.Definition.Dimension, allowEmptyRows);
        return new RowsView(rows.Values.ToArray(), rows.Rows, rows.Columns);
    }

    /// <summary>A grain query; the grain's "does not exist" (deleted meanwhile) becomes <see cref="ModelNotFoundException"/>.</summary>
    private async Task<T> CallAsync<T>(string id, Func<IModelGrain, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(client.GetGrain<IModelGrain>(id)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (KeyNotFoundException)
        {
            throw new ModelNotFoundException(id);
        }
        catch (ModelFailedException e)
        {
            // One model whose stored state cannot be read: unavailable until an operator restores it (503 naming why), not a bug.
            throw new ModelUnavailableException(id, e.Reason);
        }
        catch (Exception e) when (e is Providers.Storage.CorruptGrainStateException || e.InnerException is Providers.Storage.CorruptGrainStateException)
        {
            throw new ModelUnavailableException(id, $"its stored state is corrupt: {(e.InnerException ?? e).Message}");
        }
    }

    /// <summary>A model's status from its progress, with the rows pending counted for this producer.</summary>
    private ModelStatus StatusOf(string id, ModelProgress progress, bool ownRows = true)
    {
        var own = ownRows && _counters.TryGetValue(id, out var counter) ? counter.PendingRows(progress.Generation, progress.ProducerRows) : 0;
        // Rows other producers (a previous process) left in the log are counted by the grain from the log at activation.
        var pending = own + progress.OutstandingRows;
        // Azure Queues cannot be read back: until the grain has read its catch-up marker (appended once every message a dead
        // silo had taken is visible again), at least one row is pending, so "wait until pending is 0" stays correct.
        if (progress.CatchingUp)
        {
            pending = Math.Max(pending, 1);
        }

        return progress.Status! with { PendingObservations = pending };
    }

    private IModelControlGrain Control(string id) => client.GetGrain<IModelControlGrain>(id);

    /// <summary>
    /// The model's stream as <c>object</c>, as the grain produces on it too: Orleans allows one element type per stream in a
    /// process, and the stream carries our records and external producers' <see cref="ObservationBatch"/>es.
    /// </summary>
    private IAsyncStream<object> Stream(string id) => _streams.GetStream<object>(StreamId.Create(ModelStreams.Namespace, id));

    private ProducerCounter Counter(string id) => _counters.GetOrAdd(id, static _ => new ProducerCounter());

    private static SnapshotInfo Info(SnapshotVersion v) => new(v.Version, v.Timestamp, v.Observations, v.Size, v.Reason ?? "Unknown");

    /// <summary>
    /// This producer's numbering of one model's records, and the rows it appended to the model's newest definition generation
    /// it appended to: rows of an older generation (before a DELETE and re-creation, or a reset) are inert, never pending.
    /// </summary>
    private sealed class ProducerCounter
    {
        private readonly Lock _lock = new();
        private long _sequence;
        private long _generation;
        private long _acceptedRows;

        /// <summary>Rows appended to <paramref name="generation"/> not yet applied, given the rows the grain applied of it.</summary>
        public long PendingRows(long generation, long appliedRows)
        {
            lock (_lock)
            {
                return _generation == generation ? Math.Max(0, _acceptedRows - appliedRows) : _generation > generation ? _acceptedRows : 0;
            }
        }

        public long Next() => Interlocked.Increment(ref _sequence);

        /// <summary>Takes back <paramref name="sequence"/> if it is still the last one handed out (else it stays a gap).</summary>
        public void GiveBack(long sequence) => Interlocked.CompareExchange(ref _sequence, sequence - 1, sequence);

        public void Accepted(long generation, int rows)
        {
            lock (_lock)
            {
                if (generation > _generation)
                {
                    (_generation, _acceptedRows) = (generation, 0);
                }

                if (generation == _generation)
                {
                    _acceptedRows += rows;
                }
            }
        }
    }
}
