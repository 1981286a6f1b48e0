using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Events;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmStreaming.Grains;

/// <summary>Where the embedded silo keeps its data (<c>Storage</c> section).</summary>
public sealed class ModelStorageOptions
{
    public const string SectionName = "Storage";

    /// <summary><c>Sqlite</c> (default, durable, one file in <see cref="DataDirectory"/>) or <c>InMemory</c> (tests, demos).</summary>
    public string Provider { get; set; } = "Sqlite";

    /// <summary>Directory of the SQLite file; default <c>./data</c>.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>fsync on every commit (survives power loss, not only a process crash). Default true.</summary>
    public bool FullSync { get; set; } = true;

    internal bool InMemory => string.Equals(Provider, "InMemory", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Registers the model grains, their silo and <see cref="IModelService"/>.</summary>
public static class ModelServiceCollectionExtensions
{
    /// <summary>
    /// Registers the embedded silo (SQLite in <c>Storage:DataDirectory</c>, or memory with <c>Storage:Provider=InMemory</c>),
    /// model templates from <c>Models</c>, <see cref="IModelService"/>, and a hosted service that starts the silo and on stop
    /// deactivates every grain (each persists a snapshot). Options are validated at start-up; messages name the setting.
    /// </summary>
    public static IServiceCollection AddEmStreamingModels(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ModelStorageOptions>().Bind(configuration.GetSection(ModelStorageOptions.SectionName))
            .Validate(o => o.InMemory || string.Equals(o.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase), "Storage:Provider must be 'Sqlite' or 'InMemory'")
            .Validate(o => o.InMemory || !string.IsNullOrWhiteSpace(o.DataDirectory), "Storage:DataDirectory must not be empty")
            .ValidateOnStart();
        services.AddOptions<ModelTemplateOptions>().Bind(configuration.GetSection(ModelTemplateOptions.SectionName));
        services.AddOptions<SqliteOptions>().Configure<IOptions<ModelStorageOptions>>((sqlite, storage) =>
        {
            if (!storage.Value.InMemory && !string.IsNullOrWhiteSpace(storage.Value.DataDirectory))
            {
                sqlite.DataDirectory = storage.Value.DataDirectory;
                sqlite.FullSync = storage.Value.FullSync;
            }
        });
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ModelTemplates(sp.GetRequiredService<IOptions<ModelTemplateOptions>>().Value));
        services.TryAddSingleton<ModelEventHub>();
        services.TryAddSingleton<PendingObservations>();
        services.TryAddSingleton(sp => new ModelMetrics(sp.GetRequiredService<TimeProvider>(), () => sp.GetRequiredService<ISilo>().GetStatistics().MailboxDepth));
        services.TryAddSingleton<IModelRegistry>(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<ModelStorageOptions>>().Value;
            var clock = sp.GetRequiredService<TimeProvider>();
            return storage.InMemory ? new InMemoryModelRegistry(clock) : new SqliteModelRegistry(sp.GetRequiredService<IOptions<SqliteOptions>>().Value.DatabasePath, clock);
        });
        // Templates are validated when the host starts (before the silo), not on first use.
        services.AddHostedService<TemplateValidation>();
        var inMemory = string.Equals(configuration[$"{ModelStorageOptions.SectionName}:{nameof(ModelStorageOptions.Provider)}"], "InMemory", StringComparison.OrdinalIgnoreCase);
        services.AddEmStreamingSilo(builder =>
        {
            builder.AddGrain<ModelGrain>(ModelGrain.GrainType).AddImplicitSubscription(ModelGrain.StreamNamespace, ModelGrain.GrainType);
            if (inMemory)
            {
                builder.UseInMemoryStorage();
            }
        });
        services.TryAddSingleton<IModelService>(sp => new ModelService(
            sp.GetRequiredService<ISilo>(), sp.GetRequiredService<IModelRegistry>(), sp.GetRequiredService<ModelTemplates>(), sp.GetRequiredService<ModelEventHub>(),
            sp.GetRequiredService<PendingObservations>()));
        return services;
    }

    private sealed class TemplateValidation(ModelTemplates templates) : Microsoft.Extensions.Hosting.IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(templates); // resolving it ran the validation
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
