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
/// its effect. Every read message is tracked (its pop receipt) until then. Each stream with tracked messages has one settle
/// loop: it asks the stream's consumer which of them are durable, letting the consumer hold the answer until its next store
/// (at most twice the consumers' <see cref="AzureQueueStreamSettings.CommitInterval"/>), deletes what is, and asks again; an
/// answer that deletes nothing is followed by a pause of the settle period (half the commit interval, at least the poll
/// period). So a message is deleted right after the store that covers it, and a quiet consumer is asked about once per store.
/// A batch the consumer cannot judge (no producer sequence) is deleted once the cache has handed it back as delivered, as
/// Orleans does. A message tracked for three quarters of the visibility timeout is let go: it reappears, is delivered again,
/// and its consumer skips it if it was applied.
/// </summary>
/// <remarks>
/// Called by one pulling agent, one call at a time (as Orleans' own receiver is); the settle loops run beside the reads, so a
/// consumer that is slow to answer (its silo just died) never stalls reading or the other streams. Deletion does not wait for
/// the cache to purge a whole bucket, so queues stay short: Azurite's queue operations cost more on longer queues.
/// </remarks>
internal sealed partial class DurableDeleteQueueReceiver(
    AzureQueueDataManager queue, IQueueDataAdapter<string, IBatchContainer> dataAdapter, IStreamConsumerDurability durability,
    AzureQueueStreamSettings settings, TimeProvider time, ILogger<DurableDeleteQueueReceiver> logger) : IQueueAdapterReceiver
{
    private const int MaxMessagesPerRead = 32;
    private const int MaxIdleBackoff = 4; // times the poll period
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    // By stream, then by the sequence number of the token the receiver gave the batch: a settle loop reads only its own.
    private readonly Dictionary<StreamId, Dictionary<long, Tracked>> _tracked = [];
    private readonly Dictionary<StreamId, Task> _settlers = []; // the settle loop of each stream with tracked messages
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _settlePeriod = TimeSpan.FromTicks(Math.Max(settings.PollPeriod.Ticks, settings.CommitInterval.Ticks / 2));
    private readonly TimeSpan _askWait = TimeSpan.FromTicks(Math.Clamp(
        Math.Max(settings.CommitInterval.Ticks, settings.PollPeriod.Ticks) * 2, TimeSpan.TicksPerMillisecond * 100, AskTimeout.Ticks / 2));
    private readonly TimeSpan _letGoAfter = settings.VisibilityTimeout * 3 / 4;
    private AzureQueueDataManager? _queue = queue;
    private long _lastRead;
    private long _lastReadAt;
    private int _readWait; // poll periods before the next read: 0 after a full read, 1 after a partial one, up to MaxIdleBackoff when empty
    private int _trackedCount;
    private int _pausedSettlers; // settle loops pausing after an answer that deleted nothing (tests wait for all to get there)
    private Task? _outstanding;

    /// <summary>Messages read and not yet deleted (for tests and metrics).</summary>
    internal int TrackedMessages
    {
        get
        {
            lock (_lock)
            {
                return _trackedCount;
            }
        }
    }

    /// <summary>
    /// Whether every settle loop is pausing (its last answer deleted nothing) or done: nothing more happens until time
    /// passes or a consumer stores (tests wait for it).
    /// </summary>
    internal bool SettleIdle
    {
        get
        {
            lock (_lock)
            {
                return Volatile.Read(ref _pausedSettlers) == _settlers.Count;
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
            await _stopping.CancelAsync().ConfigureAwait(false);
            Task[] loops;
            lock (_lock)
            {
                loops = [.. _settlers.Values];
            }

            await Task.WhenAll(loops).WaitAsync(timeout).ConfigureAwait(false);
            if (_queue is { } q)
            {
                List<(StreamId Stream, List<(long Sequence, Tracked Tracked)> Entries)> streams;
                lock (_lock)
                {
                    streams = [.. _tracked.Select(s => (s.Key, s.Value.Select(t => (t.Key, t.Value)).ToList()))];
                }

                await Task.WhenAll(streams.Select(s => AskAndDeleteAsync(q, s.Stream, s.Entries, TimeSpan.Zero, timeout, CancellationToken.None)))
                    .WaitAsync(timeout).ConfigureAwait(false);
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
                if (!_tracked.TryGetValue(batch.StreamId, out var ofStream))
                {
                    _tracked[batch.StreamId] = ofStream = [];
                }

                ofStream[sequence] = new Tracked(batch, QueuesModelFactory.QueueMessage(message.MessageId, message.PopReceipt, string.Empty, message.DequeueCount), now);
                _trackedCount++;
                if (!_stopping.IsCancellationRequested && (!_settlers.TryGetValue(batch.StreamId, out var loop) || loop.IsCompleted))
                {
                    _settlers[batch.StreamId] = SettleStreamAsync(q, batch.StreamId);
                }
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
                if (batch.SequenceToken is { } token && _tracked.TryGetValue(batch.StreamId, out var ofStream)
                    && ofStream.TryGetValue(token.SequenceNumber, out var tracked))
                {
                    tracked.Delivered = true;
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// The settle loop of one stream: while it has tracked messages, asks its consumer (who may wait for its next store) and
    /// deletes what is stored, pausing a settle period after an answer that deleted nothing; lets go of messages about to
    /// reappear. Ends, under the lock, when the stream has nothing tracked; a later read starts a new one.
    /// </summary>
    private async Task SettleStreamAsync(AzureQueueDataManager q, StreamId stream)
    {
        await Task.Yield(); // off the read loop's turn, and after the caller has registered this loop
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            var expired = 0;
            var entries = new List<(long Sequence, Tracked Tracked)>();
            lock (_lock)
            {
                if (_tracked.TryGetValue(stream, out var ofStream))
                {
                    foreach (var (sequence, tracked) in ofStream)
                    {
                        if (time.GetElapsedTime(tracked.ReadAt) >= _letGoAfter)
                        {
                            Untrack(ofStream, stream, sequence);
                            expired++;
                        }
                        else
                        {
                            entries.Add((sequence, tracked));
                        }
                    }
                }

                if (entries.Count == 0)
                {
                    _settlers.Remove(stream);
                }
            }

            if (expired > 0)
            {
                LogLetGo(expired, q.QueueName);
            }

            if (entries.Count == 0)
            {
                return;
            }

            // An ask must end before the oldest entry is let go (its pop receipt lapses then), however long the consumer holds it.
            var oldest = entries.Min(e => e.Tracked.ReadAt);
            var untilLetGo = _letGoAfter - time.GetElapsedTime(oldest);
            int deleted;
            try
            {
                deleted = await AskAndDeleteAsync(q, stream, entries, TimeSpan.FromTicks(Math.Min(_askWait.Ticks, untilLetGo.Ticks / 2)), untilLetGo, stopping)
                    .ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return; // Shutdown asks once more for whatever is still tracked
            }

            var pause = _settlePeriod - time.GetElapsedTime(started);
            if (deleted == 0 && pause > TimeSpan.Zero)
            {
                // The timer exists before the loop counts as paused: a test that sees it paused and moves the clock fires it.
                var delay = Task.Delay(pause, time, stopping);
                Interlocked.Increment(ref _pausedSettlers);
                try
                {
                    await delay.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                finally
                {
                    Interlocked.Decrement(ref _pausedSettlers);
                }
            }
        }
    }

    /// <summary>
    /// Asks the stream's consumer about <paramref name="entries"/> (offering it <paramref name="wait"/>, giving up after
    /// <paramref name="timeout"/>), deletes the stored ones; how many were deleted.
    /// </summary>
    private async Task<int> AskAndDeleteAsync(
        AzureQueueDataManager q, StreamId stream, List<(long Sequence, Tracked Tracked)> entries, TimeSpan wait, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        bool?[]? durable;
        try
        {
            durable = await durability.AreDurableAsync(stream, [.. entries.Select(t => t.Tracked.Batch)], wait)
                .WaitAsync(TimeSpan.FromTicks(Math.Clamp(timeout.Ticks, TimeSpan.TicksPerMillisecond, (AskTimeout + wait).Ticks)), time, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The consumer is unreachable (its silo is gone, it is reactivating): ask again next time.
            LogNotAsked(e, stream);
            return 0;
        }

        var deletions = new List<QueueMessage>();
        lock (_lock)
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var (sequence, tracked) = entries[i];
                var stored = durable is null ? tracked.Delivered : i < durable.Length && (durable[i] ?? tracked.Delivered);
                if (stored && _tracked.TryGetValue(stream, out var ofStream) && Untrack(ofStream, stream, sequence))
                {
                    deletions.Add(tracked.Message);
                }
            }
        }

        if (deletions.Count > 0)
        {
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

        return deletions.Count;
    }

    /// <summary>Stops tracking one message (under the lock); false when it was no longer tracked.</summary>
    private bool Untrack(Dictionary<long, Tracked> ofStream, StreamId stream, long sequence)
    {
        if (!ofStream.Remove(sequence))
        {
            return false;
        }

        _trackedCount--;
        if (ofStream.Count == 0)
        {
            _tracked.Remove(stream);
        }

        return true;
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
