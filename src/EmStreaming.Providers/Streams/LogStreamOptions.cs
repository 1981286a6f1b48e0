using Microsoft.Extensions.Options;

namespace EmStreaming.Providers.Streams;

/// <summary>Where the durable log of a <see cref="LogStreamOptions"/> provider lives.</summary>
public enum LogStreamBackend
{
    /// <summary>The shared SQLite file of <c>Storage</c> (durable; the embedded default).</summary>
    Sqlite,

    /// <summary>Process memory (tests): same ordering, backpressure and checkpoint rules, no durability.</summary>
    InMemory,
}

/// <summary>
/// Options of the durable log stream provider, bound from the configuration section <c>Streams</c> (<see cref="SectionName"/>)
/// and named by the provider name. Validated at start-up; every message names the setting.
/// </summary>
public sealed class LogStreamOptions
{
    /// <summary>The configuration section: <c>Streams</c>.</summary>
    public const string SectionName = "Streams";

    /// <summary>Default <see cref="ProviderName"/>: <c>models</c>.</summary>
    public const string DefaultProviderName = "models";

    /// <summary>Default <see cref="Queues"/>: 8.</summary>
    public const int DefaultQueues = 8;

    /// <summary>Default <see cref="QueueCapacity"/>: 10,000 unconsumed batches per queue.</summary>
    public const int DefaultQueueCapacity = 10_000;

    /// <summary>Default <see cref="ReadBatchSize"/>: 512 messages per poll.</summary>
    public const int DefaultReadBatchSize = 512;

    /// <summary>Default <see cref="CacheSize"/>: 4,096 messages per queue.</summary>
    public const int DefaultCacheSize = 4_096;

    /// <summary>Default <see cref="DeliveryBatchSize"/>: 8 messages per delivery call.</summary>
    public const int DefaultDeliveryBatchSize = 8;

    /// <summary>Default <see cref="MaxGroupCommitSize"/>: 1,024 appends per transaction.</summary>
    public const int DefaultMaxGroupCommitSize = 1_024;

    /// <summary>Default <see cref="PollPeriod"/>: 10 ms.</summary>
    public static readonly TimeSpan DefaultPollPeriod = TimeSpan.FromMilliseconds(10);

    /// <summary>Default <see cref="IdleWait"/>: 250 ms.</summary>
    public static readonly TimeSpan DefaultIdleWait = TimeSpan.FromMilliseconds(250);

    /// <summary>Default <see cref="AppendTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultAppendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Default <see cref="CheckpointInterval"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultCheckpointInterval = TimeSpan.FromSeconds(5);

    /// <summary>The stream provider's name (<c>Streams:ProviderName</c>), used by <c>AddEmStreamingLogStreams(configuration)</c>.</summary>
    public string ProviderName { get; set; } = DefaultProviderName;

    /// <summary>Where the log lives (<c>Streams:Backend</c>: <c>Sqlite</c> or <c>InMemory</c>).</summary>
    public LogStreamBackend Backend { get; set; } = LogStreamBackend.Sqlite;

    /// <summary>Number of queues (<c>Streams:Queues</c>, 1–1024); streams map to queues by Orleans' hash ring. Fixed once a SQLite log exists.</summary>
    public int Queues { get; set; } = DefaultQueues;

    /// <summary>Unconsumed batches a queue holds before producers wait (<c>Streams:QueueCapacity</c>); at least <see cref="CacheSize"/>.</summary>
    public int QueueCapacity { get; set; } = DefaultQueueCapacity;

    /// <summary>How long a producer waits for room in a full queue before <see cref="LogBackpressureException"/> (<c>Streams:AppendTimeout</c>).</summary>
    public TimeSpan AppendTimeout { get; set; } = DefaultAppendTimeout;

    /// <summary>How often an idle pulling agent polls its queue (<c>Streams:PollPeriod</c>); a busy one reads back to back.</summary>
    public TimeSpan PollPeriod { get; set; } = DefaultPollPeriod;

