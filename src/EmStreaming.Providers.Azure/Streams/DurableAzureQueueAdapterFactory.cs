using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers.Streams.AzureQueue;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Azure.Streams;

/// <summary>
/// Orleans' Azure Queue stream provider with one change: a queue message is deleted once its consumer has <em>stored</em>
/// its effect (<see cref="IStreamConsumerDurability"/>), not once it is delivered. Consumers can then return from a
/// delivery at once and store their state on their own schedule (one write per interval instead of one per message),
/// and a crash before that write loses nothing: the undeleted message reappears after the visibility timeout and the
/// consumer's stored producer windows apply it once. Producing is Orleans' own adapter, unchanged.
/// </summary>
internal sealed class DurableAzureQueueAdapterFactory : AzureQueueAdapterFactory
{
    private readonly AzureQueueOptions _options;
    private readonly IQueueDataAdapter<string, IBatchContainer> _dataAdapter;
    private readonly ILoggerFactory _loggerFactory;
    private readonly IStreamConsumerDurability _durability;
    private readonly AzureQueueStreamSettings _settings;
    private readonly TimeProvider _time;

    public DurableAzureQueueAdapterFactory(
        string name, AzureQueueOptions options, SimpleQueueCacheOptions cacheOptions, IQueueDataAdapter<string, IBatchContainer> dataAdapter,
        ILoggerFactory loggerFactory, IStreamConsumerDurability durability, IOptions<AzureQueueStreamSettings> settings, TimeProvider time)
        : base(name, options, cacheOptions, dataAdapter, loggerFactory)
    {
        _options = options;
        _dataAdapter = dataAdapter;
        _loggerFactory = loggerFactory;
        _durability = durability;
        _settings = settings.Value;
        _time = time;
    }

    public override async Task<IQueueAdapter> CreateAdapter()
    {
        var inner = await base.CreateAdapter().ConfigureAwait(false);
        var mapper = (HashRingBasedPartitionedStreamQueueMapper)GetStreamQueueMapper();
        return new Adapter(inner, queue => new DurableDeleteQueueReceiver(
            new Orleans.AzureUtils.AzureQueueDataManager(_loggerFactory, mapper.QueueToPartition(queue), _options), _dataAdapter, _durability,
            _settings, _time, _loggerFactory.CreateLogger<DurableDeleteQueueReceiver>()));
    }

    /// <summary>Replaces <see cref="AzureQueueAdapterFactory.Create"/> for the provider named <paramref name="name"/>.</summary>
    public static new DurableAzureQueueAdapterFactory Create(IServiceProvider services, string name)
    {
        var dataAdapter = services.GetKeyedService<IQueueDataAdapter<string, IBatchContainer>>(name) ?? services.GetRequiredService<IQueueDataAdapter<string, IBatchContainer>>();
        var factory = ActivatorUtilities.CreateInstance<DurableAzureQueueAdapterFactory>(
            services, name, services.GetOptionsByName<AzureQueueOptions>(name), services.GetOptionsByName<SimpleQueueCacheOptions>(name), dataAdapter,
            services.GetService<TimeProvider>() ?? TimeProvider.System);
        factory.Init();
        return factory;
    }

    /// <summary>Orleans' adapter for producing; our receiver for consuming.</summary>
    private sealed class Adapter(IQueueAdapter inner, Func<QueueId, IQueueAdapterReceiver> receivers) : IQueueAdapter
    {
        public string Name => inner.Name;

        public bool IsRewindable => inner.IsRewindable;

        public StreamProviderDirection Direction => inner.Direction;

        public Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext) =>
            inner.QueueMessageBatchAsync(streamId, events, token, requestContext);

        public IQueueAdapterReceiver CreateReceiver(QueueId queueId) => receivers(queueId);
    }
}
