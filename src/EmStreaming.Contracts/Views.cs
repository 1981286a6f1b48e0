namespace EmStreaming.Contracts;

/// <summary>
/// A model's parameters as published after its last turn. Means are K×d, covariances K×d×d (always full, whatever the
/// covariance type), transitions K×K. Null while the model warms up.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelStateView
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required ModelKind Kind { get; init; }
    [Id(2)] public required int Components { get; init; }
    [Id(3)] public required int Dimension { get; init; }
    [Id(4)] public required long Observations { get; init; }
    [Id(5)] public required bool WarmingUp { get; init; }

    /// <summary>Mixture weights (gmm) or the filtered regime probabilities (hmm); null while warming up.</summary>
    [Id(6)] public double[]? Weights { get; init; }
    [Id(7)] public double[][]? Means { get; init; }
    [Id(8)] public double[][][]? Covariances { get; init; }

    // HMM only.
    [Id(9)] public double[]? StartProbabilities { get; init; }
    [Id(10)] public double[][]? Transitions { get; init; }

    /// <summary>Filtered p(state | observations so far).</summary>
    [Id(11)] public double[]? RegimeProbabilities { get; init; }

    /// <summary>Most likely current state, and for how many consecutive rows it has been the most likely.</summary>
    [Id(12)] public int? Regime { get; init; }
    [Id(13)] public long? RegimeRunLength { get; init; }

    [Id(14)] public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Status of a model, as <c>GET /v1/models/{id}</c> reports it.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelStatus
{
    /// <summary>Rows applied to the model.</summary>
    [Id(0)] public required long Observations { get; init; }

    /// <summary>
    /// Rows accepted (durable on the model's stream) but not yet applied, including those a previous process accepted that
    /// are replayed after a restart (counted from the log; with Azure Queue streams, at least 1 while the model may still be
    /// reading them), so 0 means every acknowledged row is applied.
    /// </summary>
    [Id(1)] public long PendingObservations { get; init; }

    /// <summary>True until the model has buffered enough rows for its initial batch fit.</summary>
    [Id(2)] public required bool WarmingUp { get; init; }

    /// <summary>Rows still needed before the first fit (0 once warm).</summary>
    [Id(3)] public int WarmUpRemaining { get; init; }

    /// <summary>Mean log-likelihood per row of the most recent rows, scored before they were learned (prequential).</summary>
    [Id(4)] public double? RecentMeanLogLikelihood { get; init; }

    [Id(5)] public DateTimeOffset? LastObservationAt { get; init; }
    [Id(6)] public DateTimeOffset? LastRefitAt { get; init; }
    [Id(7)] public long Refits { get; init; }
    [Id(8)] public DateTimeOffset? LastSnapshotAt { get; init; }
    [Id(9)] public long? SnapshotVersion { get; init; }
    [Id(10)] public long Anomalies { get; init; }
    [Id(11)] public bool Active { get; init; }

    /// <summary>Why the model is failed (its stored state could not be read), or null when it is healthy.</summary>
    [Id(12)] public string? Failure { get; init; }

    /// <summary>Live health of the model (refit gap, last drift, degenerate-state warnings, rate); null before the first row.</summary>
    [Id(13)] public ModelHealth? Health { get; init; }

    /// <summary>
    /// While warming up: rows still needed before a refit request (<c>POST /v1/models/{id}/refit</c>) can end the warm-up early
    /// with a first fit on the rows buffered so far, which takes K × (d + 1) of them with every column observed at least twice
    /// (at least 1 while a column is not); 0 when a refit request would fit now, and once warm.
    /// </summary>
    [Id(14)] public int EarlyFitRemaining { get; init; }
}

/// <summary>Whether a model is staying right: what its last refit and its change detector saw, and degenerate parts.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelHealth
{
    /// <summary>
    /// Last refit candidate minus the online model, mean log-likelihood per row (nats) on the recent rows the refit was not fitted
    /// on. Near 0: the online model is as good as a batch fit; large and positive: the online model had fallen behind.
    /// </summary>
    [Id(0)] public double? RefitGap { get; init; }

    /// <summary>Observation count when <see cref="RefitGap"/> was measured.</summary>
    [Id(1)] public long? RefitGapObservations { get; init; }

    /// <summary>Why the last refit was refused (degenerate, or worse on held-out rows); null when it was adopted.</summary>
    [Id(2)] public string? LastRefitRejection { get; init; }

    /// <summary>Abrupt changes detected (Page–Hinkley on the prequential log-likelihood).</summary>
    [Id(3)] public long Drifts { get; init; }

    [Id(4)] public DateTimeOffset? LastDriftAt { get; init; }

    /// <summary>Observation count at the last drift alarm.</summary>
    [Id(5)] public long? LastDriftObservation { get; init; }

    /// <summary>Degenerate components or states of the current model on the newest rows; empty when healthy.</summary>
    [Id(6)] public string[] Warnings { get; init; } = [];

    /// <summary>Rows per second (by the batches' timestamps) over the last second or more.</summary>
    [Id(7)] public double? ObservationsPerSecond { get; init; }
}

/// <summary>A row-major matrix of observations (NaN = missing): <see cref="Rows"/> × <see cref="Columns"/> values.</summary>
[GenerateSerializer, Immutable]
public sealed record RowsView([property: Id(0)] double[] Values, [property: Id(1)] int Rows, [property: Id(2)] int Columns);

/// <summary>Recent applied rows, oldest first; row i is observation <c>FirstObservation + i</c> (0-based).</summary>
[GenerateSerializer, Immutable]
public sealed record RecentRowsView([property: Id(0)] RowsView Rows, [property: Id(1)] long FirstObservation);

/// <summary>Predictions for given rows under the current parameters.</summary>
[GenerateSerializer, Immutable]
public sealed record PredictResult(
    [property: Id(0)] int[] Labels, [property: Id(1)] double[][] Probabilities, [property: Id(2)] double[] LogDensity, [property: Id(3)] double[] AnomalyScore,
    [property: Id(4)] double[] TailProbability);

/// <summary>Filtered regimes for a given sequence (hmm): per row, p(state | rows up to it) and the most likely state.</summary>
[GenerateSerializer, Immutable]
public sealed record RegimeResult(
    [property: Id(0)] int[] Regimes, [property: Id(1)] double[][] Probabilities, [property: Id(2)] double MeanLogLikelihood, [property: Id(3)] double[] TailProbability,
    [property: Id(4)] double[]? LogDensity = null);

/// <summary>An entry of a model's snapshot history.</summary>
[GenerateSerializer, Immutable]
public sealed record SnapshotInfo(
    [property: Id(0)] long Version, [property: Id(1)] DateTimeOffset CreatedAt, [property: Id(2)] long Observations, [property: Id(3)] int SizeBytes,
    [property: Id(4)] string Reason);

/// <summary>A snapshot's parameters as they were at that version.</summary>
[GenerateSerializer, Immutable]
public sealed record SnapshotView([property: Id(0)] SnapshotInfo Info, [property: Id(1)] ModelStateView State);
