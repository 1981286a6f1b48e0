namespace EmStreaming.Runtime.Streams;

/// <summary>Options of the stream log and its pulling agents. Values are validated in the setters.</summary>
public sealed class StreamOptions
{
    /// <summary>Default <see cref="PartitionCount"/>: 8.</summary>
    public const int DefaultPartitionCount = 8;

    /// <summary>Default <see cref="PartitionCapacity"/>: 10,000 undelivered batches per partition.</summary>
    public const int DefaultPartitionCapacity = 10_000;

    /// <summary>Default <see cref="MaxGroupCommitSize"/>: 1,024 batches per transaction.</summary>
    public const int DefaultMaxGroupCommitSize = 1_024;

    /// <summary>Default <see cref="DeliveryBatchSize"/>: 256 entries per read.</summary>
    public const int DefaultDeliveryBatchSize = 256;

    /// <summary>Default <see cref="AppendTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultAppendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="CheckpointInterval"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultCheckpointInterval = TimeSpan.FromSeconds(5);

    private int _partitionCount = DefaultPartitionCount;
    private int _partitionCapacity = DefaultPartitionCapacity;
    private int _maxGroupCommitSize = DefaultMaxGroupCommitSize;
    private int _deliveryBatchSize = DefaultDeliveryBatchSize;
    private TimeSpan _appendTimeout = DefaultAppendTimeout;
    private TimeSpan _checkpointInterval = DefaultCheckpointInterval;

    /// <summary>Number of partitions (1–4096). Fixed once a SQLite log has been created: reopening with another count fails.</summary>
    public int PartitionCount { get => _partitionCount; set => _partitionCount = OptionGuard.InRange(value, 1, 4096, nameof(PartitionCount)); }

    /// <summary>Undelivered batches a partition holds before producers wait.</summary>
    public int PartitionCapacity { get => _partitionCapacity; set => _partitionCapacity = OptionGuard.Positive(value, nameof(PartitionCapacity)); }

    /// <summary>Most batches committed in one SQLite transaction (group commit).</summary>
    public int MaxGroupCommitSize { get => _maxGroupCommitSize; set => _maxGroupCommitSize = OptionGuard.Positive(value, nameof(MaxGroupCommitSize)); }

    /// <summary>Most entries a pulling agent reads at once.</summary>
    public int DeliveryBatchSize { get => _deliveryBatchSize; set => _deliveryBatchSize = OptionGuard.Positive(value, nameof(DeliveryBatchSize)); }

    /// <summary>How long a producer waits for room in a full partition before <see cref="BackpressureTimeoutException"/>.</summary>
    public TimeSpan AppendTimeout { get => _appendTimeout; set => _appendTimeout = OptionGuard.Positive(value, nameof(AppendTimeout)); }

    /// <summary>How often the silo commits partition checkpoints and trims the log.</summary>
    public TimeSpan CheckpointInterval { get => _checkpointInterval; set => _checkpointInterval = OptionGuard.Positive(value, nameof(CheckpointInterval)); }

    internal StreamOptions Clone() => (StreamOptions)MemberwiseClone();
}
