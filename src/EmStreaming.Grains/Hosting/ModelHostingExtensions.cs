using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Events;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;

namespace EmStreaming.Grains;

/// <summary>Registers the model grains, their providers and <see cref="IModelService"/> on an Orleans silo.</summary>
public static class ModelHostingExtensions
{
    /// <summary>
    /// The embedded silo: localhost clustering on <c>Orleans:SiloPort</c> / <c>Orleans:GatewayPort</c>, cluster and service
    /// ids from <c>Orleans:ClusterId</c> / <c>Orleans:ServiceId</c>, idle collection after <c>Orleans:CollectionAge</c>,
    /// plus everything <see cref="AddEmStreamingModels"/> registers.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting of the <c>Orleans</c> section is invalid (the messages name it).</exception>
    public static ISiloBuilder UseEmStreamingSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configuration);
        var host = configuration.GetSection(SiloHostOptions.SectionName).Get<SiloHostOptions>() ?? new SiloHostOptions();
        if (ModelHostingOptionsValidator.Check(host) is { Count: > 0 } failures)
        {
            throw new OptionsValidationException(SiloHostOptions.SectionName, typeof(SiloHostOptions), failures);
        }

        // Orleans:Clustering: Localhost (one silo, the default), AzureStorage or Redis membership (issue 10).
        silo.UseEmStreamingClustering(configuration, host.ClusterId, host.ServiceId, host.SiloPort, host.GatewayPort);
        silo.Configure<GrainCollectionOptions>(o => o.CollectionAge = host.CollectionAge);
        return silo.AddEmStreamingModels(configuration);
    }

    /// <summary>
    /// The model grains' stream provider (<c>Streams:ProviderName</c>), grain storage (<c>Storage:ProviderName</c>,
    /// <c>Storage:Provider</c> Sqlite or InMemory), registry, snapshot history and <see cref="IModelService"/>; options bound
    /// from their sections and validated at start-up with messages naming the setting.
    /// </summary>
    public static ISiloBuilder AddEmStreamingModels(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configuration);
        var storage = configuration.GetSection(ModelStorageOptions.SectionName).Get<ModelStorageOptions>() ?? new ModelStorageOptions();
        var streams = configuration.GetSection(ModelStreamOptions.SectionName).Get<ModelStreamOptions>() ?? new ModelStreamOptions();
        var storageName = string.IsNullOrWhiteSpace(storage.ProviderName) ? ModelStorageOptions.DefaultProviderName : storage.ProviderName;
        var streamName = string.IsNullOrWhiteSpace(streams.ProviderName) ? ModelStreams.DefaultProviderName : streams.ProviderName;
        ClusterStorageRule.Check(configuration, storage, streams);
        if (storage.AzureStorage)
        {
            silo.AddEmStreamingAzureBlobStorage(storageName, configuration);
        }
        else if (storage.InMemory)
        {
            silo.AddEmStreamingInMemoryGrainStorage(storageName);
            silo.Services.AddEmStreamingInMemorySnapshotHistory(configuration);
        }
        else
        {
            silo.AddEmStreamingSqliteGrainStorage(storageName, configuration);
            silo.Services.AddEmStreamingSqliteSnapshotHistory(configuration);
        }

        if (streams.AzureQueue)
        {
            // Messages are deleted once the model grain's stored state covers them (not once delivered).
            silo.Services.AddSingleton<IStreamConsumerDurability, ModelStreamDurability>();
            silo.AddEmStreamingAzureQueueStreams(streamName, configuration);
        }
        else
        {
            // The durable log stream provider: SQLite in the same file, or in memory with Storage:Provider=InMemory.
            silo.AddEmStreamingLogStreams(streamName, configuration, o => o.Backend = storage.InMemory ? LogStreamBackend.InMemory : o.Backend);
        }

        silo.Services.AddEmStreamingModelServices(configuration);
        // The log stream provider registered its readable backlog above; Azure Queues keep none, and a message taken by a silo
        // that died comes back only after its visibility timeout (which bounds how long a restarted model may still be catching up).
        var visibility = configuration.GetSection(AzureQueueStreamSettings.SectionName).Get<AzureQueueStreamSettings>()?.VisibilityTimeout;
        silo.Services.TryAddSingleton<IStreamBacklog>(new NoStreamBacklog(streams.AzureQueue ? visibility ?? new AzureQueueStreamSettings().VisibilityTimeout : TimeSpan.Zero));
        return silo;
    }

    private static IServiceCollection AddEmStreamingModelServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ModelStorageOptions>().Bind(configuration.GetSection(ModelStorageOptions.SectionName)).ValidateOnStart();
        services.AddOptions<ModelStreamOptions>().Bind(configuration.GetSection(ModelStreamOptions.SectionName)).ValidateOnStart();
        services.AddOptions<SiloHostOptions>().Bind(configuration.GetSection(SiloHostOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelStorageOptions>, ModelHostingOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelStreamOptions>, ModelHostingOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloHostOptions>, ModelHostingOptionsValidator>());
        services.AddOptions<ModelTemplateOptions>().Bind(configuration.GetSection(ModelTemplateOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ModelTemplates(sp.GetRequiredService<IOptions<ModelTemplateOptions>>().Value));
        services.TryAddSingleton<ModelEventHub>();
        services.TryAddSingleton<ModelStatusBoard>();
        services.TryAddSingleton<IModelGrainObserver, NoModelGrainObserver>();
        services.TryAddSingleton(sp => new ModelMetrics(sp.GetRequiredService<TimeProvider>()));
        services.AddEmStreamingSqliteStorage(configuration);
        services.TryAddSingleton<IModelRegistry>(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<ModelStorageOptions>>().Value;
            var clock = sp.GetRequiredService<TimeProvider>();
            if (storage.InMemory)
            {
                return new InMemoryModelRegistry(clock);
            }

            if (storage.AzureStorage)
            {
                // Shared by every silo of the cluster: definitions and idempotency answers in a Table of the account.
                return new TableModelRegistry(sp.GetRequiredService<AzureStorageAccount>().Tables.GetTableClient(AzureBlobStorageSettings.Bind(configuration).RegistryTableName), clock);
            }

            // The registry shares the providers' file (its own tables).
            var file = sp.GetRequiredService<IOptions<SqliteStorageOptions>>().Value;
            return new SqliteModelRegistry(file.DatabasePath, file.FullSync, clock);
        });
        services.TryAddSingleton<ModelService>(sp => ActivatorUtilities.CreateInstance<ModelService>(sp));
        services.TryAddSingleton<IModelService>(sp => sp.GetRequiredService<ModelService>());
        // Templates and the data file are checked when the host starts (before the silo takes traffic), not on first use.
        services.AddHostedService<StartupChecks>();
        return services;
    }

    private sealed class StartupChecks(ModelTemplates templates, IModelRegistry registry) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(templates); // resolving them ran the validation
            GC.KeepAlive(registry); // opening the file checked it
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
