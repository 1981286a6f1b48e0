using System.Net;
using EmStreaming.Providers.Azure.History;
using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.Azure.Storage;
using EmStreaming.Providers.Azure.Streams;
using EmStreaming.Providers.History;
using EmStreaming.Providers.Storage;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using Orleans.Streams;
using StackExchange.Redis;

namespace Orleans.Hosting;

/// <summary>
/// Registers a multi-silo EmStreaming cluster on one Azure Storage account (or Redis membership): the membership provider
/// named by <c>Orleans:Clustering</c>, Blob grain storage and snapshot history, Azure Queue streams, and a start-up check
/// that the account answers before the silo joins.
/// </summary>
public static class EmStreamingAzureHostingExtensions
{
    /// <summary>
    /// Configures membership and endpoints from <c>Orleans:Clustering</c> (Localhost, AzureStorage, Redis),
    /// <c>Orleans:AdvertisedIPAddress</c>, <c>Orleans:Kubernetes</c> and Orleans' <c>ClusterMembershipOptions</c> bound from
    /// <c>Orleans:Membership</c> (e.g. <c>ProbeTimeout</c>, <c>NumMissedProbesLimit</c>, <c>TableRefreshTimeout</c> for fast failover).
    /// </summary>
    /// <param name="silo">The silo.</param>
    /// <param name="configuration">The configuration holding the <c>Orleans</c> and <c>AzureStorage</c> sections.</param>
    /// <param name="clusterId">Orleans' ClusterId (every silo of the cluster uses the same).</param>
    /// <param name="serviceId">Orleans' ServiceId (stable across deployments: storage is keyed by it).</param>
    /// <param name="siloPort">Silo-to-silo port.</param>
    /// <param name="gatewayPort">Client gateway port.</param>
    /// <exception cref="OptionsValidationException">A setting is invalid; the messages name it.</exception>
    public static ISiloBuilder UseEmStreamingClustering(
        this ISiloBuilder silo, IConfiguration configuration, string clusterId, string serviceId, int siloPort, int gatewayPort)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = Bind<EmStreamingClusterOptions>(configuration, EmStreamingClusterOptions.SectionName, AzureHostingOptionsValidator.Check);
        silo.Services.Configure<ClusterMembershipOptions>(configuration.GetSection(EmStreamingClusterOptions.MembershipSectionName));
        if (options.Clustering == ClusteringProvider.Localhost)
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, primarySiloEndpoint: null, serviceId: serviceId, clusterId: clusterId);
            silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = IPAddress.Loopback);
            return silo;
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = clusterId;
            o.ServiceId = serviceId;
        });
        if (options.Kubernetes)
        {
            // The pod IP becomes the advertised address and the pod's labels the cluster ids (downward API variables).
            silo.Configure<EndpointOptions>(o =>
            {
                o.SiloPort = siloPort;
                o.GatewayPort = gatewayPort;
            });
            silo.UseKubernetesHosting();
        }
        else
        {
            var advertised = options.Advertised;
            silo.ConfigureEndpoints(advertised, siloPort, gatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(advertised));
        }

        if (options.Clustering == ClusteringProvider.Redis)
        {
            ConfigurationOptions redis;
            try
            {
                redis = ConfigurationOptions.Parse(options.Redis.ConnectionString!);
            }
            catch (ArgumentException e)
            {
                throw new OptionsValidationException(EmStreamingClusterOptions.SectionName, typeof(EmStreamingClusterOptions),
                    [$"Orleans:Redis:ConnectionString is not a StackExchange.Redis configuration string: {e.Message}"]);
            }

            silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new RedisClusteringStartupCheck(redis));
            return silo;
        }

        silo.Services.AddEmStreamingAzureStorageAccount(configuration, new AzureStorageRequirement(AzureStorageService.Table, new AzureStorageClusteringOptions().TableName));
        silo.UseAzureStorageClustering(ob => ob.Configure<AzureStorageAccount>((o, account) => o.TableServiceClient = account.Tables));
        return silo;
    }

    /// <summary>
    /// Adds Orleans' Azure Blob grain storage named <paramref name="name"/> with the EmStreaming state serializer (our
    /// versioned bytes, never JSON with .NET type names), and the snapshot history in Blobs as <see cref="ISnapshotHistory"/>
    /// (replacing any other). Containers from <c>Storage:Azure</c>, retention from <c>Storage:History</c>.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the messages name it.</exception>
    public static ISiloBuilder AddEmStreamingAzureBlobStorage(this ISiloBuilder silo, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = AzureBlobStorageSettings.Bind(configuration);
        var services = silo.Services;
        services.AddEmStreamingAzureStorageAccount(configuration,
            new AzureStorageRequirement(AzureStorageService.Blob, settings.ContainerName),
            new AzureStorageRequirement(AzureStorageService.Blob, settings.HistoryContainerName),
            new AzureStorageRequirement(AzureStorageService.Table, settings.RegistryTableName));
        services.TryAddSingleton<GrainStateSerializer>();
        // Orleans' provider under an inner name, ours (the corrupt-state guard) under the name the grains use.
        var blobName = InnerBlobStorageName(name);
        silo.AddAzureBlobGrainStorage(blobName, ob => ob.Configure<AzureStorageAccount, GrainStateSerializer>((o, account, serializer) =>
        {
            o.BlobServiceClient = account.Blobs;
            o.ContainerName = settings.ContainerName;
            o.GrainStorageSerializer = serializer;
        }));
        services.AddGrainStorage(name, (sp, provider) => new CorruptStateGuardGrainStorage(provider, sp.GetRequiredKeyedService<IGrainStorage>(blobName)));

        var history = services.AddOptions<SnapshotHistoryOptions>().Bind(configuration.GetSection(SnapshotHistoryOptions.SectionName));
        history.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SnapshotHistoryOptions>, SnapshotHistoryOptionsValidator>());
        services.RemoveAll<ISnapshotHistory>();
        services.AddSingleton<ISnapshotHistory>(sp => new BlobSnapshotHistory(
            sp.GetRequiredService<AzureStorageAccount>().Blobs.GetBlobContainerClient(settings.HistoryContainerName),
            sp.GetRequiredService<IOptions<SnapshotHistoryOptions>>().Value,
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return silo;
    }

    /// <summary>
    /// Adds Orleans' Azure Queue persistent streams named <paramref name="name"/>: implicit subscriptions only, queues,
    /// visibility timeout, poll period, delivery batch, commit interval and cache size from <c>Streams:AzureQueue</c>. Azure Queue
    /// streams are at-least-once; a message is deleted once its consumer says its stored state covers it
    /// (<see cref="IStreamConsumerDurability"/>; without one registered, once it is delivered, as in Orleans).
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the messages name it.</exception>
    public static ISiloBuilder AddEmStreamingAzureQueueStreams(this ISiloBuilder silo, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = Bind<AzureQueueStreamSettings>(configuration, AzureQueueStreamSettings.SectionName, AzureHostingOptionsValidator.Check);
        var queues = settings.QueueNames();
        silo.Services.AddEmStreamingAzureStorageAccount(configuration, new AzureStorageRequirement(AzureStorageService.Queue, queues[0]));
        silo.Services.TryAddSingleton<IStreamPersistenceTracker, NoStreamPersistenceTracker>();
        // The consumers read the group-commit settings (CommitInterval, DeliveryBatchSize) through IOptions.
        silo.Services.AddOptions<AzureQueueStreamSettings>().Bind(configuration.GetSection(AzureQueueStreamSettings.SectionName));
        silo.AddAzureQueueStreams(name, stream =>
        {
            stream.ConfigureAzureQueue(ob => ob.Configure<AzureStorageAccount>((o, account) =>
            {
                o.QueueServiceClient = account.Queues;
                o.QueueNames = queues;
                o.MessageVisibilityTimeout = settings.VisibilityTimeout;
            }));
            stream.ConfigureCacheSize(settings.CacheSize);
            stream.ConfigurePullingAgent(ob => ob.Configure(o =>
            {
                o.GetQueueMsgsTimerPeriod = settings.PollPeriod;
                o.BatchContainerBatchSize = settings.DeliveryBatchSize;
            }));
            stream.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
        });
        // Registered after Orleans' factory, so the provider resolves this one: the same queues and producer, but messages are
        // deleted once their consumers have stored their effect, not once delivered.
        silo.Services.TryAddSingleton<IStreamConsumerDurability, DeliveredIsDurable>();
        silo.Services.AddKeyedSingleton<IQueueAdapterFactory>(name, (sp, _) => DurableAzureQueueAdapterFactory.Create(sp, name));
        return silo;
    }

    /// <summary>The name Orleans' own Blob storage is registered under, inside the guard named <paramref name="name"/>.</summary>
    internal static string InnerBlobStorageName(string name) => name + ".blob";

    /// <summary>The account (<c>AzureStorage</c> section), its clients and the start-up check, once per silo; requirements add up.</summary>
    private static void AddEmStreamingAzureStorageAccount(this IServiceCollection services, IConfiguration configuration, params AzureStorageRequirement[] requirements)
    {
        foreach (var requirement in requirements)
        {
            services.AddSingleton(requirement);
        }

        if (services.Any(d => d.ServiceType == typeof(AzureStorageAccount)))
        {
            return;
        }

        // Checked now, while the silo is configured, so a missing account stops the start before anything else runs.
        Bind<AzureStorageAccountOptions>(configuration, AzureStorageAccountOptions.SectionName, AzureStorageAccountOptionsValidator.Check);
        services.AddOptions<AzureStorageAccountOptions>().Bind(configuration.GetSection(AzureStorageAccountOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureStorageAccountOptions>, AzureStorageAccountOptionsValidator>());
        services.AddSingleton<AzureStorageAccount>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, AzureStorageStartupCheck>();
    }

    internal static T Bind<T>(IConfiguration configuration, string section, Func<T, List<string>> check)
        where T : class, new()
    {
        T options;
        try
        {
            options = configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            // A value the binder cannot convert (an unknown Orleans:Clustering, a malformed time span): name the section.
            throw new OptionsValidationException(section, typeof(T), [$"{section}: {e.Message}"]);
        }

        return check(options) is { Count: > 0 } failures ? throw new OptionsValidationException(section, typeof(T), failures) : options;
    }
}
