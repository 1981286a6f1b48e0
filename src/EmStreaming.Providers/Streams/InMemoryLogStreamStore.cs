namespace EmStreaming.Providers.Streams;

/// <summary>
/// Holds the in-memory logs of the <see cref="LogStreamBackend.InMemory"/> backend, by provider name. Registered as a DI
/// singleton by <c>AddEmStreamingLogStreams</c>; a test that restarts a silo registers one instance in both silos, so the
/// second silo reads what the first left unpersisted (a process restart loses it, as memory does).
/// </summary>
public sealed class InMemoryLogStreamStore
{
    private readonly Dictionary<string, InMemoryStreamLog> _logs = new(StringComparer.Ordinal);

    internal IStreamLog GetOrCreate(string provider, LogStreamOptions options, TimeProvider timeProvider)
    {
        lock (_logs)
        {
            if (_logs.TryGetValue(provider, out var log))
            {
                if (log.QueueCount != options.Queues)
                {
                    throw new InvalidOperationException(
                        $"The in-memory log of stream provider '{provider}' has {log.QueueCount} queues but Streams:Queues is {options.Queues}.");
                }

                return log;
            }

            return _logs[provider] = new InMemoryStreamLog(provider, options, timeProvider);
        }
    }
}
