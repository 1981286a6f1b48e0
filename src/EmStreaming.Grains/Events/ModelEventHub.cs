using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace EmStreaming.Grains.Events;

/// <summary>
/// In-process fan-out of model events. Each subscriber has a bounded queue; when it is full the oldest event is
/// dropped (the grain never waits for a reader) and the subscriber is told how many it missed by a
/// <see cref="ModelEventType.Dropped"/> event before the next one it reads.
/// </summary>
internal sealed class ModelEventHub
{
    public const int SubscriberCapacity = 1_024;

    private readonly Lock _lock = new();
    private Subscriber[] _subscribers = [];

    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;

    public void Publish(ModelEvent e)
    {
        foreach (var s in Volatile.Read(ref _subscribers))
        {
            if (s.ModelId is null || s.ModelId == e.ModelId)
            {
                s.Write(e);
            }
        }
    }

    public async IAsyncEnumerable<ModelEvent> SubscribeAsync(string? id, TimeProvider clock, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var subscriber = new Subscriber(id);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, subscriber];
        }

        try
        {
            while (await subscriber.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (subscriber.Reader.TryRead(out var e))
                {
                    var dropped = Interlocked.Exchange(ref subscriber.Dropped, 0);
                    if (dropped > 0)
                    {
                        yield return new ModelEvent
                        {
                            ModelId = id ?? e.ModelId, Type = ModelEventType.Dropped, Time = clock.GetUtcNow(),
                            Message = $"{dropped} events were dropped because this subscriber read too slowly",
                        };
                    }

                    yield return e;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _subscribers = [.. _subscribers.Where(s => s != subscriber)];
            }
        }
    }

    private sealed class Subscriber
    {
        private readonly Channel<ModelEvent> _channel;
        public long Dropped;

        public Subscriber(string? modelId)
        {
            ModelId = modelId;
            _channel = Channel.CreateBounded<ModelEvent>(
                new BoundedChannelOptions(SubscriberCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
                _ => Interlocked.Increment(ref Dropped));
        }

        public string? ModelId { get; }

        public ChannelReader<ModelEvent> Reader => _channel.Reader;

        public void Write(ModelEvent e) => _channel.Writer.TryWrite(e);
    }
}
