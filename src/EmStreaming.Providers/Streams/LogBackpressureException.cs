namespace EmStreaming.Providers.Streams;

/// <summary>
/// A producer waited longer than <see cref="LogStreamOptions.AppendTimeout"/> for room in a full queue of the log stream
/// provider. Nothing was appended. The consumers are slower than the producers: slow down, retry later, or raise the setting.
/// </summary>
public sealed class LogBackpressureException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="provider">The stream provider's name.</param>
    /// <param name="queue">The queue number.</param>
    /// <param name="capacity">The queue's capacity in batches.</param>
    /// <param name="timeout">How long the producer waited.</param>
    public LogBackpressureException(string provider, int queue, int capacity, TimeSpan timeout)
        : base($"Queue {queue} of stream provider '{provider}' stayed full ({capacity} unconsumed batches) for {timeout}; the batch was not appended. " +
               "The consumers are slower than the producers: slow down, retry later, or raise Streams:AppendTimeout or Streams:QueueCapacity.")
    {
        Provider = provider;
        Queue = queue;
        Capacity = capacity;
        Timeout = timeout;
    }

    /// <summary>The stream provider's name.</summary>
    public string Provider { get; }

    /// <summary>The full queue.</summary>
    public int Queue { get; }

    /// <summary>Its capacity in batches.</summary>
    public int Capacity { get; }

    /// <summary>How long the producer waited.</summary>
    public TimeSpan Timeout { get; }
}
