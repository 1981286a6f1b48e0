using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Streams;
using EmStreaming.Runtime.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmStreaming.Runtime.Tests.Hosting;

public sealed class SiloServiceCollectionExtensionsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AddEmStreamingSilo_HostedService_StartsSiloThatConsumesStreamsAndStopsItPersisting()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.Configure<SqliteOptions>(o => o.DataDirectory = _directory.Path);
        services.Configure<StreamOptions>(o => o.PartitionCount = 2);
        services.AddEmStreamingSilo(silo => silo.AddGrain<CounterGrain>("counter").AddImplicitSubscription("obs", "counter"));
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        var silo = provider.GetRequiredService<ISilo>();

        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        await provider.GetRequiredService<IStreamProducer>().AppendAsync(new StreamId("obs", "m1"), CounterGrain.Encode(1));
        await Wait.UntilAsync(async () => (await silo.QueryViewAsync<CounterView>(new GrainId("counter", "m1")))?.Count == 1, "applied");
        foreach (var service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        Assert.True(File.Exists(Path.Combine(_directory.Path, SqliteOptions.DefaultFileName)));
        await using var reopened = new SiloBuilder().UseSqlite(new SqliteOptions { DataDirectory = _directory.Path })
            .UseStreamOptions(new StreamOptions { PartitionCount = 2 }).Build();
        Assert.Equal(1, (await reopened.Snapshots.ReadAsync(new GrainId("counter", "m1")))!.Version);
    }
}
