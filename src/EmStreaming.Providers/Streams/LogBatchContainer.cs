using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>What a producer's batch is stored as in the log: its events and request context, serialized by Orleans.</summary>
[GenerateSerializer, Alias("emstreaming.log-message-body")]
internal sealed class LogMessageBody(List<object> events, Dictionary<string, object>? requestContext)
{
    [Id(0)]
    public List<object> Events { get; } = events;

    [Id(1)]
    public Dictionary<string, object>? RequestContext { get; } = requestContext;
}

/// <summary>One log entry as the pulling agent sees it: the decoded events of one producer batch at one position.</summary>
[GenerateSerializer, Alias("emstreaming.log-batch-container")]
internal sealed class LogBatchContainer(StreamId streamId, List<object> events, Dictionary<string, object>? requestContext, LogSequenceToken token) : IBatchContainer
{
    [Id(0)]
    public StreamId StreamId { get; } = streamId;

    [Id(1)]
    public List<object> Events { get; } = events;

    [Id(2)]
    public Dictionary<string, object>? RequestContext { get; } = requestContext;

    [Id(3)]
    public LogSequenceToken Token { get; } = token;

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>()
    {
        for (var i = 0; i < Events.Count; i++)
        {
            if (Events[i] is T value)
            {
                yield return Tuple.Create<T, StreamSequenceToken>(value, i == 0 ? Token : new LogSequenceToken(Token.SequenceNumber, i));
            }
        }
    }

    public bool ImportRequestContext()
    {
        if (RequestContext is null)
        {
            return false;
        }

        RequestContextExtensions.Import(RequestContext);
        return true;
    }

    public override string ToString() => $"[LogBatchContainer: {StreamId} {Token} ({Events.Count} events)]";
}
