using EmStreaming.Providers.Streams;
using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>
/// With Azure Queue streams there is no log to trim: a message is deleted once delivered, and the consumer has stored
/// its effect before returning. Consumers still report what they persisted; nothing needs to hear it.
/// </summary>
internal sealed class NoStreamPersistenceTracker : IStreamPersistenceTracker
{
    public void Persisted(StreamId stream, StreamSequenceToken token)
    {
    }
}
