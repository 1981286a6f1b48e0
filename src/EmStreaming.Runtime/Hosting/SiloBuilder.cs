using EmStreaming.Runtime.Catalog;
using EmStreaming.Runtime.DeadLetters;
using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Storage;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmStreaming.Runtime.Hosting;

/// <summary>Configures and builds an <see cref="ISilo"/>: grain types, implicit stream subscriptions, storage, clock.</summary>
public sealed class SiloBuilder
{
    private readonly Dictionary<string, (Func<IServiceProvider, GrainId, Grain> Factory, GrainTypeOptions Options, string Category)> _grains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _subscriptions = new(StringComparer.Ordinal);
    private SqliteOptions? _sqlite;
    private IStreamLog? _streamLog;
    private ISnapshotStore? _snapshots;
    private TimeProvider _timeProvider = TimeProvider.System;
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;
    private IServiceProvider? _services;

    /// <summary>Silo options (defaults unless set).</summary>
    public SiloOptions Options { get; private set; } = new();

    /// <summary>Stream options (defaults unless set).</summary>
    public StreamOptions StreamOptions { get; private set; } = new();

    /// <summary>Replaces the silo options (copied at <see cref="Build"/>).</summary>
    public SiloBuilder UseOptions(SiloOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        return this;
    }

    /// <summary>Replaces the stream options (copied at <see cref="Build"/>).</summary>
    public SiloBuilder UseStreamOptions(StreamOptions options)
    {
        StreamOptions = options ?? throw new ArgumentNullException(nameof(options));
        return this;
    }

    /// <summary>Embedded durable storage: stream log, snapshots and dead letters in one SQLite file. This is the default for the server.</summary>
    public SiloBuilder UseSqlite(SqliteOptions options)
    {
        _sqlite = (options ?? throw new ArgumentNullException(nameof(options))).Clone();
        return this;
    }

    /// <summary>Everything in memory (the default when nothing else is configured): for tests and ephemeral silos.</summary>
    public SiloBuilder UseInMemoryStorage()
    {
        _sqlite = null;
        return this;
    }

    /// <summary>Uses an existing stream log, which the silo does not dispose (e.g. to restart a silo on the same in-memory log).</summary>
    public SiloBuilder UseStreamLog(IStreamLog log)
    {
        _streamLog = log ?? throw new ArgumentNullException(nameof(log));
        return this;
    }

    /// <summary>Uses an existing snapshot store, which the silo does not dispose.</summary>
    public SiloBuilder UseSnapshotStore(ISnapshotStore store)
    {
        _snapshots = store ?? throw new ArgumentNullException(nameof(store));
        return this;
    }

    /// <summary>The clock for collection, timers, timeouts and timestamps (default <see cref="TimeProvider.System"/>).</summary>
    public SiloBuilder UseTimeProvider(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        return this;
    }

