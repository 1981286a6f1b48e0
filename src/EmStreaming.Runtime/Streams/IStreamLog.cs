namespace EmStreaming.Runtime.Streams;

/// <summary>Appends batches to streams. This is what a producer (the HTTP server, a load generator) sees.</summary>
public interface IStreamProducer
{
    /// <summary>
    /// Appends one batch to <paramref name="stream"/> and completes only once the batch is durable (the acknowledgement).
    /// When the stream's partition holds <see cref="StreamOptions.PartitionCapacity"/> undelivered batches, waits for room.
    /// </summary>
    /// <param name="stream">The target stream.</param>
    /// <param name="payload">The opaque payload; copied before the method returns, so the caller may reuse its buffer.</param>
    /// <param name="cancellationToken">Honoured while waiting for room; once the batch is handed to the writer it is committed or fails.</param>
    /// <returns>The partition and position assigned to the batch.</returns>
    /// <exception cref="BackpressureTimeoutException">The partition stayed full for <see cref="StreamOptions.AppendTimeout"/>.</exception>
    /// <exception cref="ObjectDisposedException">The log is closed.</exception>
    ValueTask<StreamPosition> AppendAsync(StreamId stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);
}

/// <summary>
/// A partitioned, ordered, durable stream log in the spirit of an Orleans persistent stream queue.
/// A stream maps to one partition by a stable hash of its key, so entries of one key are totally ordered.
/// One consumer (the pulling agent) reads each partition.
/// </summary>
public interface IStreamLog : IStreamProducer, IAsyncDisposable
{
    /// <summary>Number of partitions (fixed for the lifetime of a log file).</summary>
    int PartitionCount { get; }

    /// <summary>The partition that holds streams with the given key.</summary>
    int GetPartition(string streamKey);

    /// <summary>
    /// Reads up to <paramref name="maxCount"/> entries of <paramref name="partition"/> with position greater than
    /// <paramref name="afterPosition"/>, in position order; waits until at least one is available.
    /// </summary>
    ValueTask<IReadOnlyList<StreamItem>> ReadAsync(int partition, long afterPosition, int maxCount, CancellationToken cancellationToken = default);

    /// <summary>Reports that entries up to <paramref name="position"/> have been delivered, freeing room for producers.</summary>
    void Acknowledge(int partition, long position);

    /// <summary>The durable checkpoint of a partition: every entry at or below it has been applied and persisted by its consumers.</summary>
    ValueTask<long> GetCheckpointAsync(int partition, CancellationToken cancellationToken = default);

    /// <summary>Durably advances the checkpoint of a partition and trims the entries at or below it. A lower value than the current checkpoint is ignored.</summary>
    ValueTask CommitCheckpointAsync(int partition, long position, CancellationToken cancellationToken = default);

    /// <summary>Number of entries currently retained in a partition (not yet trimmed).</summary>
    ValueTask<long> CountAsync(int partition, CancellationToken cancellationToken = default);
}
