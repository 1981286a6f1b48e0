using EmStreaming.Providers.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Streams;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// The durable log stream provider, in the shape of Orleans' MemoryStreams adapter: factory, adapter and cache provider in
/// one. <see cref="QueueMessageBatchAsync"/> serializes the batch with Orleans' serializer and completes once the log has
/// committed it (SQLite: group commit with fsync); a full queue makes it wait up to <see cref="LogStreamOptions.AppendTimeout"/>.
/// </summary>
internal sealed partial class LogQueueAdapterFactory : IQueueAdapterFactory, IQueueAdapter, IAsyncDisposable
{
    private readonly LogStreamOptions _options;
    private readonly IStreamLog _log;
    private readonly bool _ownsLog;
    private readonly Serializer<LogMessageBody> _serializer;
    private readonly StreamPersistenceTracker _persistence;
    private readonly HashRingBasedStreamQueueMapper _mapper;
    private readonly BoundedQueueAdapterCache _cache;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IStreamFailureHandler _failureHandler = new NoOpStreamDeliveryFailureHandler();

    public LogQueueAdapterFactory(
        string name, LogStreamOptions options, IStreamLog log, bool ownsLog, Serializer<LogMessageBody> serializer,
        StreamPersistenceTracker persistence, StreamBacklog backlog, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        Name = name;
        _options = options.Clone();
        _log = log;
        _ownsLog = ownsLog;
        _serializer = serializer;
        _persistence = persistence;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<LogQueueAdapterFactory>();
        _mapper = new HashRingBasedStreamQueueMapper(new HashRingStreamQueueMapperOptions { TotalQueueCount = _options.Queues }, name);
        _cache = new BoundedQueueAdapterCache(_options.CacheSize, name, loggerFactory);
        _persistence.RegisterProvider(name, _mapper, _options.Queues);
        backlog.Register(name, log, _mapper, serializer);
    }

    public string Name { get; }

    /// <summary>Not rewindable: a subscriber cannot ask for a past token; implicit consumers resume from the checkpoint.</summary>
    public bool IsRewindable => false;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    internal IStreamLog Log => _log;

    /// <summary>Creates the factory of provider <paramref name="name"/> from the silo's services (the delegate given to AddPersistentStreams).</summary>
    public static LogQueueAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<LogStreamOptions>>().Get(name);
        if (LogStreamOptionsValidator.Check(options) is { } error)
        {
            throw new OptionsValidationException(name, typeof(LogStreamOptions), [error]);
        }

        var timeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var loggerFactory = services.GetRequiredService<ILoggerFactory>();
        IStreamLog log;
        bool owns;
        if (options.Backend == LogStreamBackend.InMemory)
        {
            log = services.GetRequiredService<InMemoryLogStreamStore>().GetOrCreate(name, options, timeProvider);
            owns = false;
        }
        else
        {
            var database = services.GetRequiredService<SqliteDatabaseProvider>().Get(services.GetRequiredService<IOptions<SqliteStorageOptions>>().Value);
            log = new SqliteStreamLog(name, database, options, timeProvider, loggerFactory.CreateLogger<SqliteStreamLog>());
            owns = true;
        }

        return new LogQueueAdapterFactory(
            name, options, log, owns, services.GetRequiredService<Serializer<LogMessageBody>>(),
            services.GetRequiredService<StreamPersistenceTracker>(), services.GetRequiredService<StreamBacklog>(), timeProvider, loggerFactory);
    }

    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IQueueAdapter> CreateAdapter() => Task.FromResult<IQueueAdapter>(this);

    public Task<IQueueAdapter> CreateAdapter(CancellationToken cancellationToken) => Task.FromResult<IQueueAdapter>(this);

    public IQueueAdapterCache GetQueueAdapterCache() => _cache;

    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) => Task.FromResult(_failureHandler);

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId) => new LogQueueAdapterReceiver(
        Name, (int)queueId.GetNumericId(), _log, _serializer, _options, () => _cache.FreeRoom(queueId), _persistence, _timeProvider,
        _loggerFactory.CreateLogger($"{typeof(LogQueueAdapterReceiver).FullName}.{Name}.{queueId}"));

    public async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (token is not null)
        {
            throw new ArgumentException($"The log stream provider '{Name}' assigns positions itself; a producer cannot pass a StreamSequenceToken.", nameof(token));
        }

        var list = new List<object>();
        foreach (var item in events)
        {
            list.Add(item ?? throw new ArgumentException("A stream event must not be null.", nameof(events)));
        }

        if (list.Count == 0)
        {
            return;
        }

        var queue = (int)_mapper.GetQueueForStream(streamId).GetNumericId();
        var payload = _serializer.SerializeToArray(new LogMessageBody(list, requestContext));
        try
        {
            await _log.AppendAsync(queue, streamId, payload).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not LogBackpressureException)
        {
            LogAppendFailed(ex, Name, queue, streamId.ToString());
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsLog)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Log stream provider {Provider}: append to queue {Queue} for stream {Stream} failed")]
    private partial void LogAppendFailed(Exception exception, string provider, int queue, string stream);
}
