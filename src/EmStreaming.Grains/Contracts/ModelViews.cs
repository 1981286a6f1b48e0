using EmStreaming.Numerics;

namespace EmStreaming.Grains;

/// <summary>Status of a model, as <c>GET /v1/models/{id}</c> reports it.</summary>
public sealed record ModelStatus
{
    /// <summary>Rows applied to the model (accepted and durable rows are applied in order; see <see cref="PendingObservations"/>).</summary>
    public required long Observations { get; init; }

    /// <summary>Rows accepted (durable in the log) but not yet applied.</summary>
    public long PendingObservations { get; init; }

    /// <summary>True until the model has buffered enough rows for its initial batch fit; parameters are not defined before.</summary>
    public required bool WarmingUp { get; init; }

    /// <summary>Rows still needed before the first fit (0 once warm).</summary>
    public int WarmUpRemaining { get; init; }

    /// <summary>Mean log-likelihood per row of the most recent rows, scored before they were learned (prequential).</summary>
    public double? RecentMeanLogLikelihood { get; init; }

    public DateTimeOffset? LastObservationAt { get; init; }
    public DateTimeOffset? LastRefitAt { get; init; }
    public long Refits { get; init; }
    public DateTimeOffset? LastSnapshotAt { get; init; }
    public long? SnapshotVersion { get; init; }
    public long Anomalies { get; init; }
    public bool Active { get; init; }

    /// <summary>Live health of the model (refit gap, last drift, degenerate-state warnings, rate); null before the first row.</summary>
    public ModelHealth? Health { get; init; }
}

/// <summary>Whether a model is staying right: what its last refit and its change detector saw, and degenerate parts.</summary>
public sealed record ModelHealth
{
    /// <summary>
    /// Last refit candidate minus the online model, mean log-likelihood per row (nats) on the recent rows the refit was not fitted
    /// on. Near 0: the online model is as good as a batch fit; large and positive: the online model had fallen behind.
    /// </summary>
    public double? RefitGap { get; init; }

    /// <summary>Observation count when <see cref="RefitGap"/> was measured.</summary>
    public long? RefitGapObservations { get; init; }

    /// <summary>Why the last refit was refused (degenerate, or worse on held-out rows); null when it was adopted.</summary>
    public string? LastRefitRejection { get; init; }

    /// <summary>Abrupt changes detected (Page–Hinkley on the prequential log-likelihood).</summary>
    public long Drifts { get; init; }

    public DateTimeOffset? LastDriftAt { get; init; }

    /// <summary>Observation count at the last drift alarm.</summary>
    public long? LastDriftObservation { get; init; }

    /// <summary>Degenerate components or states of the current model on the newest rows; empty when healthy.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Rows per second (by the batches' timestamps) over the last second or more.</summary>
    public double? ObservationsPerSecond { get; init; }
}

/// <summary>A model's definition and status.</summary>
public sealed record ModelInfo(string Id, ModelDefinition Definition, ModelStatus Status, DateTimeOffset CreatedAt);

/// <summary>
/// Current parameters, published by the grain after every turn that changed them and read without waiting
/// for the grain. Matrices are row-major flat arrays: means K×d, covariances K×d×d (always full, whatever the
/// covariance type), transitions K×K.
/// </summary>
public sealed record ModelStateView
{
    public required string Id { get; init; }
    public required ModelKind Kind { get; init; }
    public required int Components { get; init; }
    public required int Dimension { get; init; }
    public required long Observations { get; init; }
    public required bool WarmingUp { get; init; }

    /// <summary>Null while warming up.</summary>
    public double[]? Weights { get; init; }
    public double[]? Means { get; init; }
    public double[]? Covariances { get; init; }

    // HMM only.
    public double[]? StartProbabilities { get; init; }
    public double[]? Transitions { get; init; }

    /// <summary>Filtered p(state | observations so far); updated on every row, even while warming up once a first fit exists.</summary>
    public double[]? RegimeProbabilities { get; init; }

    /// <summary>Most likely current state, and for how many consecutive rows it has been the most likely.</summary>
    public int? Regime { get; init; }
    public long? RegimeRunLength { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Answer to an append: the rows accepted (durable) and each rejected row with its reason.</summary>
public sealed record AppendResult(int Accepted, IReadOnlyList<RejectedRow> Rejected, long? FirstPosition = null, bool Replayed = false);

/// <summary>A row rejected by validation: its 0-based index in the batch and why.</summary>
public readonly record struct RejectedRow(int Index, string Reason);

/// <summary>
/// Recent applied rows of a model, oldest first; <see cref="FirstObservation"/> is the 0-based observation number
/// of the first row (so row i is observation <c>FirstObservation + i</c>).
/// </summary>
public sealed record RecentRows(DataMatrix Rows, long FirstObservation);

/// <summary>Predictions for given rows under the current parameters.</summary>
public sealed record PredictResult(int[] Labels, double[][] Probabilities, double[] LogDensity, double[] AnomalyScore);

/// <summary>Filtered regimes for a given recent sequence (hmm): per row, p(state | rows up to it) and the most likely state.</summary>
public sealed record RegimeResult(int[] Regimes, double[][] Probabilities, double MeanLogLikelihood);

/// <summary>An entry of a model's snapshot history.</summary>
public sealed record SnapshotInfo(long Version, DateTimeOffset CreatedAt, long Observations, int SizeBytes, string Reason);

/// <summary>A snapshot's parameters as they were at that version.</summary>
public sealed record SnapshotView(SnapshotInfo Info, ModelStateView State);

/// <summary>What happened to a model, streamed to subscribers (server-sent events).</summary>
public sealed record ModelEvent
{
    public required string ModelId { get; init; }
    public required ModelEventType Type { get; init; }
    public required DateTimeOffset Time { get; init; }

    /// <summary>Observation count when the event happened.</summary>
    public long Observations { get; init; }

    /// <summary>Regime change: from and to state. Anomaly: score and row. Refit: old and new window log-likelihood.</summary>
    public int? FromRegime { get; init; }
    public int? ToRegime { get; init; }
    public double? Score { get; init; }
    public double[]? Row { get; init; }
    public double? Before { get; init; }
    public double? After { get; init; }
    public long? SnapshotVersion { get; init; }
    public string? Message { get; init; }
}

public enum ModelEventType
{
    /// <summary>The model finished warming up: parameters exist.</summary>
    Ready,
    RegimeChanged,
    Anomaly,
    RefitAdopted,
    RefitRejected,
    SnapshotWritten,
    Created,
    Deleted,
    /// <summary>A batch failed after acceptance (a bug or a resource problem); the message went to the dead letters.</summary>
    Failed,
    /// <summary>This subscriber read too slowly and missed events (their count is in the message); the grain never waits for readers.</summary>
    Dropped,
    /// <summary>An abrupt change of the data was detected from the prequential log-likelihood; the model refits on post-change rows.</summary>
    Drift,
}

/// <summary>A page of models, ordered by id; pass <see cref="NextCursor"/> to get the next page.</summary>
public sealed record ModelPage(IReadOnlyList<ModelInfo> Models, string? NextCursor);

/// <summary>Result of creating or replacing a model definition.</summary>
public enum PutModelOutcome
{
    Created,
    Replaced,
    Unchanged,
}
