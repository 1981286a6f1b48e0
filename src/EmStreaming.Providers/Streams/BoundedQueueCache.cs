using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// Orleans' <see cref="SimpleQueueCache"/>, with its size made visible. SimpleQueueCache reports pressure only by its cursor
/// histogram and throws <c>CacheFullException</c> when an add exceeds its size; the agent has then already taken the batch
/// from the receiver, so it would be lost until a restart. Here a full cache is pressure (the agent purges, then stops
/// reading), and the receiver never returns more than <see cref="FreeRoom"/>, which it reads after the agent's purge.
/// </summary>
/// <remarks>
/// <see cref="GetMaxAddCount"/> must stay positive: the agent skips the whole read, purge included, when it is zero, and a
/// full cache would then never empty.
/// </remarks>
internal sealed class BoundedQueueCache(SimpleQueueCache inner, int size) : IQueueCache
{
    /// <summary>Batches the cache can still take (read by the receiver on the agent's turn, after the agent's purge).</summary>
    public int FreeRoom => size - inner.Size;

    public int GetMaxAddCount() => inner.GetMaxAddCount();

    public bool IsUnderPressure() => inner.Size >= size || inner.IsUnderPressure();

    public void AddToCache(IList<IBatchContainer> messages) => inner.AddToCache(messages);

    public bool TryPurgeFromCache([MaybeNullWhen(false)] out IList<IBatchContainer> purgedItems) => inner.TryPurgeFromCache(out purgedItems);

    [Obsolete("Use IQueueCache.TryGetCacheCursor instead.")]
    public IQueueCacheCursor GetCacheCursor(StreamId streamId, StreamSequenceToken? token) => inner.GetCacheCursor(streamId, token);

    public QueueCacheCursorResult<IQueueCacheCursor> TryGetCacheCursor(StreamId streamId, StreamSequenceToken? token) =>
        ((IQueueCache)inner).TryGetCacheCursor(streamId, token);

    public QueueCacheCursorResult<IQueueCacheCursor> TryGetCacheCursorAtPosition(StreamId streamId, StreamSubscriptionStartPosition startPosition) =>
        ((IQueueCache)inner).TryGetCacheCursorAtPosition(streamId, startPosition);

    public void UpdateDeliveryProgress(StreamSequenceToken? earliestSubscriptionToken, DateTime utcNow) =>
        ((IQueueCache)inner).UpdateDeliveryProgress(earliestSubscriptionToken, utcNow);
}

/// <summary>Creates a <see cref="BoundedQueueCache"/> per queue and lets the queue's receiver see its free room.</summary>
internal sealed class BoundedQueueAdapterCache(int size, string provider, ILoggerFactory loggerFactory) : IQueueAdapterCache
{
    private readonly ConcurrentDictionary<QueueId, BoundedQueueCache> _caches = new();

    public IQueueCache CreateQueueCache(QueueId queueId)
    {
        var cache = new BoundedQueueCache(new SimpleQueueCache(size, loggerFactory.CreateLogger($"{typeof(SimpleQueueCache).FullName}.{provider}.{queueId}")), size);
        _caches[queueId] = cache;
        return cache;
    }

    /// <summary>The free room of the queue's current cache; unbounded before the agent created one.</summary>
    public int FreeRoom(QueueId queueId) => _caches.TryGetValue(queueId, out var cache) ? cache.FreeRoom : int.MaxValue;
}
