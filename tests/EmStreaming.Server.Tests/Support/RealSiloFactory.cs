using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace EmStreaming.Server.Tests.Support;

/// <summary>
/// The server in memory (TestServer) over the real model service: the embedded silo registered by
/// <c>AddEmStreamingModels</c> with <c>Storage:Provider=InMemory</c>, so what the API answers is what the grains do.
/// </summary>
public sealed class RealSiloFactory : WebApplicationFactory<Program>
{
    /// <summary>The body limit these tests run under (small, so a 413 needs no megabytes).</summary>
    public const int MaxRequestBodyBytes = 8 * 1024;

    /// <summary>A template prefix configured for these tests: an append to an unknown id under it creates the model.</summary>
    public const string TemplatePrefix = "tpl-";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Host settings (UseSetting) are visible while services are registered; AddEmStreamingModels reads
        // Storage:Provider then, so it must not be left to app configuration added after registration.
        builder.UseSetting("Storage:Provider", "InMemory");
        builder.UseSetting("Orleans:Dashboard", "false");
        foreach (var (key, value) in TestPaths.OrleansPorts())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimiting:Enabled"] = "false",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Storage:Provider"] = "InMemory",
            ["Server:MaxRequestBodyBytes"] = MaxRequestBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Models:Templates:0:Prefix"] = TemplatePrefix,
            ["Models:Templates:0:Definition:Kind"] = "Gmm",
            ["Models:Templates:0:Definition:Dimension"] = "2",
            ["Models:Templates:0:Definition:Components"] = "2",
        }));
    }
}
