using System.Text.Json;

namespace EmStreaming.Client;

// The wire records of the /v1 API, as a client sees them. Missing values and non-finite numbers travel as JSON null
// and are NaN here (rows, probabilities, log-densities).

/// <summary>
/// A model definition (<c>PUT /v1/models/{id}</c>). Absent fields take the server's defaults; for the refit and
/// snapshot triggers 0 means "never by this trigger".
/// </summary>
public sealed record ModelDefinition
{
    /// <summary><c>gmm</c> or <c>hmm</c>.</summary>
    public string? Kind { get; init; }

    /// <summary>Dimension d of each observation (1..64).</summary>
    public int? Dimension { get; init; }

    /// <summary>Mixture components (gmm), 1..32.</summary>
    public int? Components { get; init; }

    /// <summary>Hidden states (hmm), 1..32.</summary>
    public int? States { get; init; }

    /// <summary><c>full</c> (default), <c>diag</c>, <c>spherical</c> or <c>tied</c> (hmm: full or diag).</summary>
    public string? Covariance { get; init; }

    /// <summary>Half-life in observations of the constant step size (tracks drift).</summary>
    public double? HalfLife { get; init; }

    /// <summary>Exponent of the decaying step size, in (0.5, 1].</summary>
    public double? Alpha { get; init; }

    /// <summary>Observations per online update (server default 64).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Rows before the first fit, at least components × (dimension + 1); null = automatic. A change starts a fresh model.</summary>
    public int? WarmUp { get; init; }

    public RefitPolicy? Refit { get; init; }

    public SnapshotPolicy? Snapshots { get; init; }

    /// <summary>Anomaly score (negative log-density) above which an anomaly event is emitted.</summary>
    public double? AnomalyThreshold { get; init; }

    /// <summary>Tail probability (0 to 1, exclusive; scale-free) below which an anomaly event is emitted, for example 1e-4.</summary>
    public double? AnomalyTailProbability { get; init; }

    /// <summary>hmm: the filtered probability at which another regime becomes the reported one, 0.5 (the most likely regime, the default) to 1 exclusive; 0.8 changes it about as often as the regime does.</summary>
    public double? RegimeConfidence { get; init; }

    public ulong? Seed { get; init; }
}

/// <summary>When a model refits in batch.</summary>
public sealed record RefitPolicy
{
    /// <summary>After this many new observations; 0 = never by count.</summary>
    public long? EveryObservations { get; init; }

    /// <summary>At this interval in seconds; 0 = never by time.</summary>
    public double? EverySeconds { get; init; }

    /// <summary>Recent observations the refit uses.</summary>
    public int? Window { get; init; }

    /// <summary>Seeded restarts besides the warm start.</summary>
    public int? Restarts { get; init; }
}

/// <summary>When a model writes a snapshot.</summary>
public sealed record SnapshotPolicy
{
    /// <summary>After this many new observations; 0 = never by count.</summary>
    public long? EveryObservations { get; init; }

    /// <summary>At this interval in seconds when anything changed; 0 = never by time.</summary>
    public double? EverySeconds { get; init; }

    /// <summary>Snapshots kept in history.</summary>
    public int? Retain { get; init; }
}

/// <summary>A model's progress as the server reports it.</summary>
public sealed record ModelStatus
{
    public long Observations { get; init; }

    /// <summary>Accepted rows not applied yet.</summary>
    public long PendingObservations { get; init; }

    public bool WarmingUp { get; init; }
    public int WarmUpRemaining { get; init; }

    /// <summary>While warming up: rows still needed before a refit request can end the warm-up early; 0 when it can now.</summary>
    public int EarlyFitRemaining { get; init; }
    public double? RecentMeanLogLikelihood { get; init; }
    public DateTimeOffset? LastObservationAt { get; init; }
    public DateTimeOffset? LastRefitAt { get; init; }
    public long Refits { get; init; }
    public DateTimeOffset? LastSnapshotAt { get; init; }
    public long? SnapshotVersion { get; init; }
    public long Anomalies { get; init; }
    public bool Active { get; init; }
}

