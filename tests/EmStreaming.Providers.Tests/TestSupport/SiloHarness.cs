using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;

namespace EmStreaming.Providers.Tests.TestSupport;

/// <summary>A real in-process silo (localhost clustering on free ports), started and stopped by the test.</summary>
internal sealed class SiloHarness : IAsyncDisposable
{
    private SiloHarness(IHost host)
    {
        Host = host;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public IClusterClient Client => Host.Services.GetRequiredService<IClusterClient>();

    public static async Task<SiloHarness> StartAsync(IDictionary<string, string?> settings, Action<ISiloBuilder, IConfiguration> configureSilo, Action<IServiceCollection>? configureServices = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        var configuration = builder.Configuration;
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreePort(), FreePort(), serviceId: "providers-tests", clusterId: $"providers-tests-{Guid.NewGuid():N}");
            configureSilo(silo, configuration);
        });
        configureServices?.Invoke(builder.Services);
        if (Environment.GetEnvironmentVariable("PROVIDERS_TEST_LOG") is { Length: > 0 } level)
        {
            // Diagnostics only: PROVIDERS_TEST_LOG=Debug dotnet test ... prints the silo's log.
            builder.Logging.AddSimpleConsole().SetMinimumLevel(Enum.Parse<Microsoft.Extensions.Logging.LogLevel>(level));
        }
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new SiloHarness(host);
    }

    public async Task StopAsync()
    {
        await Host.StopAsync().WaitAsync(TimeSpan.FromSeconds(120));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (Host is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
            else
            {
                Host.Dispose();
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
