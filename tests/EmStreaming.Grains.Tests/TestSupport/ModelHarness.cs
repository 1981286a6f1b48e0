using System.Collections.Concurrent;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Numerics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>
/// An Orleans silo hosting the model grains (<c>UseEmStreamingSilo</c>, localhost clustering on free ports), in memory or on
/// a SQLite file in a temp directory, with a recording <see cref="IModelGrainObserver"/>.
/// </summary>
internal sealed class ModelHarness : IAsyncDisposable
{
    private readonly IHost _host;

    private ModelHarness(IHost host, GrainRecorder recorder)
    {
        _host = host;
        Recorder = recorder;
    }

    public IServiceProvider Services => _host.Services;

    public IModelRegistry Registry => _host.Services.GetRequiredService<IModelRegistry>();

    public IModelService Service => _host.Services.GetRequiredService<IModelService>();

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    public GrainRecorder Recorder { get; }

    /// <param name="directory">The SQLite file's directory; null keeps everything in memory (unless settings say otherwise).</param>
    /// <param name="settings">Configuration on top of the harness's own (e.g. Azure storage and streams on Azurite).</param>
    /// <param name="recorder">The observer of the grains.</param>
    /// <param name="services">Changes to the silo's services after it is configured (e.g. a decorated grain storage).</param>
    public static async Task<ModelHarness> StartAsync(
        string? directory = null, IReadOnlyDictionary<string, string?>? settings = null, GrainRecorder? recorder = null, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var configuration = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = directory is null ? "InMemory" : "Sqlite",
            ["Storage:DataDirectory"] = directory ?? "unused",
            ["Storage:FullSync"] = "false",
            ["Orleans:SiloPort"] = LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            configuration[k] = v;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        recorder ??= new GrainRecorder();
        builder.Services.AddSingleton<IModelGrainObserver>(recorder);
        builder.UseOrleans(silo => silo.UseEmStreamingSilo(builder.Configuration));
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return new ModelHarness(host, recorder);
    }

    /// <summary>
    /// Silo services whose stream pulling agents do not start (<see cref="StartStreamAgentsAsync"/> starts them): nothing in the
    /// log is delivered, so a test can hold records in it, unapplied, across a kill or read a status before any replay.
    /// </summary>
    public static void StreamAgentsStopped(IServiceCollection services) =>
        services.Configure<Orleans.Configuration.StreamLifecycleOptions>(
            ModelStreams.DefaultProviderName, o => o.StartupState = Orleans.Configuration.StreamLifecycleOptions.RunState.AgentsStopped);

    /// <summary>Starts the pulling agents of a silo started with <see cref="StreamAgentsStopped"/>.</summary>
    public Task StartStreamAgentsAsync() =>
        Grains.GetGrain<IManagementGrain>(0).SendControlCommandToProvider<Orleans.Providers.Streams.Common.PersistentStreamProvider>(
            ModelStreams.DefaultProviderName, (int)Orleans.Providers.Streams.Common.PersistentStreamProviderCommand.StartAgents);

    /// <summary>Deactivates every model idle for at least <paramref name="idle"/> (what idle collection does after <c>Orleans:CollectionAge</c>).</summary>
    public Task CollectIdleAsync(TimeSpan idle) => Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(idle);

    public async Task<ModelStateView> WaitForObservationsAsync(string id, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var view = await Service.GetStateAsync(id);
            if (view.Observations >= count)
            {
                return view;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"model {id} applied {view.Observations} of {count} observations");
            }

            await Task.Delay(2);
        }
    }

    public Task StopAsync() => _host.StopAsync();

    /// <summary>
    /// Crash simulation: the silo stops ungracefully (a cancelled stop: no graceful deactivation, so no final state write)
    /// and nothing of this host is used again; what survives is what was committed to the file.
    /// </summary>
    public async Task KillAsync()
    {
        try
        {
            await _host.StopAsync(new CancellationToken(canceled: true));
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _host.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync();
        }
        finally
        {
            _host.Dispose();
        }
    }

    public static ModelDefinition Gmm(int dimension = 2, int components = 2, int window = 400, long? refitEvery = null, long? snapshotEvery = 500) => new()
    {
        Kind = ModelKind.Gmm, Dimension = dimension, Components = components, BatchSize = 50, Seed = 7,
        Refit = new RefitPolicy { Window = window, EveryObservations = refitEvery, Restarts = 1 },
        Snapshots = new SnapshotPolicy { EveryObservations = snapshotEvery, Every = null, Retain = 10 },
    };

    /// <summary>Two well separated clusters, deterministic.</summary>
    public static DataMatrix Rows(int n, int dimension, int seed)
    {
        var random = new Random(seed);
        var values = new double[n * dimension];
        for (var i = 0; i < n; i++)
        {
            var centre = random.Next(2) == 0 ? -3.0 : 3.0;
            for (var j = 0; j < dimension; j++)
            {
                values[(i * dimension) + j] = centre + NextGaussian(random);
            }
        }

        return new DataMatrix(values, n, dimension);
    }

    public static double NextGaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
}

/// <summary>Records what the model grains do (the injected <see cref="IModelGrainObserver"/>).</summary>
internal sealed class GrainRecorder : IModelGrainObserver
{
    public ConcurrentQueue<(string Model, ModelStreamRecord Record)> Applied { get; } = new();

    public ConcurrentDictionary<string, int> Ticks { get; } = new();

    public ConcurrentDictionary<string, int> InTick { get; } = new();

    public int Overlaps;

    void IModelGrainObserver.Applied(string modelId, ModelStreamRecord record) => Applied.Enqueue((modelId, record));

    void IModelGrainObserver.Tick(string modelId, string timer, bool started)
    {
        if (started)
        {
            Ticks.AddOrUpdate(timer, 1, (_, n) => n + 1);
            if (InTick.AddOrUpdate(modelId, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref Overlaps);
            }
        }
        else
        {
            InTick.AddOrUpdate(modelId, 0, (_, n) => n - 1);
        }
    }
}

/// <summary>A fresh directory per test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emstreaming-grains-tests", Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