/// <summary>A model: its id, definition and status.</summary>
public sealed record ModelInfo(string Id, ModelDefinition Definition, ModelStatus Status, DateTimeOffset CreatedAt);

/// <summary>A page of models ordered by id; pass <see cref="NextCursor"/> for the next page.</summary>
public sealed record ModelPage(IReadOnlyList<ModelInfo> Models, string? NextCursor);

/// <summary>Result of <see cref="IEmStreamingClient.PutModelAsync"/>: the model, and whether it was created (201) or replaced (200).</summary>
public sealed record PutModelResult(ModelInfo Model, bool Created);

/// <summary>Result of an append: accepted rows, rejected ones (0-based index in the batch and why), and whether the answer was replayed from an earlier request with the same Idempotency-Key.</summary>
public sealed record AppendResult(int Accepted, IReadOnlyList<RejectedRow> Rejected, bool Replayed);

/// <summary>A rejected row of an append.</summary>
public sealed record RejectedRow(int Index, string Reason);

/// <summary>A model's current parameters; matrices nested (means K×d, covariances K×d×d, transitions K×K).</summary>
public sealed record ModelState
{
    public required string Id { get; init; }
    public required string Kind { get; init; }
    public required int Components { get; init; }
    public required int Dimension { get; init; }
    public required long Observations { get; init; }
    public required bool WarmingUp { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public double[]? Weights { get; init; }
    public double[][]? Means { get; init; }
    public double[][][]? Covariances { get; init; }
    public double[]? StartProbabilities { get; init; }
    public double[][]? Transitions { get; init; }
    public double[]? RegimeProbabilities { get; init; }
    public int? Regime { get; init; }
    public long? RegimeRunLength { get; init; }
}

/// <summary>Recent applied rows (NaN = missing) with their component or regime and its probabilities when the model has parameters.</summary>
public sealed record RecentRows(long FirstObservation, int Dimension, double[][] Rows, int[]? Labels, double[][]? Probabilities);

/// <summary>
/// Most likely component, responsibilities, log-density, anomaly score (negative log-density) and tail probability (scale-free:
/// about uniform on (0, 1) for rows the model explains, small = anomalous; null from a server older than this field) of each row.
/// </summary>
public sealed record Prediction(int[] Labels, double[][] Probabilities, double[] LogDensity, double[] AnomalyScore, double[]? TailProbability = null);

/// <summary>
/// Filtered regimes of a sequence of rows (hmm), and each row's tail probability under its one-step-ahead prediction (null from
/// a server older than this field).
/// </summary>
public sealed record RegimeFilter(int[] Regimes, double[][] Probabilities, double MeanLogLikelihood, double[]? TailProbability = null, double[]? LogDensity = null);

/// <summary>An entry of a model's snapshot history.</summary>
public sealed record SnapshotInfo(long Version, DateTimeOffset CreatedAt, long Observations, int SizeBytes, string Reason);

/// <summary>A snapshot's parameters as they were at that version.</summary>
public sealed record Snapshot(SnapshotInfo Info, ModelState State);

/// <summary>Answer of a refit request.</summary>
public sealed record RefitResult(string Id, string Status);

/// <summary>
/// A server-sent event: its type (<c>regimeChanged</c>, <c>anomaly</c>, <c>refitAdopted</c>, <c>refitRejected</c>,
/// <c>snapshotWritten</c>, …), its id in the stream and its JSON data, with the fields every event has.
/// </summary>
public sealed record ModelEvent(string Type, string? EventId, JsonElement Data)
{
    /// <summary>The model the event is about.</summary>
    public string? ModelId => Data.TryGetProperty("modelId", out var v) ? v.GetString() : null;

    /// <summary>When it happened.</summary>
    public DateTimeOffset? Time => Data.TryGetProperty("time", out var v) && v.TryGetDateTimeOffset(out var t) ? t : null;

    /// <summary>The model's observation count then.</summary>
    public long? Observations => Data.TryGetProperty("observations", out var v) && v.TryGetInt64(out var n) ? n : null;
}
