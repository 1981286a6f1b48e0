using EmStreaming.Providers.History;
using EmStreaming.Providers.Hosting;
using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Orleans.Hosting;

/// <summary>Registers the EmStreaming grain storage and snapshot history providers.</summary>
public static class EmStreamingStorageHostingExtensions
{
    /// <summary>
    /// Adds the SQLite grain storage named <paramref name="name"/> (the file of <see cref="SqliteStorageOptions"/>, bound from the
    /// <c>Storage</c> section when <paramref name="configuration"/> is given). Its serializer is the one keyed by
    /// <paramref name="name"/> if registered, else <see cref="GrainStateSerializer"/>. The file is opened at silo start.
    /// </summary>
    public static ISiloBuilder AddEmStreamingSqliteGrainStorage(
        this ISiloBuilder builder, string name, IConfiguration? configuration = null, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        builder.Services.AddEmStreamingSqliteStorage(configuration, configure);
        builder.Services.AddGrainStorage(name, static (services, providerName) => new SqliteGrainStorage(
            providerName,
            services.GetRequiredService<SqliteDatabaseProvider>().Get(services.GetRequiredService<IOptions<SqliteStorageOptions>>().Value),
            GetSerializer(services, providerName),
            services.GetRequiredService<IActivatorProvider>(),
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetRequiredService<ILogger<SqliteGrainStorage>>()));
        return builder;
    }

    /// <summary>Adds an in-memory grain storage named <paramref name="name"/> with the same rules as the SQLite one (tests).</summary>
    public static ISiloBuilder AddEmStreamingInMemoryGrainStorage(this ISiloBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        builder.Services.TryAddSingleton<GrainStateSerializer>();
        builder.Services.AddGrainStorage(name, static (services, providerName) => new InMemoryGrainStorage(providerName, GetSerializer(services, providerName), services.GetRequiredService<IActivatorProvider>()));
        return builder;
    }

    /// <summary>
    /// Adds <see cref="ISnapshotHistory"/> on the SQLite file of <see cref="SqliteStorageOptions"/>, retention from
    /// <see cref="SnapshotHistoryOptions"/> (section <c>Storage:History</c> when <paramref name="configuration"/> is given).
    /// </summary>
    public static IServiceCollection AddEmStreamingSqliteSnapshotHistory(
        this IServiceCollection services, IConfiguration? configuration = null, Action<SnapshotHistoryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddEmStreamingSqliteStorage(configuration, null);
        services.AddHistoryOptions(configuration, configure);
        services.TryAddSingleton<ISnapshotHistory>(static sp => new SqliteSnapshotHistory(
            sp.GetRequiredService<SqliteDatabaseProvider>().Get(sp.GetRequiredService<IOptions<SqliteStorageOptions>>().Value),
            sp.GetRequiredService<IOptions<SnapshotHistoryOptions>>().Value,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILogger<SqliteSnapshotHistory>>()));
        return services;
    }

    /// <summary>Adds an in-memory <see cref="ISnapshotHistory"/> (tests).</summary>
    public static IServiceCollection AddEmStreamingInMemorySnapshotHistory(
        this IServiceCollection services, IConfiguration? configuration = null, Action<SnapshotHistoryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddHistoryOptions(configuration, configure);
        services.TryAddSingleton<ISnapshotHistory>(static sp => new InMemorySnapshotHistory(
            sp.GetRequiredService<IOptions<SnapshotHistoryOptions>>().Value, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }

    /// <summary>
    /// The shared SQLite file options (section <c>Storage</c>), validated at start-up, and the per-file database registry.
    /// Every provider registration calls it; binding the same section again is harmless.
    /// </summary>
    public static IServiceCollection AddEmStreamingSqliteStorage(this IServiceCollection services, IConfiguration? configuration = null, Action<SqliteStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddValidatedOptions<SqliteStorageOptions, SqliteStorageOptionsValidator>(Options.DefaultName, configuration, SqliteStorageOptions.SectionName, configure);
        services.TryAddSingleton<SqliteDatabaseProvider>();
        services.TryAddSingleton<GrainStateSerializer>();
        return services;
    }

    private static void AddHistoryOptions(this IServiceCollection services, IConfiguration? configuration, Action<SnapshotHistoryOptions>? configure) =>
        services.AddValidatedOptions<SnapshotHistoryOptions, SnapshotHistoryOptionsValidator>(Options.DefaultName, configuration, SnapshotHistoryOptions.SectionName, configure);

    private static IGrainStorageSerializer GetSerializer(IServiceProvider services, string name) =>
        services.GetKeyedService<IGrainStorageSerializer>(name) ?? services.GetRequiredService<GrainStateSerializer>();
}
