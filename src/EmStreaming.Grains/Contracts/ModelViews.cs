using EmStreaming.Numerics;

namespace EmStreaming.Grains;

/// <summary>A model's definition and status.</summary>
public sealed record ModelInfo(string Id, ModelDefinition Definition, ModelStatus Status, DateTimeOffset CreatedAt);

/// <summary>Answer to an append: the rows accepted (durable) and each rejected row with its reason.</summary>
public sealed record AppendResult(int Accepted, IReadOnlyList<RejectedRow> Rejected, long? FirstPosition = null, bool Replayed = false);

/// <summary>A row rejected by validation: its 0-based index in the batch and why.</summary>
public readonly record struct RejectedRow(int Index, string Reason);

/// <summary>
/// Recent applied rows of a model, oldest first; <see cref="FirstObservation"/> is the 0-based observation number
/// of the first row (so row i is observation <c>FirstObservation + i</c>).
/// </summary>
public sealed record RecentRows(DataMatrix Rows, long FirstObservation);

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

    /// <summary>Anomaly: the row's tail probability, when the model's definition has an anomalyTailProbability.</summary>
    public double? TailProbability { get; init; }
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
    /// <summary>A record could not be applied (for example an external producer's batch of the wrong width): skipped once, logged, and reported here.</summary>
    Failed,
    /// <summary>This subscriber read too slowly and missed events (their count is in the message); the grain never waits for readers.</summary>
    Dropped,
    /// <summary>An abrupt change in the data was detected (Page–Hinkley on the prequential log-likelihood); the message says what followed.</summary>
    Drift,
}

/// <summary>A page of models, ordered by id; pass <see cref="NextCursor"/> to get the next page.</summary>
public sealed record ModelPage(IReadOnlyList<ModelInfo> Models, string? NextCursor);

/// <summary>
/// Every model id the registry holds (<paramref name="Known"/>), and the status of those active on this silo as they last
/// published it (<paramref name="Active"/>, ordered by id).
/// </summary>
public sealed record ModelCensus(IReadOnlyList<string> Known, IReadOnlyList<ModelInfo> Active);

/// <summary>Result of creating or replacing a model definition.</summary>
public enum PutModelOutcome
{
    Created,
    Replaced,
    Unchanged,
}
