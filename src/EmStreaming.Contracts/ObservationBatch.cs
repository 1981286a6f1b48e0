namespace EmStreaming.Contracts;

/// <summary>
/// A batch of observations for one model, as any Orleans producer may put it on the model's stream
/// (<c>StreamId.Create(ModelStreams.Namespace, modelId)</c> on the configured persistent provider).
/// </summary>
/// <remarks>
/// Exactly-once: the model applies a batch once per (<see cref="ProducerId"/>, <see cref="Sequence"/>). A producer numbers
/// its batches to each model 1, 2, 3, ... and never reuses a number under the same producer id (a new process takes a new
/// id); a batch redelivered by the stream, or sent again with the same number, is skipped. Numbers may arrive out of order
/// by up to 1,024. A batch whose width is not the model's is skipped (and reported as a failed event); rows with an
/// infinite value or no observed value are dropped (NaN marks a missing entry). Orleans allows one element type per stream in a process: a producer in its
/// own process requests <c>GetStream&lt;ObservationBatch&gt;</c>; code inside the EmStreaming silo uses <c>GetStream&lt;object&gt;</c>.
/// </remarks>
[GenerateSerializer, Immutable]
public sealed record ObservationBatch
{
    /// <summary>Who produced the batch: 1-128 characters, unique per producing process.</summary>
    [Id(0)] public required string ProducerId { get; init; }

    /// <summary>Per producer and model, starting at 1.</summary>
    [Id(1)] public required long Sequence { get; init; }

    /// <summary>Row-major values, <c>Rows × Columns</c>; NaN marks a missing entry.</summary>
    [Id(2)] public required double[] Values { get; init; }

    [Id(3)] public required int Columns { get; init; }

    /// <summary>When the batch was produced; stored as the model's last observation time.</summary>
    [Id(4)] public DateTimeOffset Timestamp { get; init; }
}
