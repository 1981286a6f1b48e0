using EmStreaming.Providers.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;
using Orleans.Storage;

namespace EmStreaming.Providers.Azure.Tests.Storage;

/// <summary>
/// The shared <see cref="IGrainStorage"/> contract against what <c>Storage:Provider=AzureStorage</c> registers: Orleans' Azure
/// Blob grain storage with our serializer, behind the corrupt-state guard, on Azurite (one container per test). The silo's
/// services are built (not started); only the Blob storage's own start-up step runs.
/// </summary>
public sealed class AzureBlobGrainStorageContractTests(AzuriteFixture azurite) : GrainStorageContractTests, IClassFixture<AzuriteFixture>
{
    private const string Name = "models";
    private readonly List<IHost> _hosts = [];

    protected override IGrainStorage Create(IGrainStorageSerializer serializer)
    {
        // The serializer registered by the hosting extension is the same GrainStateSerializer type the base hands over.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureStorage:ConnectionString"] = azurite.ConnectionString,
            ["Storage:Azure:ContainerName"] = "grains-" + Guid.NewGuid().ToString("N")[..16],
        }).Build();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.UseLocalhostClustering().AddEmStreamingAzureBlobStorage(Name, configuration));
        var host = builder.Build();
        _hosts.Add(host);
        var inner = (ILifecycleParticipant<ISiloLifecycle>)host.Services.GetRequiredKeyedService<IGrainStorage>(Name + ".blob");
        var lifecycle = new StartOnlyLifecycle();
        inner.Participate(lifecycle);
        lifecycle.StartAsync().GetAwaiter().GetResult();
        return host.Services.GetRequiredKeyedService<IGrainStorage>(Name);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var host in _hosts)
        {
            host.Dispose();
        }
    }

    /// <summary>Runs the start steps one provider subscribed, in stage order (the silo's lifecycle without the silo).</summary>
    private sealed class StartOnlyLifecycle : ISiloLifecycle
    {
        private readonly List<(int Stage, ILifecycleObserver Observer)> _observers = [];

        public int HighestCompletedStage { get; private set; }

        public int LowestStoppedStage { get; private set; }

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            _observers.Add((stage, observer));
            return new Unsubscriber();
        }

        public async Task StartAsync()
        {
            foreach (var (stage, observer) in _observers.OrderBy(o => o.Stage))
            {
                await observer.OnStart(CancellationToken.None);
                HighestCompletedStage = stage;
            }
        }

        private sealed class Unsubscriber : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
