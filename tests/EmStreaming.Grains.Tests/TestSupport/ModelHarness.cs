using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Events;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Numerics;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>A silo with the model grain and a service over it, in memory or on a SQLite file in a temp directory.</summary>
internal sealed class ModelHarness : IAsyncDisposable
{
    private readonly ModelMetrics _metrics;

    private ModelHarness(ISilo silo, IModelRegistry registry, ModelService service, ModelMetrics metrics)
    {
        Silo = silo;
        Registry = registry;
        Service = service;
        _metrics = metrics;
    }

    public ISilo Silo { get; }

    public IModelRegistry Registry { get; }

    public ModelService Service { get; }

    public static async Task<ModelHarness> StartAsync(TimeProvider clock, string? directory = null, ModelTemplateOptions? templates = null, int partitions = 4)
    {
        var hub = new ModelEventHub();
        var metrics = new ModelMetrics(clock);
        IModelRegistry registry = directory is null ? new InMemoryModelRegistry(clock) : new SqliteModelRegistry(Path.Combine(directory, "emstreaming.db"), clock);
        var pending = new PendingObservations();
        var services = new ServiceCollection().AddSingleton(registry).AddSingleton(hub).AddSingleton(metrics).AddSingleton(pending).BuildServiceProvider();
        var builder = new SiloBuilder()
            .UseTimeProvider(clock)
            .UseServices(services)
            .UseStreamOptions(new StreamOptions { PartitionCount = partitions })
            .AddGrain<ModelGrain>(ModelGrain.GrainType)
            .AddImplicitSubscription(ModelGrain.StreamNamespace, ModelGrain.GrainType);
        if (directory is null)
        {
            builder.UseInMemoryStorage();
        }
        else
        {
            builder.UseSqlite(new SqliteOptions { DataDirectory = directory, FullSync = false });
        }

        var silo = builder.Build();
        await silo.StartAsync();
        return new ModelHarness(silo, registry, new ModelService(silo, registry, new ModelTemplates(templates ?? new ModelTemplateOptions()), hub, pending), metrics);
    }

    /// <summary>Crash simulation: the runtime's internal kill (no deactivation, no flush, no checkpoint).</summary>
    public async Task KillAsync()
    {
        await ((Runtime.Catalog.Silo)Silo).KillAsync();
        _metrics.Dispose();
    }

    public async Task<ModelStateView> WaitForObservationsAsync(string id, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
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

            await Task.Delay(1);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Silo.DisposeAsync();
        _metrics.Dispose();
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

    private static double NextGaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
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
