using Orleans.Concurrency;

namespace EmStreaming.Contracts;

/// <summary>
/// One model, keyed by its id. Every query answers from the view the grain published after its last turn: the methods
/// interleave with the grain's turns and never wait behind a batch or a refit. Observations arrive over the model's stream
/// (<see cref="ModelStreams"/>), not through this interface.
/// </summary>
/// <remarks>A model that does not exist (no definition) answers <see cref="KeyNotFoundException"/>; one whose stored state
/// could not be read answers <see cref="ModelFailedException"/> with the reason (its status has a failure).</remarks>
public interface IModelGrain : IGrainWithStringKey
{
    /// <summary>Current parameters (means K×d, covariances K×d×d, ...); null arrays while the model warms up.</summary>
    [AlwaysInterleave]
    Task<ModelStateView> GetStateAsync();

    /// <summary>Counters and times of the model; null when the model does not exist.</summary>
    [AlwaysInterleave]
    Task<ModelStatus?> GetStatusAsync();

    /// <summary>The most recent applied rows, oldest first, at most <paramref name="limit"/> (1..10,000).</summary>
    [AlwaysInterleave]
    Task<RecentRowsView> GetRecentAsync(int limit);

    /// <summary>Labels, per-component probabilities, log-density and anomaly score of each row under the current parameters.</summary>
    [AlwaysInterleave]
    Task<PredictResult> PredictAsync(RowsView rows);

    /// <summary>Filtered regimes of a given sequence (hmm only), from the model's start distribution.</summary>
    [AlwaysInterleave]
    Task<RegimeResult> FilterAsync(RowsView rows);

    /// <summary>Rows with their missing entries (NaN) replaced by the conditional expectation.</summary>
    [AlwaysInterleave]
    Task<RowsView> ImputeAsync(RowsView rows);
}

/// <summary>The model's stored state could not be read: the model is failed (its status says why) until it is replaced or deleted.</summary>
[GenerateSerializer]
public sealed class ModelFailedException(string modelId, string reason) : Exception($"model '{modelId}' is failed: {reason}")
{
    [Id(0)]
    public string ModelId { get; private set; } = modelId;

    [Id(1)]
    public string Reason { get; private set; } = reason;
}
