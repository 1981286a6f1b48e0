using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// The silo's <see cref="IStreamPersistenceTracker"/>: routes a persisted position to the queue tracker of the receiver that
/// delivered it. Each log stream provider registers its stream-to-queue mapper; each receiver its queue's tracker.
/// </summary>
internal sealed class StreamPersistenceTracker : IStreamPersistenceTracker
{
    // Copy-on-write: Persisted runs on every grain state write and takes no lock.
    private readonly object _lock = new();
    private volatile Provider[] _providers = [];

    public void Persisted(StreamId stream, StreamSequenceToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token is not LogSequenceToken)
        {
            return;
        }

        foreach (var provider in _providers)
        {
            var queue = provider.Mapper.GetQueueForStream(stream).GetNumericId();
            if (queue < provider.Queues.Length)
            {
                Volatile.Read(ref provider.Queues[queue])?.OnPersisted(stream, token.SequenceNumber);
            }
        }
    }

    public void RegisterProvider(string name, IStreamQueueMapper mapper, int queueCount)
    {
        lock (_lock)
        {
            _providers = [.. _providers.Where(p => p.Name != name), new Provider(name, mapper, new QueueTracker?[queueCount])];
        }
    }

    public void RegisterQueue(string name, int queue, QueueTracker? tracker)
    {
        var provider = Array.Find(_providers, p => p.Name == name)
            ?? throw new InvalidOperationException($"Stream provider '{name}' is not registered with the persistence tracker.");
        Volatile.Write(ref provider.Queues[queue], tracker);
    }

    private sealed record Provider(string Name, IStreamQueueMapper Mapper, QueueTracker?[] Queues);
}
