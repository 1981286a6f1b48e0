namespace EmStreaming.Client;

/// <summary>
/// The EmStreaming <c>/v1</c> API. Errors are typed exceptions (<see cref="InvalidRequestException"/>,
/// <see cref="ModelNotFoundException"/>, <see cref="SnapshotNotFoundException"/>, <see cref="ModelConflictException"/>, <see cref="AccessDeniedException"/>,
/// <see cref="ServerBusyException"/>, or <see cref="EmStreamingException"/> when the server cannot be reached); 429 and
/// 503 answers are retried first. Rows use NaN for a missing value. Get one from
/// <c>services.AddEmStreamingClient(...)</c> or <see cref="EmStreamingClientFactory.Create"/>.
/// </summary>
public interface IEmStreamingClient
{
    /// <summary>One page of models ordered by id (<paramref name="limit"/> 1..1000, server default 100).</summary>
    Task<ModelPage> ListModelsAsync(string? prefix = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default);

    /// <summary>Every model (optionally under a prefix), page after page.</summary>
    IAsyncEnumerable<ModelInfo> ListAllModelsAsync(string? prefix = null, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces a model definition.</summary>
    Task<PutModelResult> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default);

    Task<ModelInfo> GetModelAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Deletes a model, its snapshots and its pending rows.</summary>
    Task DeleteModelAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends rows. Accepted rows are durable when this returns. The same <paramref name="idempotencyKey"/> makes a
    /// repeated call safe; without one the client makes one up, so its own retries never apply a batch twice.
    /// </summary>
    Task<AppendResult> AppendAsync(string id, IReadOnlyList<double[]> rows, string? idempotencyKey = null, CancellationToken cancellationToken = default);

    /// <summary>Appends a row-major block of rows of <paramref name="columns"/> values each (see the other overload).</summary>
    Task<AppendResult> AppendAsync(string id, ReadOnlyMemory<double> values, int columns, string? idempotencyKey = null, CancellationToken cancellationToken = default);

    Task<ModelState> GetStateAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The last <paramref name="limit"/> applied rows (1..10000, server default 500) with their component or regime.</summary>
    Task<RecentRows> GetRecentAsync(string id, int? limit = null, CancellationToken cancellationToken = default);

    Task<Prediction> PredictAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default);

    Task<RegimeFilter> FilterAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default);

    /// <summary>
    /// The rows with their missing (NaN) entries replaced by their conditional expectation; for an hmm the rows are one
    /// sequence continuing the live stream, so each row's regime is judged from the rows around it.
    /// </summary>
    Task<double[][]> ImputeAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Snapshot <paramref name="version"/>; <see cref="SnapshotNotFoundException"/> when the history does not hold it.</summary>
    Task<Snapshot> GetSnapshotAsync(string id, long version, CancellationToken cancellationToken = default);

    /// <summary>The newest snapshot at or before <paramref name="time"/>; <see cref="SnapshotNotFoundException"/> when there is none.</summary>
    Task<Snapshot> GetSnapshotAtAsync(string id, DateTimeOffset time, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes snapshot <paramref name="version"/> the model's state (POST /v1/models/{id}/snapshots/{version}/restore): a model
    /// whose stored state is unreadable (<see cref="ModelUnavailableException"/>) recovers, and what the server's log still
    /// holds beyond the snapshot is applied again; a healthy model rolls back (rows applied since are discarded).
    /// </summary>
    Task<ModelInfo> RestoreSnapshotAsync(string id, long version, CancellationToken cancellationToken = default);

    /// <summary>Schedules a batch refit; its outcome arrives as a <c>refitAdopted</c> or <c>refitRejected</c> event.</summary>
    Task<RefitResult> RefitAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Server-sent events of one model, or of all models when <paramref name="id"/> is null, until the server ends the
    /// stream or <paramref name="cancellationToken"/> fires. The subscription is open when the first item is requested.
    /// </summary>
    IAsyncEnumerable<ModelEvent> EventsAsync(string? id = null, CancellationToken cancellationToken = default);

    /// <summary>True when the server answers <c>/readyz</c> with 200.</summary>
    Task<bool> IsReadyAsync(CancellationToken cancellationToken = default);
}
