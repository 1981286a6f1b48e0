using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>The silo's <see cref="IStreamBacklog"/>: each log stream provider registers its log, mapper and serializer.</summary>
internal sealed class StreamBacklog : IStreamBacklog
{
    private readonly object _lock = new();
    private volatile Source[] _sources = [];

    public TimeSpan RedeliveryHorizon => TimeSpan.Zero;

    public void Register(string name, IStreamLog log, IStreamQueueMapper mapper, Serializer<LogMessageBody> serializer)
    {
        lock (_lock)
        {
            _sources = [.. _sources.Where(s => s.Name != name), new Source(name, log, mapper, serializer)];
        }
    }

    public async ValueTask<IReadOnlyList<StreamBacklogEvent>?> ReadAsync(string provider, StreamId stream, CancellationToken cancellationToken = default)
    {
        if (Array.Find(_sources, s => s.Name == provider) is not { } source)
        {
            return null;
        }

        var queue = (int)source.Mapper.GetQueueForStream(stream).GetNumericId();
        // SQLite reads are synchronous: off the caller's scheduler (a grain turn), so its other work is not blocked meanwhile.
        var entries = await Task.Run(() => source.Log.ReadStream(queue, stream, source.Log.GetCheckpoint(queue)), cancellationToken).ConfigureAwait(false);
        var events = new List<StreamBacklogEvent>();
        foreach (var entry in entries)
        {
            LogMessageBody? body;
            try
            {
                body = source.Serializer.Deserialize(entry.Payload);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                body = null; // the receiver logs and passes over an undecodable entry: it is never delivered, so not outstanding
            }

            if (body is null)
            {
                continue;
            }

            for (var i = 0; i < body.Events.Count; i++)
            {
                events.Add(new StreamBacklogEvent(body.Events[i], new LogSequenceToken(entry.Position, i)));
            }
        }

        return events;
    }

    private sealed record Source(string Name, IStreamLog Log, IStreamQueueMapper Mapper, Serializer<LogMessageBody> Serializer);
}
