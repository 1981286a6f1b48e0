using System.Collections.Concurrent;
using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Events;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Observations;
using EmStreaming.Grains.Registry;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Runtime;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Grains.Service;

/// <summary>
/// <see cref="IModelService"/> over the silo: validates at the edge, appends to the model's stream (returning once
/// durable), and answers queries from the grain's published view without entering its mailbox.
/// </summary>
internal sealed class ModelService(ISilo silo, IModelRegistry registry, ModelTemplates templates, ModelEventHub hub, PendingObservations pending) : IModelService
{
    private readonly ConcurrentDictionary<(string, string), SemaphoreSlim> _keyLocks = new();

    public async Task<PutModelOutcome> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default)
    {
        ValidateId(id);
        ArgumentNullException.ThrowIfNull(definition);
        ModelDefinitionValidator.Validate(definition);
        var (outcome, _) = await registry.PutAsync(id, definition, onlyIfAbsent: false, cancellationToken).ConfigureAwait(false);
        if (outcome != PutModelOutcome.Unchanged)
        {
            await silo.AskAsync<object?>(GrainOf(id), new ReloadDefinition(), cancellationToken).ConfigureAwait(false);
            hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Created, Time = silo.TimeProvider.GetUtcNow(), Message = outcome.ToString() });
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

        var page = await registry.ListAsync(prefix, cursor, limit + 1, cancellationToken).ConfigureAwait(false);
        var models = new List<ModelInfo>(Math.Min(limit, page.Count));
        foreach (var entry in page.Take(limit))
        {
            models.Add(new ModelInfo(entry.Id, entry.Definition, await StatusAsync(entry.Id, cancellationToken).ConfigureAwait(false), entry.CreatedAt));
        }

        return new ModelPage(models, page.Count > limit ? models[^1].Id : null);
    }

    public async Task<bool> DeleteModelAsync(string id, CancellationToken cancellationToken = default)
    {
        ValidateId(id);
        if (!await registry.DeleteAsync(id, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await silo.AskAsync<object?>(GrainOf(id), new ReloadDefinition(), cancellationToken).ConfigureAwait(false);
        pending.Forget(id);
        hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Deleted, Time = silo.TimeProvider.GetUtcNow() });
        return true;
    }

    public async Task<AppendResult> AppendAsync(string id, DataMatrix rows, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (idempotencyKey is { Length: 0 or > 256 })
        {
            throw new ModelValidationException("idempotencyKey", "the idempotency key must be 1 to 256 characters");
        }

        var entry = await RequireAsync(id, createFromTemplate: true, cancellationToken).ConfigureAwait(false);
        if (idempotencyKey is null)
        {
            return await AppendValidatedAsync(id, entry, rows, 0, cancellationToken).ConfigureAwait(false);
        }

        // One request per key at a time, so two concurrent retries cannot both append.
        var gate = _keyLocks.GetOrAdd((id, idempotencyKey), _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var requestHash = HashRows(rows);
            if (await registry.GetAnswerAsync(id, idempotencyKey, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                return stored.RequestHash == requestHash
                    ? stored.Result with { Replayed = true }
                    : throw new ModelConflictException($"idempotency key '{idempotencyKey}' was already used for a different batch of model '{id}'");
            }

            // The key travels in the appended record too: if the process dies after the append but before the answer is
            // recorded, the retry appends again and the grain, remembering the key, applies the batch once.
            var result = await AppendValidatedAsync(id, entry, rows, ModelRecord.HashKey(idempotencyKey), cancellationToken).ConfigureAwait(false);
            await registry.SaveAnswerAsync(id, idempotencyKey, new StoredAnswer(requestHash, result), cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            gate.Release();
            _keyLocks.TryRemove(new KeyValuePair<(string, string), SemaphoreSlim>((id, idempotencyKey), gate));
        }
    }

    public async Task<ModelStateView> GetStateAsync(string id, CancellationToken cancellationToken = default)
    {
        var published = await PublishedAsync(id, cancellationToken).ConfigureAwait(false);
        return ToView(id, published.Entry!.Definition, published.Observations, published.WarmingUp, published.Gmm, published.Hmm, published.RegimeProbabilities, published.Regime, published.RegimeRunLength, published.UpdatedAt);
    }

    public async Task<RecentRows> GetRecentAsync(string id, int limit, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 10_000)
        {
            throw new ModelValidationException("limit", "limit must be between 1 and 10000");
        }

        // From the published view: the window is read under its sequence lock, never behind the grain's turn.
        var published = await PublishedAsync(id, cancellationToken).ConfigureAwait(false);
        if (published.Recent is not { } window)
        {
            return new RecentRows(new DataMatrix([], 0, published.Entry!.Definition.Dimension), 0);
        }

        var (rows, first) = window.CopyLatest(limit);
        return new RecentRows(rows, first);
    }

    public async Task<PredictResult> PredictAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var (published, mixture) = await MixtureAsync(id, rows, cancellationToken).ConfigureAwait(false);
        int n = rows.Rows, k = mixture.Components;
        var logDensity = new double[n];
        mixture.ScoreSamples(rows, logDensity);
        var resp = new double[n * k];
        var labels = new int[n];
        if (published.Hmm is { } hmm)
        {
            hmm.Filter(rows, resp);
        }
        else
        {
            mixture.PredictProba(rows, resp);
        }

        var probabilities = new double[n][];
        var anomaly = new double[n];
        for (var i = 0; i < n; i++)
        {
            probabilities[i] = resp.AsSpan(i * k, k).ToArray();
            labels[i] = ArgMax(probabilities[i]);
            anomaly[i] = -logDensity[i];
        }

        return new PredictResult(labels, probabilities, logDensity, anomaly);
    }

    public async Task<RegimeResult> FilterAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var (published, _) = await MixtureAsync(id, rows, cancellationToken).ConfigureAwait(false);
        var hmm = published.Hmm ?? throw new ModelValidationException("kind", $"model '{id}' is a gmm; regimes exist only for an hmm");
        int n = rows.Rows, k = hmm.States;
        var probabilities = new double[n * k];
        var logLikelihood = hmm.Filter(rows, probabilities);
        var result = new double[n][];
        var regimes = new int[n];
        for (var i = 0; i < n; i++)
        {
            result[i] = probabilities.AsSpan(i * k, k).ToArray();
            regimes[i] = ArgMax(result[i]);
        }

        return new RegimeResult(regimes, result, n == 0 ? 0 : logLikelihood / n);
    }

    public async Task<DataMatrix> ImputeAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        var (_, mixture) = await MixtureAsync(id, rows, cancellationToken).ConfigureAwait(false);
        return mixture.Impute(rows);
    }

    public async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var grain = GrainOf(id);
        var list = new List<SnapshotInfo>();
        foreach (var info in await silo.Snapshots.ListHistoryAsync(grain, cancellationToken).ConfigureAwait(false))
        {
            if (await silo.Snapshots.ReadVersionAsync(grain, info.Version, cancellationToken).ConfigureAwait(false) is { } snapshot)
            {
                list.Add(Describe(entry, snapshot).Info);
            }
        }

        return list;
    }

    public async Task<SnapshotView> GetSnapshotAsync(string id, long? version, DateTimeOffset? at, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var grain = GrainOf(id);
        var snapshot = version is { } v ? await silo.Snapshots.ReadVersionAsync(grain, v, cancellationToken).ConfigureAwait(false)
            : at is { } t ? await silo.Snapshots.ReadAtAsync(grain, t, cancellationToken).ConfigureAwait(false)
            : await silo.Snapshots.ReadAsync(grain, cancellationToken).ConfigureAwait(false);
        if (snapshot is null)
        {
            throw new ModelValidationException(version is not null ? "version" : "at", $"model '{id}' has no such snapshot");
        }

        return Describe(entry, snapshot);
    }

    public async Task RefitAsync(string id, CancellationToken cancellationToken = default)
    {
        var entry = await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        // Through the log: the request is durable and ordered with the observations, so a replay makes the same decision.
        await silo.Streams.AppendAsync(new StreamId(ModelGrain.StreamNamespace, id), ModelRecord.EncodeRefitRequest(entry.Generation), cancellationToken).ConfigureAwait(false);
    }

    public IAsyncEnumerable<ModelEvent> SubscribeAsync(string? id, CancellationToken cancellationToken = default)
    {
        if (id is not null)
        {
            ValidateId(id);
        }

        return hub.SubscribeAsync(id, silo.TimeProvider, cancellationToken);
    }

    private async Task<AppendResult> AppendValidatedAsync(string id, RegistryEntry entry, DataMatrix rows, ulong keyHash, CancellationToken cancellationToken)
    {
        var (accepted, rejected) = ObservationValidator.Validate(rows, entry.Definition.Dimension);
        if (accepted is null || accepted.Rows == 0)
        {
            return new AppendResult(0, rejected);
        }

        var position = await silo.Streams.AppendAsync(
            new StreamId(ModelGrain.StreamNamespace, id), ModelRecord.EncodeObservations(entry.Generation, keyHash, accepted), cancellationToken).ConfigureAwait(false);
        pending.Accepted(id, position.Position, accepted.Rows);
        return new AppendResult(accepted.Rows, rejected, position.Position);
    }

    private async Task<RegistryEntry> RequireAsync(string id, bool createFromTemplate, CancellationToken cancellationToken)
    {
        ValidateId(id);
        if (await registry.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            return entry;
        }

        if (createFromTemplate && templates.Match(id) is { } template)
        {
            var (outcome, created) = await registry.PutAsync(id, template, onlyIfAbsent: true, cancellationToken).ConfigureAwait(false);
            if (outcome == PutModelOutcome.Created)
            {
                await silo.AskAsync<object?>(GrainOf(id), new ReloadDefinition(), cancellationToken).ConfigureAwait(false);
                hub.Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Created, Time = silo.TimeProvider.GetUtcNow(), Message = "template" });
            }

            return created;
        }

        throw new ModelNotFoundException(id);
    }

    private async Task<PublishedModel> PublishedAsync(string id, CancellationToken cancellationToken)
    {
        await RequireAsync(id, createFromTemplate: false, cancellationToken).ConfigureAwait(false);
        var published = await silo.QueryViewAsync<PublishedModel>(GrainOf(id), cancellationToken).ConfigureAwait(false);
        return published is { Entry: not null } ? published : throw new ModelNotFoundException(id);
    }

    private async Task<(PublishedModel, GaussianMixture)> MixtureAsync(string id, DataMatrix rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var published = await PublishedAsync(id, cancellationToken).ConfigureAwait(false);
        var definition = published.Entry!.Definition;
        if (rows.Columns != definition.Dimension)
        {
            throw new ModelValidationException("rows", $"rows have {rows.Columns} values; the model's dimension is {definition.Dimension}");
        }

        for (var i = 0; i < rows.Rows; i++)
        {
            if (ObservationValidator.Check(rows.Row(i)) is { } reason)
            {
                throw new ModelValidationException($"rows[{i}]", reason);
            }
        }

        if (published.Gmm is { } gmm)
        {
            return (published, gmm);
        }

        if (published.Hmm is { } hmm)
        {
            // Predictive mixture of the next row: the emissions weighted by p(next state | rows so far).
            var k = hmm.States;
            var weights = new double[k];
            var phi = published.RegimeProbabilities!;
            var a = hmm.Transitions;
            for (var i = 0; i < k; i++)
            {
                for (var j = 0; j < k; j++)
                {
                    weights[j] += phi[i] * a[(i * k) + j];
                }
            }

            var total = weights.Sum();
            for (var j = 0; j < k; j++)
            {
                weights[j] /= total;
            }

            return (published, GaussianMixture.Create(weights, hmm.Means, hmm.Covariances, k, hmm.Dimension, hmm.CovarianceType));
        }

        throw new ModelWarmingUpException(id, published.WarmUpRemaining);
    }

    private async Task<ModelStatus> StatusAsync(string id, CancellationToken cancellationToken)
    {
        var p = await silo.QueryViewAsync<PublishedModel>(GrainOf(id), cancellationToken).ConfigureAwait(false);
        return p is null
            ? new ModelStatus { Observations = 0, WarmingUp = true }
            : new ModelStatus
            {
                Observations = p.Observations, WarmingUp = p.WarmingUp, WarmUpRemaining = p.WarmUpRemaining, RecentMeanLogLikelihood = p.RecentMeanLogLikelihood,
                LastObservationAt = p.LastObservationAt, LastRefitAt = p.LastRefitAt, Refits = p.Refits, LastSnapshotAt = p.LastSnapshotAt,
                SnapshotVersion = p.SnapshotVersion, Anomalies = p.Anomalies, Active = true, PendingObservations = pending.Get(id), Health = p.Health,
            };
    }

    private static SnapshotView Describe(RegistryEntry entry, Runtime.Storage.GrainSnapshot snapshot)
    {
        var data = snapshot.Data.Span;
        var reason = data.Length > 0 ? ((SnapshotReason)data[0]).ToString() : "Unknown";
        var core = data.Length > 1 ? ModelCore.Restore(entry.Definition, data[1..]) : new ModelCore(entry.Definition, entry.Generation);
        GaussianMixture? gmm = null;
        core.Gmm?.TryGetModel(out gmm);
        var hmm = core.Hmm is { HasModel: true } h ? h.Model : null;
        var state = ToView(
            snapshot.Id.Key, entry.Definition, core.Observations, core.WarmingUp, gmm, hmm, hmm is null ? null : core.Hmm!.RegimeProbabilities.ToArray(),
            hmm is null ? null : core.Hmm!.Regime, hmm is null ? null : core.Hmm!.RunLength, snapshot.Timestamp);
        return new SnapshotView(new SnapshotInfo(snapshot.Version, snapshot.Timestamp, core.Observations, snapshot.Data.Length, reason), state);
    }

    private static ModelStateView ToView(
        string id, ModelDefinition definition, long observations, bool warmingUp, GaussianMixture? gmm, Numerics.Hmm.GaussianHmm? hmm,
        double[]? regimeProbabilities, int? regime, long? runLength, DateTimeOffset updatedAt)
    {
        var k = definition.Components;
        double[]? weights = null, means = null, covariances = null, start = null, transitions = null;
        if (gmm is not null)
        {
            weights = gmm.Weights.ToArray();
            means = gmm.Means.ToArray();
            covariances = [.. Enumerable.Range(0, k).SelectMany(gmm.FullCovariance)];
        }
        else if (hmm is not null)
        {
            start = hmm.StartProbabilities.ToArray();
            transitions = hmm.Transitions.ToArray();
            weights = regimeProbabilities;
            means = hmm.Means.ToArray();
            covariances = [.. Enumerable.Range(0, k).SelectMany(hmm.FullCovariance)];
        }

        return new ModelStateView
        {
            Id = id, Kind = definition.Kind, Components = k, Dimension = definition.Dimension, Observations = observations, WarmingUp = warmingUp,
            Weights = weights, Means = means, Covariances = covariances, StartProbabilities = start, Transitions = transitions,
            RegimeProbabilities = regimeProbabilities, Regime = regime, RegimeRunLength = runLength, UpdatedAt = updatedAt,
        };
    }

    private static void ValidateId(string id)
    {
        if (GrainKey.FindProblem(id) is { } problem)
        {
            throw new ModelValidationException("id", $"invalid model id: {problem}");
        }
    }

    private static Runtime.GrainId GrainOf(string id) => new(ModelGrain.GrainType, id);

    private static int ArgMax(double[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static ulong HashRows(DataMatrix rows)
    {
        var hash = 14695981039346656037UL ^ (ulong)rows.Columns;
        foreach (var v in rows.Values)
        {
            hash = (hash ^ BitConverter.DoubleToUInt64Bits(v)) * 1099511628211UL;
        }

        return hash;
    }
}
