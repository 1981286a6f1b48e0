namespace EmStreaming.Runtime;

/// <summary>A producer waited for room in a full mailbox or stream partition longer than the configured timeout. Nothing was enqueued.</summary>
public sealed class BackpressureTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="queue">What was full, e.g. "mailbox of counter/k1" or "stream partition 3".</param>
    /// <param name="capacity">Its capacity.</param>
    /// <param name="timeout">How long the producer waited.</param>
    /// <param name="setting">The setting that controls the timeout, e.g. "SiloOptions.EnqueueTimeout".</param>
    public BackpressureTimeoutException(string queue, int capacity, TimeSpan timeout, string setting)
        : base($"The {queue} stayed full (capacity {capacity}) for {timeout}; the item was not enqueued. The consumer is slower than the producers: slow down, retry later, or raise {setting}.")
    {
        Queue = queue;
        Capacity = capacity;
        Timeout = timeout;
    }

    /// <summary>What was full.</summary>
    public string Queue { get; }

    /// <summary>The capacity of the full queue.</summary>
    public int Capacity { get; }

    /// <summary>How long the producer waited.</summary>
    public TimeSpan Timeout { get; }
}
