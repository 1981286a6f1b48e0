using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Grains.Models;

/// <summary>What a model grain publishes after each turn: immutable, read by queries without waiting for a turn.</summary>
internal sealed record PublishedModel(
    RegistryEntryView? Entry, string? Failure, long Observations, bool WarmingUp, int WarmUpRemaining, double? RecentMeanLogLikelihood,
    DateTimeOffset? LastObservationAt, DateTimeOffset? LastRefitAt, long Refits, long Anomalies, DateTimeOffset? LastSnapshotAt, long? SnapshotVersion,
    GaussianMixture? Gmm, GaussianHmm? Hmm, double[]? RegimeProbabilities, int? Regime, long? RegimeRunLength, DateTimeOffset UpdatedAt,
    RecentWindow? Recent, ModelHealth? Health = null, int EarlyFitRemaining = 0)
{
    public static readonly PublishedModel Missing = new(
        null, null, 0, true, 0, null, null, null, 0, 0, null, null, null, null, null, null, null, DateTimeOffset.MinValue, null);
}

/// <summary>The definition a published view was made with.</summary>
internal sealed record RegistryEntryView(ModelDefinition Definition, long Generation);

internal sealed partial class ModelGrain
{
    public Task<ModelStateView> GetStateAsync()
    {
        var p = Require();
        return Task.FromResult(ModelViews.State(Id, p.Entry!.Definition, p.Observations, p.WarmingUp, p.Gmm, p.Hmm, p.RegimeProbabilities, p.Regime, p.RegimeRunLength, p.UpdatedAt));
    }

    public Task<ModelStatus?> GetStatusAsync() => Task.FromResult(Status(_published));

    // Interleaved calls run on the activation's thread between turns' steps, so reading the windows here never races a turn.
    // Observations are read live too (not from the view published at the end of a turn): a call interleaved while a turn
    // awaits a snapshot write sees rows counted applied by the windows, and must see them in the observations as well, or
    // pending could read 0 before the observations reach what was accepted. The rows an early first fit still needs are read
    // live for the same reason: a refit request subtracts pending rows from them.
    public Task<ModelProgress> GetProgressAsync(string producerId) => Task.FromResult(Progress(producerId));

    private ModelProgress Progress(string producerId)
    {
        var status = Status(_published);
        if (status is not null && _core is not null && _failure is null)
        {
            status = status with { Observations = _core.Observations, EarlyFitRemaining = _core.EarlyFitRemaining };
        }

        return new ModelProgress(status, _windows.RowsOf(producerId), _catchUpNonce != 0, _outstanding.Excluding(producerId), _core?.Generation ?? 0);
    }

    public Task<RecentRowsView> GetRecentAsync(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        var p = Require();
        if (p.Recent is not { } window)
        {
            return Task.FromResult(new RecentRowsView(new RowsView([], 0, p.Entry!.Definition.Dimension), 0));
        }

        var (rows, first) = window.CopyLatest(limit);
        return Task.FromResult(new RecentRowsView(new RowsView(rows.Values.ToArray(), rows.Rows, rows.Columns), first));
    }

    public Task<PredictResult> PredictAsync(RowsView rows)
    {
        var (p, matrix) = QueryRows(rows);
        return Task.FromResult(ModelViews.Predict(Mixture(p), p.Hmm, matrix));
    }

    public Task<RegimeResult> FilterAsync(RowsView rows)
    {
        var (p, matrix) = QueryRows(rows);
        var hmm = p.Hmm ?? throw new ArgumentException($"model '{Id}' is a gmm; regimes exist only for an hmm", nameof(rows));
        return Task.FromResult(ModelViews.Filter(hmm, matrix, ModelCore.RegimeConfidence(p.Entry!.Definition)));
    }

