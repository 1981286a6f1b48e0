using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// How a consumer tells the log stream provider what it has made durable, so the log is trimmed only below that.
/// A silo singleton. Call <see cref="Persisted"/> after every successful state write, with the token of the last event the
/// written state includes (applied, or skipped as a duplicate). Tokens of other providers are ignored.
/// </summary>
public interface IStreamPersistenceTracker
{
    /// <summary>The consumer of <paramref name="stream"/> persisted every event up to and including <paramref name="token"/>.</summary>
    void Persisted(StreamId stream, StreamSequenceToken token);
}
