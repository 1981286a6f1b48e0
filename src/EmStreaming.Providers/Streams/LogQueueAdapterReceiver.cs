using Microsoft.Extensions.Logging;
using Orleans.Serialization;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// Reads one queue of the log for its pulling agent: many entries per poll (from memory while it keeps up), decoded into
/// <see cref="LogBatchContainer"/>s. Every delivery is recorded in the queue's <see cref="QueueTracker"/>; every
/// <see cref="LogStreamOptions.CheckpointInterval"/> the checkpoint moves to just below the oldest delivered-but-unpersisted
/// entry and the log is trimmed there. After a restart, reading starts at the committed checkpoint.
/// </summary>
internal sealed partial class LogQueueAdapterReceiver : IQueueAdapterReceiver
{
    private readonly string _provider;
    private readonly int _queue;
    private readonly IStreamLog _log;
    private readonly Serializer<LogMessageBody> _serializer;
    private readonly LogStreamOptions _options;
    private readonly Func<int> _cacheRoom;
    private readonly StreamPersistenceTracker _persistence;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private QueueTracker? _tracker;
    private long _readPosition;
    private long _committed;
    private long _lastCheckpointAt;

    public LogQueueAdapterReceiver(
        string provider, int queue, IStreamLog log, Serializer<LogMessageBody> serializer, LogStreamOptions options, Func<int> cacheRoom,
        StreamPersistenceTracker persistence, TimeProvider timeProvider, ILogger logger)
    {
        _provider = provider;
        _queue = queue;
        _log = log;
        _serializer = serializer;
        _options = options;
        _cacheRoom = cacheRoom;
        _persistence = persistence;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public Task Initialize(TimeSpan timeout)
    {
        var checkpoint = _log.GetCheckpoint(_queue);
        _readPosition = checkpoint;
        _committed = checkpoint;
        _tracker = new QueueTracker(checkpoint);
        _lastCheckpointAt = _timeProvider.GetTimestamp();
        _persistence.RegisterQueue(_provider, _queue, _tracker);
        LogStarted(_provider, _queue, checkpoint);
        return Task.CompletedTask;
    }

    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount) => GetQueueMessagesAsync(maxCount, CancellationToken.None);

    public async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        var tracker = _tracker ?? throw new InvalidOperationException($"Receiver of queue {_queue} of '{_provider}' was not initialised.");
        if (_timeProvider.GetElapsedTime(_lastCheckpointAt) >= _options.CheckpointInterval)
        {
            await CheckpointAsync(tracker, cancellationToken).ConfigureAwait(false);
        }

        // Never more than the agent's cache can take now: a batch it fails to cache would be lost until a restart.
        var count = Math.Min(_cacheRoom(), maxCount == QueueAdapterConstants.UNLIMITED_GET_QUEUE_MSG ? _options.ReadBatchSize : Math.Min(maxCount, _options.ReadBatchSize));
        if (count <= 0)
        {
            return [];
        }

        var entries = _log.Read(_queue, _readPosition, count);
        if (entries.Count == 0)
        {
            // Nothing to read: wait here for the next append (every append is made in this process and rings the queue's
            // bell) rather than answer at once and be polled again every PollPeriod. An idle silo's eight agents polled 800
            // times a second and took 6 % of a core doing it (docs/benchmarks.md, "Idle").
            if (!await _log.WaitForEntriesAsync(_queue, _readPosition, _options.IdleWait, cancellationToken).ConfigureAwait(false))
            {
                return [];
            }

            entries = _log.Read(_queue, _readPosition, count);
            if (entries.Count == 0)
            {
                return [];
            }
        }

        var batches = new List<IBatchContainer>(entries.Count);
        foreach (var entry in entries)
        {
            LogMessageBody body;
            try
            {
                body = _serializer.Deserialize(entry.Payload) ?? throw new FormatException("The entry decodes to null.");
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A poison entry must not stall its queue: it is logged with its position and passed over.
                LogUndecodable(ex, _provider, _queue, entry.Position, entry.Stream.ToString());
                tracker.OnSkipped(entry.Position);
                continue;
            }

            tracker.OnDelivering(entry.Stream, entry.Position);
            batches.Add(new LogBatchContainer(entry.Stream, body.Events, body.RequestContext, new LogSequenceToken(entry.Position, 0)));
        }

        _readPosition = entries[^1].Position;
        return batches;
    }

    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) => MessagesDeliveredAsync(messages, CancellationToken.None);

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken)
    {
        // Delivered to every consumer (the agent's cache let go of them): their producer slots are free again.
        // Trimming waits for the consumers' Persisted calls instead.
        var last = 0L;
        foreach (var message in messages)
        {
            last = Math.Max(last, message.SequenceToken.SequenceNumber);
        }

        if (last > 0)
        {
            _log.Acknowledge(_queue, last);
        }

        return Task.CompletedTask;
    }

    public async Task Shutdown(TimeSpan timeout)
    {
        if (_tracker is { } tracker)
        {
            using var cancel = new CancellationTokenSource(timeout);
            await CheckpointAsync(tracker, cancel.Token).ConfigureAwait(false);
            _persistence.RegisterQueue(_provider, _queue, null);
            _tracker = null;
        }
    }

    private async Task CheckpointAsync(QueueTracker tracker, CancellationToken cancellationToken)
    {
        _lastCheckpointAt = _timeProvider.GetTimestamp();
        var safe = tracker.SafePosition;
        if (safe <= _committed)
        {
            return;
        }

        try
        {
            await _log.CommitCheckpointAsync(_queue, safe, cancellationToken).ConfigureAwait(false);
            _committed = safe;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The entries stay in the log and the next interval tries again; delivery goes on.
            LogCheckpointFailed(ex, _provider, _queue, safe);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Log stream provider {Provider} queue {Queue}: reading from checkpoint {Checkpoint}")]
    private partial void LogStarted(string provider, int queue, long checkpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Log stream provider {Provider} queue {Queue}: entry {Position} of stream {Stream} cannot be decoded and is skipped")]
    private partial void LogUndecodable(Exception exception, string provider, int queue, long position, string stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log stream provider {Provider} queue {Queue}: committing checkpoint {Position} failed; retrying at the next interval")]
    private partial void LogCheckpointFailed(Exception exception, string provider, int queue, long position);
}
