using EmStreaming.Runtime.Catalog;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Grains;

/// <summary>
/// Base class of grains. The runtime calls the virtual methods one at a time (a turn), never concurrently, never re-entrantly.
/// State lives in fields touched only inside turns; the members below that change runtime state must be called inside a turn.
/// </summary>
/// <remarks>
/// Exactly-once stream effects: read the snapshot in <see cref="OnActivateAsync"/> with <see cref="ReadSnapshotAsync"/> (this restores the applied
/// positions), apply each <see cref="OnStreamItemAsync"/> item (the runtime never delivers an item at or below the restored position), and persist with
/// <see cref="WriteSnapshotAsync"/> (which records the positions applied so far). The log is trimmed only below positions every grain has persisted.
/// If a turn throws, its message goes to the dead letters and the stream position still advances: compute the new state, then swap it in, so a
/// failing turn leaves the previous state.
/// </remarks>
public abstract class Grain
{
    private ActivationData? _activation;

    /// <summary>This grain's identity.</summary>
    public GrainId GrainId => Activation.Id;

    /// <summary>The silo's clock; use it (not DateTime.UtcNow) so tests can drive time.</summary>
    protected TimeProvider TimeProvider => Activation.Silo.TimeProvider;

    /// <summary>A logger for this grain type.</summary>
    protected ILogger Logger => Activation.Logger;

    /// <summary>The silo, to <see cref="ISilo.TellAsync"/> other grains. A turn should not <see cref="ISilo.AskAsync{TResult}"/> another grain: it would block on that grain's turn.</summary>
    protected ISilo Silo => Activation.Silo;

    /// <summary>Last stream position applied per namespace (restored by <see cref="ReadSnapshotAsync"/>, advanced by each delivered item).</summary>
    protected IReadOnlyDictionary<string, long> AppliedPositions => Activation.AppliedPositions;

    private ActivationData Activation => _activation ?? throw new InvalidOperationException("The grain is not attached to an activation: grains are created by the silo, not with new.");

    /// <summary>First turn of an activation: load state here (typically <see cref="ReadSnapshotAsync"/>). If it throws, the activation fails and its messages go to the dead letters.</summary>
    protected virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Last turn of an activation (idle collection or shutdown, not a crash): persist here.</summary>
    protected virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Handles a message sent with <see cref="ISilo.TellAsync"/> or <see cref="ISilo.AskAsync{TResult}"/>; the return value is the answer to an Ask.</summary>
    protected virtual ValueTask<object?> ReceiveAsync(object message, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"Grain type '{GrainId.Type}' does not handle messages of type {message.GetType().Name}.");

    /// <summary>Handles one stream item of a namespace this grain type is implicitly subscribed to; items of one key arrive in position order, each once.</summary>
    protected virtual Task OnStreamItemAsync(StreamItem item, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"Grain type '{GrainId.Type}' is subscribed to '{item.Stream.Namespace}' but does not override OnStreamItemAsync.");

    /// <summary>Publishes an immutable view; <see cref="ISilo.QueryViewAsync{TView}"/> returns it without entering the mailbox. Call inside a turn.</summary>
    protected void PublishView<TView>(TView view) where TView : class
    {
        ArgumentNullException.ThrowIfNull(view);
        Activation.EnsureInTurn(nameof(PublishView));
        Activation.PublishView(view);
    }

    /// <summary>Reads the latest snapshot and restores the applied stream positions from it. Call inside a turn (normally <see cref="OnActivateAsync"/>).</summary>
    /// <returns>The snapshot, or null when the grain has none (positions then start at zero: the whole retained stream is delivered).</returns>
    protected ValueTask<GrainSnapshot?> ReadSnapshotAsync(CancellationToken cancellationToken = default) =>
        Activation.ReadSnapshotAsync(cancellationToken);

