using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// What a stream provider still holds for one stream: every event its log has not trimmed, with the token it is (or will be)
/// delivered with. A consumer that knows which events its stored state covers (by the producer's sequence, never by the
/// token) learns exactly what is outstanding after a restart, and can re-read what it refused while it could not apply.
/// </summary>
public interface IStreamBacklog
{
    /// <summary>
    /// The untrimmed events of <paramref name="stream"/> on provider <paramref name="provider"/>, oldest first; null when the
    /// provider keeps no log it can read back (Azure Queue streams delete what they deliver) or is not a log stream provider.
    /// </summary>
    /// <remarks>Scans the stream's queue (SQLite: one indexed range query, then a filter on the stream): a recovery path, not a per-event one.</remarks>
    ValueTask<IReadOnlyList<StreamBacklogEvent>?> ReadAsync(string provider, StreamId stream, CancellationToken cancellationToken = default);

    /// <summary>
    /// For a provider whose backlog cannot be read (<see cref="ReadAsync"/> returns null): how long after a consumer's
    /// activation an event taken earlier by a consumer that died may still come back (Azure Queues: the message visibility
    /// timeout, after which every message taken and not deleted is visible again). Zero for the log, whose receiver replays
    /// from its checkpoint at once.
    /// </summary>
    TimeSpan RedeliveryHorizon { get; }
}

/// <summary>One event still in the log.</summary>
/// <param name="Event">The event as produced.</param>
/// <param name="Token">Its delivery token (log position, index in the producer's batch).</param>
public readonly record struct StreamBacklogEvent(object Event, StreamSequenceToken Token);

/// <summary>For providers without a readable log: always null.</summary>
/// <param name="redeliveryHorizon">See <see cref="IStreamBacklog.RedeliveryHorizon"/>; not negative.</param>
public sealed class NoStreamBacklog(TimeSpan redeliveryHorizon) : IStreamBacklog
{
    /// <inheritdoc/>
    public TimeSpan RedeliveryHorizon { get; } = redeliveryHorizon >= TimeSpan.Zero
        ? redeliveryHorizon
        : throw new ArgumentOutOfRangeException(nameof(redeliveryHorizon), redeliveryHorizon, "The redelivery horizon must not be negative.");

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<StreamBacklogEvent>?> ReadAsync(string provider, StreamId stream, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<StreamBacklogEvent>?>(null);
}
