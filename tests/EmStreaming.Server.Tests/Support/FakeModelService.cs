using EmStreaming.Grains.Observations;
using System.Collections.Concurrent;
using System.Threading.Channels;
using EmStreaming.Grains;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Server.Tests.Support;

/// <summary>
/// Test double of <see cref="IModelService"/> for the HTTP-mapping tests only: keeps rows in memory and fits the
/// numerical core in batch on demand, so answers have the right shapes and plausible values. The real service is
/// the silo (model grains); end-to-end and browser tests run against that.
/// </summary>
internal sealed class FakeModelService : IModelService
{
    public const int WarmUpRows = 50;
    public const string TemplatePrefix = "tmpl:";

    private readonly ConcurrentDictionary<string, Model> _models = new(StringComparer.Ordinal);
    private readonly List<Channel<ModelEvent>> _subscribers = [];
    private readonly Lock _gate = new();

    /// <summary>When set, the next call of the named method throws it (then it is cleared).</summary>
    public ConcurrentDictionary<string, Exception> FailNext { get; } = new();

    public int AppendCalls;
    public int RefitCalls;

    public Task<PutModelOutcome> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default)
    {
        Fail(nameof(PutModelAsync));
        if (definition.Dimension is < 1 or > 64)
        {
            throw new ModelValidationException("dimension", "must be between 1 and 64");
        }

        if (definition.Components is < 1 or > 32)
        {
            throw new ModelValidationException("components", "must be between 1 and 32");
        }

        if (_models.TryGetValue(id, out var existing))
        {
            if (existing.Definition == definition)
            {
                return Task.FromResult(PutModelOutcome.Unchanged);
            }

            _models[id] = new Model(id, definition);
            return Task.FromResult(PutModelOutcome.Replaced);
        }

        _models[id] = new Model(id, definition);
        Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Created, Time = DateTimeOffset.UtcNow });
        return Task.FromResult(PutModelOutcome.Created);
    }

    public Task<ModelInfo> GetModelAsync(string id, CancellationToken cancellationToken = default)
    {
        Fail(nameof(GetModelAsync));
        var m = Find(id);
        lock (m)
        {
            return Task.FromResult(new ModelInfo(id, m.Definition, m.Status(), m.CreatedAt));
        }
    }

    /// <summary>Calls of <see cref="ListModelsAsync"/> so far.</summary>
    public int ListCalls => Volatile.Read(ref _listCalls);

    private int _listCalls;

    public Task<ModelPage> ListModelsAsync(string? prefix, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _listCalls);
        Fail(nameof(ListModelsAsync));
        var ids = _models.Keys.Where(k => prefix is null || k.StartsWith(prefix, StringComparison.Ordinal))
            .Where(k => cursor is null || string.CompareOrdinal(k, cursor) > 0).Order(StringComparer.Ordinal).ToList();
        var page = ids.Take(limit).Select(id => GetModelAsync(id).Result).ToList();
        return Task.FromResult(new ModelPage(page, ids.Count > limit ? page[^1].Id : null));
    }

    /// <summary>Calls of <see cref="CensusAsync"/> so far.</summary>
    public int CensusCalls => Volatile.Read(ref _censusCalls);

    private int _censusCalls;

    /// <summary>Every model counts as active here: the fake has no grains to activate.</summary>
    public Task<ModelCensus> CensusAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _censusCalls);
        Fail(nameof(CensusAsync));
        var ids = _models.Keys.Order(StringComparer.Ordinal).ToList();
        return Task.FromResult(new ModelCensus(ids, ids.Select(id => GetModelAsync(id).Result).ToList()));
    }

    public Task CheckReadyAsync(CancellationToken cancellationToken = default)
    {
        Fail(nameof(CheckReadyAsync));
        return Task.CompletedTask;
    }

    public Task<bool> DeleteModelAsync(string id, CancellationToken cancellationToken = default)
    {
        Fail(nameof(DeleteModelAsync));
        return Task.FromResult(_models.TryRemove(id, out _));
    }

    /// <summary>Like the real service: the key rule and each row's width are checked here (the edge only parses).</summary>
    public async Task<AppendResult> AppendRowsAsync(string id, IReadOnlyList<double[]> rows, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ModelInput.EnsureIdempotencyKey(idempotencyKey);
        var dimension = _models.TryGetValue(id, out var existing) ? existing.Definition.Dimension : rows.Count > 0 ? rows[0].Length : 0;
        var kept = Enumerable.Range(0, rows.Count).Where(i => rows[i].Length == dimension).ToList();
        var rejected = Enumerable.Range(0, rows.Count).Where(i => rows[i].Length != dimension)
            .Select(i => new RejectedRow(i, $"row has {rows[i].Length} values; the model's dimension is {dimension}")).ToList();
        if (kept.Count == 0)
        {
            return new AppendResult(0, rejected);
        }

        var values = new double[kept.Count * dimension];
        for (var r = 0; r < kept.Count; r++)
        {
            rows[kept[r]].CopyTo(values, r * dimension);
        }

        var result = await AppendAsync(id, new DataMatrix(values, kept.Count, dimension), idempotencyKey, cancellationToken);
        rejected.AddRange(result.Rejected.Select(r => new RejectedRow(kept[r.Index], r.Reason)));
        rejected.Sort((a, b) => a.Index.CompareTo(b.Index));
        return result with { Rejected = rejected };
    }

    public Task<AppendResult> AppendAsync(string id, DataMatrix rows, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        Fail(nameof(AppendAsync));
        Interlocked.Increment(ref AppendCalls);
        if (!_models.TryGetValue(id, out var m))
        {
            if (!id.StartsWith(TemplatePrefix, StringComparison.Ordinal))
            {
                throw new ModelNotFoundException(id);
            }

            m = _models.GetOrAdd(id, _ => new Model(id, new ModelDefinition { Kind = ModelKind.Gmm, Dimension = rows.Columns, Components = 2 }));
        }

        if (rows.Columns != m.Definition.Dimension)
        {
            throw new ModelValidationException("rows", $"rows have {rows.Columns} columns; the model's dimension is {m.Definition.Dimension}");
        }

        var wasWarm = false;
        AppendResult result;
        lock (m)
        {
            var fingerprint = string.Join(',', rows.Values.ToArray());
            if (idempotencyKey is not null && m.Idempotency.TryGetValue(idempotencyKey, out var previous))
            {
                if (previous.Fingerprint != fingerprint)
                {
                    throw new ModelConflictException($"idempotency key '{idempotencyKey}' was used with another batch");
                }

                return Task.FromResult(previous.Result with { Replayed = true });
            }

            wasWarm = m.Rows.Count >= WarmUpRows;
            var rejected = new List<RejectedRow>();
            var accepted = 0;
            for (var i = 0; i < rows.Rows; i++)
            {
                var row = rows.Row(i);
                if (!row.ContainsAnyExcept(double.NaN))
                {
                    rejected.Add(new RejectedRow(i, "no observed value"));
                    continue;
                }

                m.Rows.Add(row.ToArray());
                accepted++;
            }

            if (m.Rows.Count > 5_000)
            {
                m.FirstObservation += m.Rows.Count - 5_000;
                m.Rows.RemoveRange(0, m.Rows.Count - 5_000);
            }

            m.Observations += accepted;
            m.LastObservationAt = DateTimeOffset.UtcNow;
            result = new AppendResult(accepted, rejected);
            if (idempotencyKey is not null)
            {
                m.Idempotency[idempotencyKey] = (fingerprint, result);
            }

            if (m.Observations / 200 > m.Snapshots.Count && m.Rows.Count >= WarmUpRows)
            {
                var state = m.State();
                m.Snapshots.Add(new SnapshotView(new SnapshotInfo(m.Snapshots.Count + 1, DateTimeOffset.UtcNow, m.Observations, 1_000, "policy"), state));
                m.LastSnapshotAt = DateTimeOffset.UtcNow;
            }
        }

        if (!wasWarm && m.Rows.Count >= WarmUpRows)
        {
            Publish(new ModelEvent { ModelId = id, Type = ModelEventType.Ready, Time = DateTimeOffset.UtcNow, Observations = m.Observations });
        }

        if (m.Definition.Kind == ModelKind.Hmm && m.Rows.Count >= WarmUpRows)
        {
            var regime = m.State().Regime;
            if (m.LastRegime is { } before && regime is { } after && before != after)
            {
                Publish(new ModelEvent { ModelId = id, Type = ModelEventType.RegimeChanged, Time = DateTimeOffset.UtcNow, FromRegime = before, ToRegime = after, Observations = m.Observations });
            }

            m.LastRegime = regime;
        }

        return Task.FromResult(result);
    }

    public Task<ModelStateView> GetStateAsync(string id, CancellationToken cancellationToken = default)
    {
        Fail(nameof(GetStateAsync));
        var m = Find(id);
        lock (m)
        {
            return Task.FromResult(m.State());
        }
    }

    public Task<RecentRows> GetRecentAsync(string id, int limit, CancellationToken cancellationToken = default)
    {
        Fail(nameof(GetRecentAsync));
        var m = Find(id);
        lock (m)
        {
            var take = Math.Min(limit, m.Rows.Count);
            var d = m.Definition.Dimension;
            var values = new double[take * d];
            for (var i = 0; i < take; i++)
            {
                m.Rows[m.Rows.Count - take + i].CopyTo(values, i * d);
            }

            return Task.FromResult(new RecentRows(new DataMatrix(values, take, d), m.FirstObservation + m.Rows.Count - take));
        }
    }

    public Task<PredictResult> PredictAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        Fail(nameof(PredictAsync));
        var m = Find(id);
        var gmm = m.Gmm() ?? throw new ModelWarmingUpException(id, WarmUpRows - m.Rows.Count);
        Check(m, rows);
        var k = gmm.Components;
        var p = new double[rows.Rows * k];
        var labels = new int[rows.Rows];
        var logDensity = new double[rows.Rows];
        gmm.PredictProba(rows, p);
        gmm.Predict(rows, labels);
        gmm.ScoreSamples(rows, logDensity);
        var tail = new double[rows.Rows];
        gmm.TailProbabilities(rows, tail);
        var probabilities = Enumerable.Range(0, rows.Rows).Select(i => p.AsSpan(i * k, k).ToArray()).ToArray();
        return Task.FromResult(new PredictResult(labels, probabilities, logDensity, [.. logDensity.Select(l => -l)], tail));
    }

    public Task<RegimeResult> FilterAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        Fail(nameof(FilterAsync));
        var m = Find(id);
        if (m.Definition.Kind != ModelKind.Hmm)
        {
            throw new ModelValidationException("id", "filter needs an hmm model");
        }

        var hmm = m.Hmm() ?? throw new ModelWarmingUpException(id, WarmUpRows - m.Rows.Count);
        Check(m, rows);
        var k = hmm.States;
        var p = new double[rows.Rows * k];
        var logLikelihood = hmm.Filter(rows, p);
        var probabilities = Enumerable.Range(0, rows.Rows).Select(i => p.AsSpan(i * k, k).ToArray()).ToArray();
        var regimes = probabilities.Select(row => Array.IndexOf(row, row.Max())).ToArray();
        var tail = new double[rows.Rows];
        hmm.TailProbabilities(rows, tail);
        return Task.FromResult(new RegimeResult(regimes, probabilities, logLikelihood / rows.Rows, tail));
    }

    public Task<DataMatrix> ImputeAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default)
    {
        Fail(nameof(ImputeAsync));
        var m = Find(id);
        var gmm = m.Gmm() ?? throw new ModelWarmingUpException(id, WarmUpRows - m.Rows.Count);
        Check(m, rows);
        return Task.FromResult(gmm.Impute(rows));
    }

    public Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default)
    {
        var m = Find(id);
        lock (m)
        {
            return Task.FromResult<IReadOnlyList<SnapshotInfo>>(m.Snapshots.Select(s => s.Info).ToList());
        }
    }

    public Task<SnapshotView> GetSnapshotAsync(string id, long? version, DateTimeOffset? at, CancellationToken cancellationToken = default)
    {
        var m = Find(id);
        lock (m)
        {
            var found = version is { } v
                ? m.Snapshots.FirstOrDefault(s => s.Info.Version == v)
                : m.Snapshots.LastOrDefault(s => s.Info.CreatedAt <= at);
            return found is null
                ? throw new SnapshotNotFoundException(id, version is null ? "time" : "version", $"model '{id}' has no snapshot {version?.ToString() ?? "at or before " + at?.ToString("O")}")
                : Task.FromResult(found);
        }
    }

    public Task<ModelStatus> RestoreSnapshotAsync(string id, long version, CancellationToken cancellationToken = default)
    {
        var m = Find(id);
        lock (m)
        {
            return m.Snapshots.Any(s => s.Info.Version == version)
                ? Task.FromResult(m.Status())
                : throw new SnapshotNotFoundException(id, "version", $"model '{id}' has no snapshot version {version}");
        }
    }

    public Task RefitAsync(string id, CancellationToken cancellationToken = default)
    {
        Fail(nameof(RefitAsync));
        var m = Find(id);
        if (m.Rows.Count < WarmUpRows)
        {
            throw new ModelWarmingUpException(id, WarmUpRows - m.Rows.Count);
        }

        Interlocked.Increment(ref RefitCalls);
        Publish(new ModelEvent { ModelId = id, Type = ModelEventType.RefitAdopted, Time = DateTimeOffset.UtcNow, Before = -3.5, After = -3.2, Observations = m.Observations });
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<ModelEvent> SubscribeAsync(string? id, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<ModelEvent>();
        lock (_gate)
        {
            _subscribers.Add(channel);
        }

        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (id is null || e.ModelId == id)
                {
                    yield return e;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }
        }
    }

    public int Subscribers
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    public void Publish(ModelEvent e)
    {
        lock (_gate)
        {
            foreach (var s in _subscribers)
            {
                s.Writer.TryWrite(e);
            }
        }
    }

    private void Fail(string method)
    {
        if (FailNext.TryRemove(method, out var e))
        {
            throw e;
        }
    }

    private Model Find(string id) => _models.TryGetValue(id, out var m) ? m : throw new ModelNotFoundException(id);

    private static void Check(Model m, DataMatrix rows)
    {
        if (rows.Columns != m.Definition.Dimension)
        {
            throw new ModelValidationException("rows", $"rows have {rows.Columns} values; the model's dimension is {m.Definition.Dimension}");
        }
    }

    private sealed class Model(string id, ModelDefinition definition)
    {
        private long _fittedAt = -1;
        private GaussianMixture? _gmm;
        private GaussianHmm? _hmm;

        public string Id { get; } = id;
        public ModelDefinition Definition { get; } = definition;
        public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;
        public List<double[]> Rows { get; } = [];
        public long FirstObservation { get; set; }
        public long Observations { get; set; }
        public DateTimeOffset? LastObservationAt { get; set; }
        public DateTimeOffset? LastSnapshotAt { get; set; }
        public int? LastRegime { get; set; }
        public List<SnapshotView> Snapshots { get; } = [];
        public Dictionary<string, (string Fingerprint, AppendResult Result)> Idempotency { get; } = [];

        public ModelStatus Status() => new()
        {
            Observations = Observations,
            WarmingUp = Rows.Count < WarmUpRows,
            WarmUpRemaining = Math.Max(0, WarmUpRows - Rows.Count),
            LastObservationAt = LastObservationAt,
            LastSnapshotAt = LastSnapshotAt,
            SnapshotVersion = Snapshots.Count == 0 ? null : Snapshots.Count,
            Active = true,
        };

        public GaussianMixture? Gmm()
        {
            lock (this)
            {
                Fit();
                return _gmm;
            }
        }

        public GaussianHmm? Hmm()
        {
            lock (this)
            {
                Fit();
                return _hmm;
            }
        }

        public ModelStateView State()
        {
            Fit();
            var k = Definition.Components;
            var d = Definition.Dimension;
            var view = new ModelStateView
            {
                Id = Id,
                Kind = Definition.Kind,
                Components = k,
                Dimension = d,
                Observations = Observations,
                WarmingUp = Rows.Count < WarmUpRows,
                UpdatedAt = LastObservationAt ?? CreatedAt,
            };
            if (_gmm is { } g)
            {
                return view with
                {
                    Weights = g.Weights.ToArray(),
                    Means = Nest(g.Means, k, d),
                    Covariances = [.. Enumerable.Range(0, k).Select(i => Nest(g.FullCovariance(i), d, d))],
                };
            }

            if (_hmm is { } h)
            {
                var recent = Recent(200);
                var p = new double[recent.Rows * k];
                h.Filter(recent, p);
                var last = p.AsSpan((recent.Rows - 1) * k, k).ToArray();
                return view with
                {
                    Weights = last,
                    Means = Nest(h.Means, k, d),
                    Covariances = [.. Enumerable.Range(0, k).Select(i => Nest(h.FullCovariance(i), d, d))],
                    StartProbabilities = h.StartProbabilities.ToArray(),
                    Transitions = Nest(h.Transitions, k, k),
                    RegimeProbabilities = last,
                    Regime = Array.IndexOf(last, last.Max()),
                    RegimeRunLength = 1,
                };
            }

            return view;
        }

        private static double[][] Nest(ReadOnlySpan<double> flat, int rows, int columns)
        {
            var result = new double[rows][];
            for (var i = 0; i < rows; i++)
            {
                result[i] = flat.Slice(i * columns, columns).ToArray();
            }

            return result;
        }

        private DataMatrix Recent(int count)
        {
            var complete = Rows.Where(r => !r.Contains(double.NaN)).TakeLast(count).ToList();
            var d = Definition.Dimension;
            var values = new double[complete.Count * d];
            for (var i = 0; i < complete.Count; i++)
            {
                complete[i].CopyTo(values, i * d);
            }

            return new DataMatrix(values, complete.Count, d);
        }

        private void Fit()
        {
            // Refit every 100 new rows (and never before the warm-up): plausible parameters, cheap enough for tests.
            if (Rows.Count < WarmUpRows || (_fittedAt >= 0 && Observations - _fittedAt < 100))
            {
                return;
            }

            var data = Recent(Definition.Kind == ModelKind.Gmm ? 1_000 : 400);
            if (Definition.Kind == ModelKind.Gmm)
            {
                _gmm = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = Definition.Components, Seed = Definition.Seed, WarmStart = _gmm, MaxIterations = 50 }).Model;
            }
            else
            {
                _hmm = GaussianHmmEM.Fit(data, new HmmFitOptions { States = Definition.Components, Seed = Definition.Seed, WarmStart = _hmm, MaxIterations = 30 }).Model;
            }

            _fittedAt = Observations;
        }
    }
}
