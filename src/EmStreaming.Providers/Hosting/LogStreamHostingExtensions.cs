using EmStreaming.Providers.Hosting;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Streams;

namespace Orleans.Hosting;

/// <summary>Registers the EmStreaming durable log stream provider.</summary>
public static class EmStreamingLogStreamHostingExtensions
{
    /// <summary>
    /// Adds the log stream provider named by <c>Streams:ProviderName</c> (default <c>models</c>), its options bound from the
    /// <c>Streams</c> section and the SQLite file from the <c>Storage</c> section of <paramref name="configuration"/>.
    /// </summary>
    public static ISiloBuilder AddEmStreamingLogStreams(this ISiloBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var name = configuration.GetSection(LogStreamOptions.SectionName)[nameof(LogStreamOptions.ProviderName)];
        return builder.AddEmStreamingLogStreams(string.IsNullOrWhiteSpace(name) ? LogStreamOptions.DefaultProviderName : name, configuration);
    }

    /// <summary>
    /// Adds the log stream provider <paramref name="name"/>: Orleans persistent streams over the durable log (SQLite by default,
    /// in memory for tests), implicit subscriptions only, the pulling agents polling every <see cref="LogStreamOptions.PollPeriod"/>.
    /// Also registers <see cref="IStreamPersistenceTracker"/>, which consumers call after each state write, and
    /// <see cref="IStreamBacklog"/>, which reads back what the log still holds for a stream.
    /// </summary>
    /// <param name="builder">The silo.</param>
    /// <param name="name">The provider name.</param>
    /// <param name="configuration">When given, <c>Streams</c> and <c>Storage</c> sections are bound.</param>
    /// <param name="configure">Applied after the binding.</param>
    public static ISiloBuilder AddEmStreamingLogStreams(
        this ISiloBuilder builder, string name, IConfiguration? configuration = null, Action<LogStreamOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var services = builder.Services;
        services.AddEmStreamingSqliteStorage(configuration);
        services.AddValidatedOptions<LogStreamOptions, LogStreamOptionsValidator>(name, configuration, LogStreamOptions.SectionName, o =>
        {
            o.ProviderName = name;
            configure?.Invoke(o);
        });
        services.TryAddSingleton<StreamPersistenceTracker>();
        services.TryAddSingleton<IStreamPersistenceTracker>(static sp => sp.GetRequiredService<StreamPersistenceTracker>());
        services.TryAddSingleton<InMemoryLogStreamStore>();
        services.TryAddSingleton<StreamBacklog>();
        services.TryAddSingleton<IStreamBacklog>(static sp => sp.GetRequiredService<StreamBacklog>());
        builder.AddPersistentStreams(name, LogQueueAdapterFactory.Create, stream =>
        {
            stream.Configure<StreamPullingAgentOptions>(ob => ob.Configure<IOptionsMonitor<LogStreamOptions>>((agent, monitor) =>
            {
                var o = monitor.Get(name);
                agent.GetQueueMsgsTimerPeriod = o.PollPeriod;
                agent.BatchContainerBatchSize = o.DeliveryBatchSize;
            }));
            stream.Configure<HashRingStreamQueueMapperOptions>(ob => ob.Configure<IOptionsMonitor<LogStreamOptions>>((mapper, monitor) => mapper.TotalQueueCount = monitor.Get(name).Queues));
            // Implicit subscriptions only: no pub-sub grain and no PubSubStore storage on the delivery path.
            stream.Configure<StreamPubSubOptions>(ob => ob.Configure(pubSub => pubSub.PubSubType = StreamPubSubType.ImplicitOnly));
        });
        return builder;
    }
}
