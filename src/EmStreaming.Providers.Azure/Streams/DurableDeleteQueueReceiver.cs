using Azure.Storage.Queues.Models;
using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Logging;
using Orleans.AzureUtils;
using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Azure.Streams;

/// <summary>
/// Reads one Azure queue like Orleans' receiver, but deletes a message only once the consumer of its stream has stored
/// its effect. Every read message is tracked (its pop receipt) until then. At most every settle period (half the
/// consumers' <see cref="AzureQueueStreamSettings.CommitInterval"/>, at least the poll period) the receiver asks each stream's consumer which
/// of its tracked batches are durable and deletes those; a batch the consumer cannot judge (no producer sequence) is
/// deleted once the cache has handed it back as delivered, as Orleans does. A message tracked for three quarters of the
/// visibility timeout is let go: it reappears, is delivered again, and its consumer skips it if it was applied.
/// </summary>
/// <remarks>
/// Called by one pulling agent, one call at a time (as Orleans' own receiver is); a settle round runs beside the reads
/// (never more than one), so a consumer that is slow to answer (its silo just died) never stalls reading. Deletion no
/// longer waits for the cache to purge a whole bucket, so queues stay short: Azurite's queue operations cost more on
/// longer queues.
/// </remarks>
internal sealed partial class DurableDeleteQueueReceiver(
    AzureQueueDataManager queue, IQueueDataAdapter<string, IBatchContainer> dataAdapter, IStreamConsumerDurability durability,
    AzureQueueStreamSettings settings, TimeProvider time, ILogger<DurableDeleteQueueReceiver> logger) : IQueueAdapterReceiver
{
    private const int MaxMessagesPerRead = 32;
    private const int MaxIdleBackoff = 4; // times the poll period
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<long, Tracked> _tracked = []; // by the sequence number of the token the receiver gave the batch
    private readonly TimeSpan _settlePeriod = TimeSpan.FromTicks(Math.Max(settings.PollPeriod.Ticks, settings.CommitInterval.Ticks / 2));
    private readonly TimeSpan _letGoAfter = settings.VisibilityTimeout * 3 / 4;
    private AzureQueueDataManager? _queue = queue;
    private long _lastRead;
    private long _lastSettled;
    private long _lastReadAt;
    private int _readWait; // poll periods before the next read: 0 after a full read, 1 after a partial one, up to MaxIdleBackoff when empty
    private Task? _outstanding;
    private Task _settling = Task.CompletedTask;

    /// <summary>The settle round in progress, or a completed task (tests wait on it).</summary>
    internal Task Settling => _settling;

    /// <summary>Messages read and not yet deleted (for tests and metrics).</summary>
    internal int TrackedMessages
    {
        get
        {
            lock (_lock)
            {
                return _tracked.Count;
            }
        }
    }

    public Task Initialize(TimeSpan timeout) => _queue?.InitQueueAsync() ?? Task.CompletedTask;

    public async Task Shutdown(TimeSpan timeout)
    {
        try
        {
            if (_outstanding is { } outstanding)
            {
                await outstanding.ConfigureAwait(false);
            }

            // Whatever is stored by now is deleted; the rest reappears after the visibility timeout for the next reader.
            await _settling.ConfigureAwait(false);
            if (_queue is { } q && TrackedMessages > 0)
            {
                await SettleAsync(q).WaitAsync(timeout).ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            _queue = null;
        }
    }

    public async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount)
    {
        var q = _queue;
        if (q is null)
        {
            return [];
        }

        if (_settling.IsCompleted && time.GetElapsedTime(_lastSettled) >= _settlePeriod && TrackedMessages > 0)
        {
            _lastSettled = time.GetTimestamp();
            _settling = SettleAsync(q);
        }

        // Reads are storage transactions, and a read costs Azure about the same whatever it returns. The agent reads again
        // at once while a read returns anything; only a full read says more is waiting, so after a partial one the next
        // read waits for the next poll, and an empty queue is read less and less often (the agent still calls every poll
        // period; half a period of slack absorbs its timer's jitter).
        if (_readWait > 0 && time.GetElapsedTime(_lastReadAt) < (settings.PollPeriod * _readWait) - (settings.PollPeriod / 2))
        {
            return [];
        }

        _lastReadAt = time.GetTimestamp();
        var count = maxCount is < 0 or QueueAdapterConstants.UNLIMITED_GET_QUEUE_MSG ? MaxMessagesPerRead : Math.Min(maxCount, MaxMessagesPerRead);
        var read = q.GetQueueMessages(count);
        _outstanding = read;
        IEnumerable<QueueMessage> messages;
        try
        {
            messages = await read.ConfigureAwait(false);
        }
        finally
        {
            _outstanding = null;
        }

        var now = time.GetTimestamp();
        var batches = new List<IBatchContainer>();
        foreach (var message in messages)
        {
            var sequence = _lastRead++;
            var batch = dataAdapter.FromQueueMessage(message.MessageText, sequence);
            batches.Add(batch);
            lock (_lock)
            {
                // Only the id and pop receipt are needed to delete it: the text (tens of KB) is not kept.
                _tracked[sequence] = new Tracked(batch, QueuesModelFactory.QueueMessage(message.MessageId, message.PopReceipt, string.Empty, message.DequeueCount), now);
            }
        }

        _readWait = batches.Count >= count ? 0 : batches.Count > 0 ? 1 : Math.Clamp(_readWait * 2, 2, MaxIdleBackoff);
        return batches;
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages)
    {
        lock (_lock)
        {
            foreach (var batch in messages)
            {
                if (batch.SequenceToken is { } token && _tracked.TryGetValue(token.SequenceNumber, out var tracked))
                {
                    tracked.Delivered = true;
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Asks the consumers what they have stored and deletes those messages; lets go of messages about to reappear.</summary>
    private async Task SettleAsync(AzureQueueDataManager q)
    {
        await Task.Yield(); // off the read loop's turn
        var expired = 0;
        var byStream = new Dictionary<StreamId, List<(long Sequence, Tracked Tracked)>>();
        lock (_lock)
        {
            foreach (var (sequence, tracked) in _tracked)
            {
                if (time.GetElapsedTime(tracked.ReadAt) >= _letGoAfter)
                {
                    _tracked.Remove(sequence);
                    expired++;
                    continue;
                }

                if (!byStream.TryGetValue(tracked.Batch.StreamId, out var list))
                {
                    byStream[tracked.Batch.StreamId] = list = [];
                }

                list.Add((sequence, tracked));
            }
        }

        if (expired > 0)
        {
            LogLetGo(expired, q.QueueName);
        }

        var answers = await Task.WhenAll(byStream.Select(async pair =>
        {
            try
            {
                var durable = await durability.AreDurableAsync(pair.Key, [.. pair.Value.Select(t => t.Tracked.Batch)]).WaitAsync(AskTimeout).ConfigureAwait(false);
                return (pair.Value, Durable: durable);
            }
            catch (Exception e)
            {
                // The consumer is unreachable (its silo is gone, it is reactivating): ask again next time.
                LogNotAsked(e, pair.Key);
                return (pair.Value, Durable: Array.Empty<bool?>());
            }
        })).ConfigureAwait(false);

        var deletions = new List<QueueMessage>();
        lock (_lock)
        {
            foreach (var (entries, durable) in answers)
            {
                for (var i = 0; i < entries.Count; i++)
                {
                    var (sequence, tracked) = entries[i];
                    var stored = durable is null ? tracked.Delivered
                        : i < durable.Length && (durable[i] ?? tracked.Delivered);
                    if (stored && _tracked.Remove(sequence))
                    {
                        deletions.Add(tracked.Message);
                    }
                }
            }
        }

        if (deletions.Count == 0)
        {
            return;
        }

        try
        {
            await Task.WhenAll(deletions.Select(q.DeleteQueueMessage)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Not lost: an undeleted message reappears after the visibility timeout and its consumer skips it as applied.
            LogDeleteFailed(e, q.QueueName);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} messages of queue {Queue} were not stored by their consumers within three quarters of the visibility timeout; they will be delivered again")]
    private partial void LogLetGo(int count, string queue);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The consumer of stream {Stream} could not say what it has stored; asking again later")]
    private partial void LogNotAsked(Exception exception, StreamId stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting stored messages from queue {Queue} failed; they will be delivered again and skipped as applied")]
    private partial void LogDeleteFailed(Exception exception, string queue);

    private sealed class Tracked(IBatchContainer batch, QueueMessage message, long readAt)
    {
        public IBatchContainer Batch { get; } = batch;

        public QueueMessage Message { get; } = message;

        public long ReadAt { get; } = readAt;

        /// <summary>The cache handed it back: every consumer has had it.</summary>
        public bool Delivered { get; set; }
    }
}