    /// <summary>The logger factory (default: no logging).</summary>
    public SiloBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        return this;
    }

    /// <summary>Services injected into grain constructors.</summary>
    public SiloBuilder UseServices(IServiceProvider services)
    {
        _services = services ?? throw new ArgumentNullException(nameof(services));
        return this;
    }

    /// <summary>Registers a grain type created with its constructor dependencies resolved from <see cref="UseServices"/>.</summary>
    /// <param name="grainType">The type name used in <see cref="GrainId"/> (a valid key).</param>
    /// <param name="configure">Per-type overrides (collection age, mailbox capacity).</param>
    public SiloBuilder AddGrain<TGrain>(string grainType, Action<GrainTypeOptions>? configure = null) where TGrain : Grain =>
        AddGrain(grainType, (services, _) => ActivatorUtilities.CreateInstance<TGrain>(services), configure, typeof(TGrain).FullName!);

    /// <summary>Registers a grain type created by <paramref name="factory"/> (called once per activation).</summary>
    public SiloBuilder AddGrain(string grainType, Func<IServiceProvider, GrainId, Grain> factory, Action<GrainTypeOptions>? configure = null) =>
        AddGrain(grainType, factory, configure, $"EmStreaming.Grains.{grainType}");

    /// <summary>Delivers every stream of <paramref name="streamNamespace"/> to the grain of <paramref name="grainType"/> whose key is the stream key.</summary>
    public SiloBuilder AddImplicitSubscription(string streamNamespace, string grainType)
    {
        GrainKey.Validate(streamNamespace, nameof(streamNamespace));
        GrainKey.Validate(grainType, nameof(grainType));
        if (!_subscriptions.TryGetValue(streamNamespace, out var types))
        {
            _subscriptions[streamNamespace] = types = [];
        }

        if (!types.Contains(grainType))
        {
            types.Add(grainType);
        }

        return this;
    }

    /// <summary>Opens storage and creates the silo (not started).</summary>
    /// <exception cref="InvalidOperationException">A subscription names an unregistered grain type, or the stored partition count differs.</exception>
    public ISilo Build()
    {
        foreach (var (ns, types) in _subscriptions)
        {
            foreach (var type in types.Where(t => !_grains.ContainsKey(t)))
            {
                throw new InvalidOperationException($"The implicit subscription of namespace '{ns}' names grain type '{type}', which is not registered (AddGrain).");
            }
        }

        var options = Options.Clone();
        var streamOptions = StreamOptions.Clone();
        var registrations = _grains.ToDictionary(
            g => g.Key,
            g => new GrainRegistration(
                g.Key, g.Value.Factory, g.Value.Options.CollectionAge ?? options.CollectionAge, g.Value.Options.MailboxCapacity ?? options.MailboxCapacity, g.Value.Category),
            StringComparer.Ordinal);
        var subscriptions = _subscriptions.ToDictionary(s => s.Key, s => s.Value.ToArray(), StringComparer.Ordinal);
        var logger = _loggerFactory.CreateLogger("EmStreaming.Runtime.Storage");
        var owned = new List<IAsyncDisposable>();
        try
        {
            var log = _streamLog ?? Own<IStreamLog>(owned, _sqlite is null
                ? new InMemoryStreamLog(streamOptions, _timeProvider)
                : new SqliteStreamLog(_sqlite, streamOptions, _timeProvider, logger));
            var snapshots = _snapshots ?? Own<ISnapshotStore>(owned, _sqlite is null
                ? new InMemorySnapshotStore(_timeProvider)
                : new SqliteSnapshotStore(_sqlite, _timeProvider));
            var deadLetters = Own<IDeadLetterStore>(owned, _sqlite is null
                ? new InMemoryDeadLetterStore(options.MaxDeadLetters)
                : new SqliteDeadLetterStore(_sqlite, options.MaxDeadLetters));
            var services = _services ?? new ServiceCollection().BuildServiceProvider();
            return new Silo(
                options, streamOptions, registrations, subscriptions, services, _timeProvider, _loggerFactory, log, snapshots, deadLetters,
                new SiloResources([.. owned]));
        }
        catch
        {
            foreach (var resource in owned)
            {
                resource.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            throw;
        }
    }

    private SiloBuilder AddGrain(string grainType, Func<IServiceProvider, GrainId, Grain> factory, Action<GrainTypeOptions>? configure, string category)
    {
        GrainKey.Validate(grainType, nameof(grainType));
        ArgumentNullException.ThrowIfNull(factory);
        var typeOptions = new GrainTypeOptions();
        configure?.Invoke(typeOptions);
        if (!_grains.TryAdd(grainType, (factory, typeOptions, category)))
        {
            throw new ArgumentException($"Grain type '{grainType}' is already registered.", nameof(grainType));
        }

        return this;
    }

    private static T Own<T>(List<IAsyncDisposable> owned, T resource) where T : IAsyncDisposable
    {
        owned.Add(resource);
        return resource;
    }
}