    public Task<RowsView> ImputeAsync(RowsView rows)
    {
        var (p, matrix) = QueryRows(rows, allowEmptyRows: true);
        // An HMM's rows are a sequence that continues the live stream: each row's regime is judged from the rows around it
        // (no predictive mixture, and none of its K factorizations, is needed).
        var imputed = p is { Hmm: { } hmm, RegimeProbabilities: { } regimes }
            ? hmm.Impute(matrix, ModelViews.PredictedRegimes(hmm, regimes))
            : Mixture(p).Impute(matrix);
        return Task.FromResult(new RowsView(imputed.Values.ToArray(), imputed.Rows, imputed.Columns));
    }

    private PublishedModel Require()
    {
        var p = _published;
        if (p.Failure is { } failure)
        {
            throw new ModelFailedException(Id, failure);
        }

        return p.Entry is null ? throw new KeyNotFoundException($"model '{Id}' does not exist") : p;
    }

    /// <summary>The published model and the query's rows, checked against it; a model without parameters yet is warming up.</summary>
    private (PublishedModel, DataMatrix) QueryRows(RowsView rows, bool allowEmptyRows = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var p = Require();
        var matrix = new DataMatrix(rows.Values, rows.Rows, rows.Columns);
        Observations.ModelInput.EnsureQueryRows(matrix, p.Entry!.Definition.Dimension, allowEmptyRows);
        return p.Gmm is null && p.Hmm is null ? throw new ModelWarmingUpException(Id, p.WarmUpRemaining) : (p, matrix);
    }

    /// <summary>The mixture the next row is drawn from: the GMM itself, or an HMM's emissions weighted by its predicted regimes.</summary>
    private GaussianMixture Mixture(PublishedModel p) =>
        ModelViews.PredictiveMixture(p.Gmm, p.Hmm, p.RegimeProbabilities) ?? throw new ModelWarmingUpException(Id, p.WarmUpRemaining);

    private static ModelStatus? Status(PublishedModel p)
    {
        if (p.Failure is { } failure)
        {
            return new ModelStatus { Observations = 0, WarmingUp = true, Failure = failure, Active = true };
        }

        return p.Entry is null ? null : new ModelStatus
        {
            Observations = p.Observations, WarmingUp = p.WarmingUp, WarmUpRemaining = p.WarmUpRemaining, RecentMeanLogLikelihood = p.RecentMeanLogLikelihood,
            LastObservationAt = p.LastObservationAt, LastRefitAt = p.LastRefitAt, Refits = p.Refits, LastSnapshotAt = p.LastSnapshotAt,
            SnapshotVersion = p.SnapshotVersion, Anomalies = p.Anomalies, Active = true, Health = p.Health, EarlyFitRemaining = p.EarlyFitRemaining,
        };
    }

    private void Publish()
    {
        var core = _core;
        var entry = _entry is { } e ? new RegistryEntryView(e.Definition, e.Generation) : null;
        if (core is null)
        {
            _published = PublishedModel.Missing with
            {
                Entry = _failure is null ? entry : null, Failure = _failure, LastSnapshotAt = _lastSnapshotAt, SnapshotVersion = _snapshotVersion,
                UpdatedAt = _time.GetUtcNow(),
            };
            _board.Set(Id, this, Progress(_board.ProducerId));
            return;
        }

        GaussianMixture? gmm = null;
        core.Gmm?.TryGetModel(out gmm);
        var hmm = core.Hmm is { HasModel: true } h ? h.Model : null;
        _published = new PublishedModel(
            entry, null, core.Observations, core.WarmingUp, core.WarmUpRemaining, core.RecentMeanLogLikelihood, core.LastObservationAt, core.LastRefitAt, core.Refits,
            core.Anomalies, _lastSnapshotAt, _snapshotVersion, gmm, hmm, hmm is null ? null : core.Hmm!.RegimeProbabilities.ToArray(),
            hmm is null ? null : core.Hmm!.Regime, hmm is null ? null : core.Hmm!.RunLength, _time.GetUtcNow(), core.Window, core.Health, core.EarlyFitRemaining);
        _board.Set(Id, this, Progress(_board.ProducerId));
        _observer.Published(Id, core.Observations);
    }
}
