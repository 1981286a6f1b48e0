using System.Globalization;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// The position of an event in the log stream provider: <see cref="SequenceNumber"/> is the batch's position in its queue
/// (dense, increasing, stable across restarts of the embedded provider), <see cref="EventIndex"/> the event's index in the batch.
/// Hand it to <see cref="IStreamPersistenceTracker.Persisted"/> after a state write. Never deduplicate by it: other providers'
/// tokens restart with their readers, and the grains dedupe by producer sequence.
/// </summary>
[GenerateSerializer, Immutable, Alias("emstreaming.log-sequence-token")]
public sealed class LogSequenceToken : StreamSequenceToken
{
    /// <summary>Creates a token.</summary>
    /// <param name="position">The batch's position in its queue (≥ 1).</param>
    /// <param name="eventIndex">The event's index within the batch (≥ 0).</param>
    public LogSequenceToken(long position, int eventIndex)
    {
        SequenceNumber = position;
        EventIndex = eventIndex;
    }

    /// <summary>The batch's position in its queue.</summary>
    [Id(0)]
    public override long SequenceNumber { get; protected set; }

    /// <summary>The event's index within the batch.</summary>
    [Id(1)]
    public override int EventIndex { get; protected set; }

    /// <inheritdoc/>
    public override bool Equals(StreamSequenceToken? other) =>
        other is LogSequenceToken token && token.SequenceNumber == SequenceNumber && token.EventIndex == EventIndex;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as StreamSequenceToken);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(SequenceNumber, EventIndex);

    /// <inheritdoc/>
    public override int CompareTo(StreamSequenceToken? other)
    {
        if (other is null)
        {
            return 1;
        }

        if (other is not LogSequenceToken token)
        {
            throw new ArgumentException($"A {nameof(LogSequenceToken)} cannot be compared with a {other.GetType().Name}.", nameof(other));
        }

        var difference = SequenceNumber.CompareTo(token.SequenceNumber);
        return difference != 0 ? difference : EventIndex.CompareTo(token.EventIndex);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[LogSequenceToken: {SequenceNumber}.{EventIndex}]");
}