    /// <summary>
    /// Writes a snapshot of <paramref name="data"/> recording the positions applied so far (the current item included), with the ETag of the last read or write.
    /// Once durable, the runtime may trim the log below those positions. Call inside a turn.
    /// </summary>
    /// <exception cref="InconsistentStateException">Someone else wrote this grain's snapshot.</exception>
    /// <param name="data">The serialized state.</param>
    /// <param name="retention">History to keep; null for <see cref="SnapshotRetention.Default"/>.</param>
    /// <param name="tag">Short description listed in the history (e.g. observation count and reason); at most <see cref="SnapshotWrite.MaxTagLength"/> characters.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    protected ValueTask<GrainSnapshot> WriteSnapshotAsync(
        ReadOnlyMemory<byte> data, SnapshotRetention? retention = null, string? tag = null, CancellationToken cancellationToken = default) =>
        Activation.WriteSnapshotAsync(data, retention, tag, cancellationToken);

    /// <summary>
    /// Deletes every snapshot version of this grain (Orleans' ClearStateAsync), conditionally on the last ETag. The stream items applied so far
    /// count as handled: the next checkpoint lets the log trim them (a crash before that replays them to a fresh activation). Call inside a turn.
    /// </summary>
    /// <exception cref="InconsistentStateException">Someone else wrote this grain's snapshot.</exception>
    protected ValueTask ClearSnapshotsAsync(CancellationToken cancellationToken = default) => Activation.ClearSnapshotsAsync(cancellationToken);

    /// <summary>
    /// Registers a timer whose tick runs as a turn. The next tick is scheduled only after the previous one completed, so ticks never overlap.
    /// Ticks do not keep the grain from idle deactivation; timers end with the activation. Call inside a turn.
    /// </summary>
    /// <param name="callback">The tick.</param>
    /// <param name="dueTime">Delay before the first tick.</param>
    /// <param name="period">Delay between the end of a tick and the next; <see cref="Timeout.InfiniteTimeSpan"/> for a single tick.</param>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Activation.EnsureInTurn(nameof(RegisterGrainTimer));
        return Activation.RegisterTimer(callback, dueTime, period);
    }

    /// <summary>
    /// Runs <paramref name="work"/> off the turn on the silo's bounded background scheduler (<see cref="SiloOptions.MaxBackgroundJobs"/>), then delivers
    /// its outcome to <paramref name="onCompleted"/> as a message, in a turn, after whatever messages arrived meanwhile.
    /// <paramref name="work"/> must not touch grain fields: pass it an immutable copy. The grain is not collected while a job is pending. Call inside a turn.
    /// </summary>
    protected void StartBackgroundJob<TResult>(Func<CancellationToken, Task<TResult>> work, Func<BackgroundJobResult<TResult>, CancellationToken, Task> onCompleted)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(onCompleted);
        Activation.EnsureInTurn(nameof(StartBackgroundJob));
        Activation.StartBackgroundJob(work, onCompleted);
    }

    /// <summary>Asks the runtime to deactivate this grain after the current turn, as if idle.</summary>
    protected void DeactivateOnIdle()
    {
        Activation.EnsureInTurn(nameof(DeactivateOnIdle));
        Activation.RequestDeactivation();
    }

    internal void Attach(ActivationData activation) => _activation = activation;

    // The runtime calls the protected hooks through these, so nothing outside the runtime can run a grain method outside a turn.
    internal Task InvokeActivateAsync(CancellationToken cancellationToken) => OnActivateAsync(cancellationToken);

    internal Task InvokeDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => OnDeactivateAsync(reason, cancellationToken);

    internal ValueTask<object?> InvokeReceiveAsync(object message, CancellationToken cancellationToken) => ReceiveAsync(message, cancellationToken);

    internal Task InvokeStreamItemAsync(StreamItem item, CancellationToken cancellationToken) => OnStreamItemAsync(item, cancellationToken);
}

/// <summary>Why an activation ends.</summary>
public enum DeactivationReason
{
    /// <summary>Idle for longer than its collection age.</summary>
    Idle,

    /// <summary>The grain called DeactivateOnIdle.</summary>
    Requested,

    /// <summary>The silo is stopping.</summary>
    Shutdown,
}

/// <summary>A grain timer; dispose it to stop future ticks.</summary>
public interface IGrainTimer : IDisposable
{
    /// <summary>Reschedules the timer: next tick after <paramref name="dueTime"/>, then <paramref name="period"/> after each completed tick.</summary>
    void Change(TimeSpan dueTime, TimeSpan period);
}

/// <summary>Outcome of a background job: a value, an exception, or cancellation (silo shutdown). Failures are values, not exceptions thrown into the grain.</summary>
/// <typeparam name="TResult">The job's result type.</typeparam>
public sealed record BackgroundJobResult<TResult>
{
    internal BackgroundJobResult(TResult? value, Exception? exception, bool canceled)
    {
        Value = value;
        Exception = exception;
        Canceled = canceled;
    }

    /// <summary>The job's result when <see cref="Succeeded"/>.</summary>
    public TResult? Value { get; }

    /// <summary>What the job threw, if it failed.</summary>
    public Exception? Exception { get; }

    /// <summary>True when the job was cancelled.</summary>
    public bool Canceled { get; }

    /// <summary>True when the job returned a value.</summary>
    public bool Succeeded => Exception is null && !Canceled;
}