    /// <summary>
    /// How long a poll that finds its queue empty waits for an append before it answers "nothing" (<c>Streams:IdleWait</c>, 0 to
    /// 5 s; 0 = answer at once). Every append is made in this process, so the wait ends the moment one commits: an idle agent
    /// sleeps instead of polling every <see cref="PollPeriod"/>, and a new batch is read at once instead of at the next poll.
    /// </summary>
    public TimeSpan IdleWait { get; set; } = DefaultIdleWait;

    /// <summary>Most messages one poll reads (<c>Streams:ReadBatchSize</c>).</summary>
    public int ReadBatchSize { get; set; } = DefaultReadBatchSize;

    /// <summary>Messages held per queue in the pulling agent's cache (<c>Streams:CacheSize</c>).</summary>
    public int CacheSize { get; set; } = DefaultCacheSize;

    /// <summary>Most messages of one stream handed to its consumer in one call (<c>Streams:DeliveryBatchSize</c>).</summary>
    public int DeliveryBatchSize { get; set; } = DefaultDeliveryBatchSize;

    /// <summary>Most appends committed in one SQLite transaction (<c>Streams:MaxGroupCommitSize</c>).</summary>
    public int MaxGroupCommitSize { get; set; } = DefaultMaxGroupCommitSize;

    /// <summary>How often a queue's checkpoint is committed and its log trimmed below what consumers persisted (<c>Streams:CheckpointInterval</c>).</summary>
    public TimeSpan CheckpointInterval { get; set; } = DefaultCheckpointInterval;

    internal LogStreamOptions Clone() => (LogStreamOptions)MemberwiseClone();
}

/// <summary>Validates <see cref="LogStreamOptions"/> at start-up, naming the setting.</summary>
internal sealed class LogStreamOptionsValidator : IValidateOptions<LogStreamOptions>
{
    public ValidateOptionsResult Validate(string? name, LogStreamOptions options) => Check(options) is { } error
        ? ValidateOptionsResult.Fail(error)
        : ValidateOptionsResult.Success;

    internal static string? Check(LogStreamOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.ProviderName))
        {
            return "Streams:ProviderName must not be empty.";
        }

        if (!Enum.IsDefined(o.Backend))
        {
            return $"Streams:Backend must be Sqlite or InMemory (got {o.Backend}).";
        }

        if (o.Queues is < 1 or > 1024)
        {
            return $"Streams:Queues must be between 1 and 1024 (got {o.Queues}).";
        }

        foreach (var (value, setting) in new[]
        {
            (o.QueueCapacity, "QueueCapacity"), (o.ReadBatchSize, "ReadBatchSize"), (o.CacheSize, "CacheSize"),
            (o.DeliveryBatchSize, "DeliveryBatchSize"), (o.MaxGroupCommitSize, "MaxGroupCommitSize"),
        })
        {
            if (value < 1)
            {
                return $"Streams:{setting} must be greater than zero (got {value}).";
            }
        }

        if (o.QueueCapacity < o.CacheSize)
        {
            return $"Streams:QueueCapacity ({o.QueueCapacity}) must be at least Streams:CacheSize ({o.CacheSize}): the pulling agent's cache holds unconsumed batches.";
        }

        foreach (var (value, setting) in new[] { (o.AppendTimeout, "AppendTimeout"), (o.PollPeriod, "PollPeriod"), (o.CheckpointInterval, "CheckpointInterval") })
        {
            if (value <= TimeSpan.Zero)
            {
                return $"Streams:{setting} must be greater than zero (got {value}).";
            }
        }

        if (o.IdleWait < TimeSpan.Zero || o.IdleWait > TimeSpan.FromSeconds(5))
        {
            return $"Streams:IdleWait must be between 00:00:00 and 00:00:05 (got {o.IdleWait}).";
        }

        return null;
    }
}
