using EmStreaming.Numerics;

namespace EmStreaming.Grains;

/// <summary>
/// The model service the HTTP API, the dashboard and the demo talk to: a facade over the Orleans model grains
/// (<see cref="IModelGrain"/>), their streams and their snapshot history. Every method validates its input and throws the exceptions listed
/// below for user errors; anything else is a bug.
/// </summary>
/// <remarks>
/// Errors: <see cref="ModelNotFoundException"/> (unknown id; HTTP 404), <see cref="ModelValidationException"/>
/// (bad id, bad idempotency key, bad definition, bad rows: names the field; HTTP 400; the rules are <see cref="Observations.ModelInput"/>'s), <see cref="ModelConflictException"/> (HTTP 409),
/// <see cref="ModelWarmingUpException"/> (a query that needs parameters before the model has any; HTTP 409),
/// <see cref="TimeoutException"/> when backpressure could not admit a batch in time (HTTP 503 with Retry-After).
/// </remarks>
public interface IModelService
{
    /// <summary>Creates or replaces a definition. Replacing with a different kind, dimension or component count resets the model.</summary>
    Task<PutModelOutcome> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default);

    /// <summary>Definition and status; an id that matches a configured template but was never used is reported as not found.</summary>
    Task<ModelInfo> GetModelAsync(string id, CancellationToken cancellationToken = default);

    Task<ModelPage> ListModelsAsync(string? prefix, string? cursor, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// What the metrics read, without calling any model grain: the ids the registry holds, and the status of the models active
    /// on this silo as they last published it. Orleans counts every call to a grain as activity: gauges fed by
    /// <see cref="ListModelsAsync"/>, which asks every listed model's grain, kept every model active for as long as they were
    /// exported.
    /// </summary>
    Task<ModelCensus> CensusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Readiness, without activating any model: the registry answers a read and the cluster answers a call (its active silos).
    /// Throws what the failing part threw.
    /// </summary>
    Task CheckReadyAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the model, its snapshots and its pending log entries. False when it did not exist.</summary>
    Task<bool> DeleteModelAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Validates the rows (dimension, finite or NaN-as-missing, at least one observed entry), appends the valid
    /// ones to the model's stream and returns once they are durable. A model id matching a template is created on
    /// first append. With an idempotency key, a batch sent again with the same key is answered as before and applied once.
    /// </summary>
    Task<AppendResult> AppendAsync(string id, DataMatrix rows, string? idempotencyKey = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="AppendAsync(string, DataMatrix, string?, CancellationToken)"/> for rows as parsed (possibly of different
    /// widths): a row whose width is not the model's dimension is rejected with its index like any other bad row.
    /// </summary>
    Task<AppendResult> AppendRowsAsync(string id, IReadOnlyList<double[]> rows, string? idempotencyKey = null, CancellationToken cancellationToken = default);

    /// <summary>Current parameters (the published view; never waits behind the grain's turn).</summary>
    Task<ModelStateView> GetStateAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// The most recent applied rows of the model, oldest first, at most <paramref name="limit"/> (1..10,000), read
    /// from its published view or refit window without waiting behind the grain's turn (what the dashboard draws).
    /// An existing model with no rows yet answers an empty matrix.
    /// </summary>
    Task<RecentRows> GetRecentAsync(string id, int limit, CancellationToken cancellationToken = default);

    Task<PredictResult> PredictAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default);

    /// <summary>Filtered regimes of a given sequence, starting from the model's stationary/start distribution (hmm only).</summary>
    Task<RegimeResult> FilterAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default);

    /// <summary>Rows with their missing entries replaced by the conditional expectation.</summary>
    Task<DataMatrix> ImputeAsync(string id, DataMatrix rows, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>One snapshot, by version, or the newest at or before a time.</summary>
    /// <exception cref="ModelNotFoundException">No such model.</exception>
    /// <exception cref="SnapshotNotFoundException">The history holds no such version, or none that early (field <c>version</c> or <c>time</c>).</exception>
    Task<SnapshotView> GetSnapshotAsync(string id, long? version, DateTimeOffset? at, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes snapshot <paramref name="version"/> of the model's history its current state. For a failed model (its stored
    /// state unreadable: the operator's way out) the snapshot's model and exactly-once windows are stored over the bad state,
    /// then the records the log still holds that the snapshot does not cover are applied again, in order (none on Azure Queue
    /// streams, which keep nothing after delivery); the model is healthy afterwards. For a healthy model it is a roll-back:
    /// the model's parameters and counts go back to the snapshot, the rows applied since are discarded (not applied again).
    /// </summary>
    /// <returns>The model's status after the restore.</returns>
    /// <exception cref="ModelNotFoundException">No such model.</exception>
    /// <exception cref="SnapshotNotFoundException">The history holds no such version (field <c>version</c>).</exception>
    /// <exception cref="ModelValidationException">The version cannot be read, or it was taken under an earlier definition (field <c>version</c>).</exception>
    Task<ModelStatus> RestoreSnapshotAsync(string id, long version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Schedules a refit now; completes when the request is durable on the model's stream. Every request is answered by one
    /// event: <c>refitAdopted</c> or <c>refitRejected</c> for a refit that runs; <c>refitRejected</c> with the reason for one
    /// that cannot start (a refit already running, whose own outcome follows; a window too small); and while the model is
    /// warming up, <c>ready</c> when the request ended the warm-up with a first fit on the rows buffered so far.
    /// </summary>
    /// <exception cref="ModelNotFoundException">No such model.</exception>
    /// <exception cref="ModelWarmingUpException">
    /// The model is warming up and holds too few rows (counting those accepted and not yet applied) for a first fit:
    /// <see cref="ModelWarmingUpException.Remaining"/> more are needed (<see cref="ModelStatus.EarlyFitRemaining"/>). Nothing is scheduled.
    /// </exception>
    Task RefitAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Events of one model, or of all models when <paramref name="id"/> is null, from now on.</summary>
    IAsyncEnumerable<ModelEvent> SubscribeAsync(string? id, CancellationToken cancellationToken = default);
}

/// <summary>The model id is unknown.</summary>
public sealed class ModelNotFoundException(string id) : Exception($"model '{id}' does not exist")
{
    public string Id { get; } = id;
}

/// <summary>
/// The model exists but holds no snapshot by that version, or none at or before that time; <see cref="Field"/> names the
/// request parameter (<c>version</c> or <c>time</c>).
/// </summary>
public sealed class SnapshotNotFoundException(string id, string field, string message) : Exception(message)
{
    public string Id { get; } = id;

    public string Field { get; } = field;
}

/// <summary>User input is invalid; <see cref="Field"/> names what is wrong (a JSON path such as <c>rows[3][1]</c> or <c>dimension</c>).</summary>
public sealed class ModelValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>The request conflicts with the model's current state (for example an idempotency key reused with another body).</summary>
public sealed class ModelConflictException(string message) : Exception(message);

/// <summary>
/// The model cannot serve until an operator acts: its stored state could not be read (a checksum or format failure, or a
/// state that does not fit its definition). Only this model is affected; its status carries the same reason, and appends to
/// it are refused with this error (nothing is accepted that it could not apply). Recovery: restore a snapshot from its
/// history (<see cref="IModelService.RestoreSnapshotAsync"/>), replace its definition, or delete it.
/// </summary>
public sealed class ModelUnavailableException(string id, string reason) : Exception($"model '{id}' is unavailable: {reason}")
{
    public string Id { get; } = id;

    public string Reason { get; } = reason;
}

/// <summary>
/// The model has no parameters yet: it is still buffering rows for its first fit (crosses grain calls intact).
/// <see cref="Remaining"/> is the number of rows still needed for what was asked.
/// </summary>
[GenerateSerializer]
public sealed class ModelWarmingUpException(string id, int remaining, string message) : Exception(message)
{
    public ModelWarmingUpException(string id, int remaining)
        : this(id, remaining, $"model '{id}' is warming up: {remaining} more rows are needed before it has parameters")
    {
    }

    [Id(0)]
    public string Id { get; private set; } = id;

    [Id(1)]
    public int Remaining { get; private set; } = remaining;
}
