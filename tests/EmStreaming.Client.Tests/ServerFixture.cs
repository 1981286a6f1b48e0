using EmStreaming.Client.Transport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Client.Tests;

/// <summary>
/// The real server in memory (TestServer) over the real model grains with in-memory storage, and clients built the
/// way an application builds them: <c>AddEmStreamingClient</c> through IHttpClientFactory, with the TestServer as
/// the primary handler and a recorder of every attempt below the retry handler.
/// </summary>
public sealed class ServerFixture : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public ServerFixture()
        : this([])
    {
    }

    internal ServerFixture(Dictionary<string, string?> settings)
    {
        SiloPort = EmStreaming.Testing.LoopbackPorts.Free();
        do
        {
            GatewayPort = EmStreaming.Testing.LoopbackPorts.Free();
        }
        while (GatewayPort == SiloPort);

        _settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Enabled"] = "false",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Storage:Provider"] = "InMemory",

            // Each fixture's embedded silo on its own free ports: Orleans' listeners share a port within one user's
            // processes (SO_REUSEPORT), so two test servers on the defaults would receive each other's connections.
            ["Orleans:SiloPort"] = SiloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = GatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in settings)
        {
            _settings[k] = v;
        }
    }

    private int SiloPort { get; }

    private int GatewayPort { get; }

    /// <summary>Every request that reached the server's handler, in order (method, path, Idempotency-Key, status).</summary>
    internal List<(string Method, string Path, string? Key, int Status)> Attempts { get; } = [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Storage:Provider", "InMemory");
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(_settings));
    }

    /// <summary>A client from <c>services.AddEmStreamingClient(...)</c> talking to this server.</summary>
    public IEmStreamingClient CreateEmStreamingClient(Action<EmStreamingClientOptions>? configure = null)
    {
        var server = Server; // starts the host
        var services = new ServiceCollection();
        services.AddEmStreamingClient(o =>
            {
                o.BaseAddress = new Uri("http://localhost/");
                o.RetryDelay = TimeSpan.FromMilliseconds(50);
                configure?.Invoke(o);
            })
            .AddHttpMessageHandler(() => new RecordingHandler(Attempts))
            .ConfigurePrimaryHttpMessageHandler(() => server.CreateHandler());
        return services.BuildServiceProvider().GetRequiredService<IEmStreamingClient>();
    }

    private sealed class RecordingHandler(List<(string, string, string?, int)> attempts) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            lock (attempts)
            {
                attempts.Add((request.Method.Method, request.RequestUri!.AbsolutePath,
                    request.Headers.TryGetValues("Idempotency-Key", out var keys) ? keys.Single() : null, (int)response.StatusCode));
            }

            return response;
        }
    }
}
