using Orleans.Runtime;

namespace EmStreaming.Providers.Streams;

/// <summary>One durable entry of a queue: an Orleans stream's serialized batch at a dense, increasing position of its queue.</summary>
internal readonly record struct LogEntry(StreamId Stream, long Position, DateTimeOffset Timestamp, byte[] Payload);

/// <summary>
/// The queues behind the log stream provider: ordered per queue, durable on append (SQLite) or in memory (tests), with a
/// committed checkpoint per queue below which entries are trimmed.
/// </summary>
internal interface IStreamLog : IAsyncDisposable
{
    int QueueCount { get; }

    /// <summary>Appends one entry and completes once it is durable. Waits for room when the queue holds <see cref="LogStreamOptions.QueueCapacity"/> unconsumed entries.</summary>
    /// <exception cref="LogBackpressureException">The queue stayed full for <see cref="LogStreamOptions.AppendTimeout"/>; nothing was appended.</exception>
    ValueTask<long> AppendAsync(int queue, StreamId stream, byte[] payload, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="maxCount"/> committed entries after <paramref name="afterPosition"/>, in order; empty when none (never waits).</summary>
    IReadOnlyList<LogEntry> Read(int queue, long afterPosition, int maxCount);

    /// <summary>
    /// Completes once <paramref name="queue"/> has a committed entry after <paramref name="afterPosition"/> (true), or when
    /// <paramref name="timeout"/> passes or <paramref name="cancellationToken"/> is cancelled first (false); never throws for either.
    /// False at once while the queue is full: its producers wait for an acknowledgement, which only the caller can give once
    /// it stops waiting, so a wait would stall them for its whole length.
    /// </summary>
    Task<bool> WaitForEntriesAsync(int queue, long afterPosition, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>The retained entries of one stream after <paramref name="afterPosition"/>, in order (a scan of the queue: for recovery, not the delivery path).</summary>
    IReadOnlyList<LogEntry> ReadStream(int queue, StreamId stream, long afterPosition);

    /// <summary>Entries up to <paramref name="position"/> were consumed: their producer slots are free.</summary>
    void Acknowledge(int queue, long position);

    /// <summary>The durable checkpoint: every entry at or below it was persisted by its consumer (and may be trimmed).</summary>
    long GetCheckpoint(int queue);

    /// <summary>Durably advances the checkpoint (a lower value is ignored) and trims the entries at or below it.</summary>
    ValueTask CommitCheckpointAsync(int queue, long position, CancellationToken cancellationToken = default);

    /// <summary>Entries retained in a queue (not yet trimmed).</summary>
    long Count(int queue);
}
