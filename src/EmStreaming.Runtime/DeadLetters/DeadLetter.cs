using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.DeadLetters;

/// <summary>A message whose turn failed, with the reason. Stream items keep their payload so they can be inspected or replayed by hand.</summary>
/// <param name="Id">Sequence number assigned by the store.</param>
/// <param name="Grain">The grain whose turn failed.</param>
/// <param name="Timestamp">When the failure was recorded.</param>
/// <param name="MessageType">The message's type name, or "stream", "timer", "background-job", "activation".</param>
/// <param name="Reason">The exception message (or why the message could not be processed).</param>
/// <param name="ExceptionType">Full name of the exception type, if any.</param>
/// <param name="Stream">For stream items: the stream.</param>
/// <param name="Position">For stream items: the position in its partition.</param>
/// <param name="Payload">For stream items: the payload; empty otherwise.</param>
public sealed record DeadLetter(
    long Id, GrainId Grain, DateTimeOffset Timestamp, string MessageType, string Reason, string? ExceptionType,
    StreamId? Stream, long? Position, ReadOnlyMemory<byte> Payload);

/// <summary>Where dead letters go. Bounded: the oldest are dropped beyond the configured capacity.</summary>
internal interface IDeadLetterStore : IAsyncDisposable
{
    ValueTask AddAsync(DeadLetter letter, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    ValueTask<IReadOnlyList<DeadLetter>> ListAsync(GrainId? grain, int max, CancellationToken cancellationToken);
}

/// <summary>Keeps at most <c>capacity</c> dead letters in memory, dropping the oldest; a stream item is recorded once per (grain, stream, position).</summary>
internal sealed class InMemoryDeadLetterStore(int capacity) : IDeadLetterStore
{
    private readonly LinkedList<DeadLetter> _letters = new();
    private long _nextId;

    public ValueTask AddAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        lock (_letters)
        {
            if (letter.Position is not null && _letters.Any(l => l.Grain == letter.Grain && l.Stream == letter.Stream && l.Position == letter.Position))
            {
                return ValueTask.CompletedTask;
            }

            _letters.AddLast(letter with { Id = ++_nextId });
            while (_letters.Count > capacity)
            {
                _letters.RemoveFirst();
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<DeadLetter>> ListAsync(GrainId? grain, int max, CancellationToken cancellationToken)
    {
        lock (_letters)
        {
            IReadOnlyList<DeadLetter> result = _letters.Reverse().Where(l => grain is null || l.Grain == grain).Take(max).ToList();
            return ValueTask.FromResult(result);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
