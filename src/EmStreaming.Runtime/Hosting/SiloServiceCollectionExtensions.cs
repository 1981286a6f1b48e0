using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmStreaming.Runtime.Hosting;

/// <summary>Hosts a silo in a generic host / ASP.NET Core application.</summary>
public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <see cref="ISilo"/> singleton (started and stopped by a hosted service), plus <see cref="IStreamProducer"/> and <see cref="ISnapshotStore"/>.
    /// Options come from <see cref="IOptions{TOptions}"/> of <see cref="SiloOptions"/>, <see cref="StreamOptions"/> and <see cref="SqliteOptions"/>
    /// (bind them with <c>services.Configure&lt;SiloOptions&gt;(configuration.GetSection("Silo"))</c>); storage is SQLite unless
    /// <paramref name="configure"/> calls <see cref="SiloBuilder.UseInMemoryStorage"/>. <see cref="TimeProvider"/> and logging come from the container.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Registers grain types and subscriptions; may override storage.</param>
    public static IServiceCollection AddEmStreamingSilo(this IServiceCollection services, Action<SiloBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SiloOptions>();
        services.AddOptions<StreamOptions>();
        services.AddOptions<SqliteOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ISilo>(sp =>
        {
            var builder = new SiloBuilder()
                .UseOptions(sp.GetRequiredService<IOptions<SiloOptions>>().Value)
                .UseStreamOptions(sp.GetRequiredService<IOptions<StreamOptions>>().Value)
                .UseSqlite(sp.GetRequiredService<IOptions<SqliteOptions>>().Value)
                .UseTimeProvider(sp.GetRequiredService<TimeProvider>())
                .UseServices(sp);
            if (sp.GetService<ILoggerFactory>() is { } loggerFactory)
            {
                builder.UseLoggerFactory(loggerFactory);
            }

            configure(builder);
            return builder.Build();
        });
        services.AddSingleton(sp => sp.GetRequiredService<ISilo>().Streams);
        services.AddSingleton(sp => sp.GetRequiredService<ISilo>().Snapshots);
        services.AddHostedService<SiloHostedService>();
        return services;
    }
}

/// <summary>Starts the silo with the host and stops it (deactivating and persisting every grain) on shutdown.</summary>
internal sealed class SiloHostedService(ISilo silo) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => silo.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => silo.StopAsync(cancellationToken);
}
