using EmStreaming.Server.Hosting;
using EmStreaming.Server.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Tests.Hosting;

public sealed class OptionsValidationTests
{
    private static ValidateOptionsResult Security(string urls, SecurityOptions security, Dictionary<string, string?>? configuration = null) =>
        new SecurityOptionsValidator(
            Options.Create(new ServerOptions { Urls = urls }),
            new ConfigurationBuilder().AddInMemoryCollection(configuration ?? []).Build()).Validate(null, security);

    [Theory]
    [InlineData("Http", "http://0.0.0.0:5080")]
    [InlineData("Https", "https://*:5443")]
    [InlineData("Any", "http://192.168.1.4:5080")]
    public void SecurityValidator_KestrelEndpointNonLoopbackWithoutKeys_FailsNamingTheEndpoint(string name, string url)
    {
        var result = Security("http://127.0.0.1:5080", new SecurityOptions(), new() { [$"Kestrel:Endpoints:{name}:Url"] = url });
        Assert.True(result.Failed);
        Assert.Contains($"Kestrel:Endpoints:{name}:Url", result.FailureMessage);
        Assert.Contains("Security:AllowAnonymousNonLoopback", result.FailureMessage);
    }

    [Fact]
    public void SecurityValidator_KestrelEndpointLoopbackWithoutKeys_Succeeds() =>
        Assert.True(Security("http://127.0.0.1:5080", new SecurityOptions(), new() { ["Kestrel:Endpoints:Http:Url"] = "http://localhost:5081" }).Succeeded);

    [Fact]
    public void SecurityValidator_KestrelEndpointNotAUrl_FailsNamingTheEndpoint()
    {
        var result = Security("http://127.0.0.1:5080", new SecurityOptions(), new() { ["Kestrel:Endpoints:Odd:Url"] = "ftp://x" });
        Assert.Contains("Kestrel:Endpoints:Odd:Url", result.FailureMessage);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080")]
    [InlineData("http://localhost:5080;http://[::1]:5081")]
    public void SecurityValidator_LoopbackWithoutKeys_Succeeds(string urls) =>
        Assert.True(Security(urls, new SecurityOptions()).Succeeded);

    [Theory]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("http://*:5080")]
    [InlineData("http://127.0.0.1:5080;http://192.168.1.4:5080")]
    public void SecurityValidator_NonLoopbackWithoutKeys_FailsNamingSettings(string urls)
    {
        var result = Security(urls, new SecurityOptions());
        Assert.True(result.Failed);
        Assert.Contains("Security:ApiKeys", result.FailureMessage);
        Assert.Contains("Security:AllowAnonymousNonLoopback", result.FailureMessage);
    }

    [Fact]
    public void SecurityValidator_NonLoopbackExplicitlyAllowed_Succeeds() =>
        Assert.True(Security("http://0.0.0.0:5080", new SecurityOptions { AllowAnonymousNonLoopback = true }).Succeeded);

    [Fact]
    public void SecurityValidator_NonLoopbackWithKeys_Succeeds() =>
        Assert.True(Security("http://0.0.0.0:5080", new SecurityOptions { ApiKeys = [new ApiKeyOptions { Key = "0123456789abcdef", Scopes = ["read"] }] }).Succeeded);

    [Fact]
    public void SecurityValidator_BadKeys_FailNamingEachKey()
    {
        var result = Security("http://127.0.0.1:1", new SecurityOptions
        {
            ApiKeys =
            [
                new ApiKeyOptions { Key = "short", Scopes = ["read"] },
                new ApiKeyOptions { Key = "0123456789abcdef", Scopes = ["admin"] },
                new ApiKeyOptions { Key = "0123456789abcdef", Scopes = [] },
            ],
        });
        Assert.Contains("Security:ApiKeys:0:Key", result.FailureMessage);
        Assert.Contains("Security:ApiKeys:1:Scopes: 'admin'", result.FailureMessage);
        Assert.Contains("Security:ApiKeys:2:Key repeats", result.FailureMessage);
        Assert.Contains("Security:ApiKeys:2:Scopes", result.FailureMessage);
    }

    [Theory]
    [InlineData(nameof(ServerOptions.MaxRequestBodyBytes), "Server:MaxRequestBodyBytes")]
    [InlineData(nameof(ServerOptions.Urls), "Server:Urls")]
    [InlineData(nameof(ServerOptions.MaxRowsPerBatch), "Server:MaxRowsPerBatch")]
    public void ServerValidator_BadValue_FailsNamingSetting(string property, string setting)
    {
        var options = new ServerOptions();
        switch (property)
        {
            case nameof(ServerOptions.MaxRequestBodyBytes): options.MaxRequestBodyBytes = 10; break;
            case nameof(ServerOptions.Urls): options.Urls = "ftp://x"; break;
            default: options.MaxRowsPerBatch = 0; break;
        }

        var result = new ServerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(setting, result.FailureMessage);
    }

    [Fact]
    public void Validators_Defaults_Succeed()
    {
        Assert.True(new ServerOptionsValidator().Validate(null, new ServerOptions()).Succeeded);
        Assert.True(new RateLimitingOptionsValidator().Validate(null, new RateLimitingOptions()).Succeeded);
        Assert.True(new DemoOptionsValidator().Validate(null, new DemoOptions()).Succeeded);
        Assert.True(new TelemetryOptionsValidator().Validate(null, new TelemetryOptions()).Succeeded);
    }

    [Fact]
    public void TelemetryValidator_BadEndpoint_FailsNamingSetting()
    {
        var result = new TelemetryOptionsValidator().Validate(null, new TelemetryOptions { OtlpEndpoint = "not a url" });
        Assert.Contains("OpenTelemetry:OtlpEndpoint", result.FailureMessage);
    }

    [Fact]
    public async Task RunAsync_NonLoopbackWithoutKeys_RefusesToStartWithExitCode2()
    {
        var error = new StringWriter();
        var code = await EmStreamingServer.RunAsync(new ServerLaunchOptions
        {
            Urls = "http://0.0.0.0:0",
            Args = ["--Demo:Enabled=false"],
            Error = error,
            Output = TextWriter.Null,
        });
        Assert.Equal(EmStreamingServer.ExitConfigurationError, code);
        Assert.Contains("Security:AllowAnonymousNonLoopback", error.ToString());
    }

    /// <summary>The bypass the issue found: Kestrel's own endpoint setting on the command line, with no keys, must not start.</summary>
    [Fact]
    public async Task RunAsync_KestrelEndpointOnAllInterfacesWithoutKeys_RefusesToStartWithExitCode2()
    {
        var error = new StringWriter();
        var code = await EmStreamingServer.RunAsync(new ServerLaunchOptions
        {
            Args = ["--Kestrel:Endpoints:Http:Url=http://0.0.0.0:0", "--Demo:Enabled=false", "--Storage:Provider=InMemory", .. TestPaths.OrleansPortArgs()],
            Error = error,
            Output = TextWriter.Null,
        });
        Assert.Equal(EmStreamingServer.ExitConfigurationError, code);
        Assert.Contains("Kestrel:Endpoints:Http:Url", error.ToString());
    }

    [Fact]
    public async Task RunAsync_CorruptDataFile_ExitCode2NamingTheFile()
    {
        var directory = TestPaths.TempDirectory();
        try
        {
            var file = Path.Combine(directory, "emstreaming.db");
            await File.WriteAllTextAsync(file, new string('x', 8192)); // not a SQLite database
            var error = new StringWriter();
            var code = await EmStreamingServer.RunAsync(new ServerLaunchOptions
            {
                Urls = $"http://127.0.0.1:{TestPaths.FreePort()}",
                DataDirectory = directory,
                Args = ["--Demo:Enabled=false", .. TestPaths.OrleansPortArgs()],
                Error = error,
                Output = TextWriter.Null,
            });
            Assert.Equal(EmStreamingServer.ExitConfigurationError, code);
            Assert.Contains(file, error.ToString());
            Assert.DoesNotContain("   at ", error.ToString()); // a message, not a stack trace
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// A silo or gateway port another program listens on: exit code 3 and one line naming the setting and port, not an
    /// unhandled exception (which aborted the process with 134 and a page of stack traces).
    /// </summary>
    [Theory]
    [InlineData("Orleans:SiloPort")]
    [InlineData("Orleans:GatewayPort")]
    public async Task RunAsync_SiloPortTaken_ExitCode3NamingTheSettingAndPort(string setting)
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var ports = TestPaths.OrleansPorts();
        ports[setting] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var error = new StringWriter();
        var code = await EmStreamingServer.RunAsync(new ServerLaunchOptions
        {
            Urls = $"http://127.0.0.1:{TestPaths.FreePort()}",
            Args = ["--Demo:Enabled=false", "--Storage:Provider=InMemory", .. ports.Select(p => $"--{p.Key}={p.Value}")],
            Error = error,
            Output = TextWriter.Null,
        });
        Assert.Equal(EmStreamingServer.ExitListenError, code);
        Assert.Contains($"error: cannot listen: {setting} {port}: address already in use", error.ToString());
        Assert.DoesNotContain("   at ", error.ToString());
    }

    [Theory]
    [InlineData("--Orleans:SiloPort=70000", "Orleans:SiloPort")]
    [InlineData("--Orleans:ClusterId=", "Orleans:ClusterId")]
    [InlineData("--Streams:Queues=0", "Streams:Queues")]
    public async Task RunAsync_InvalidOrleansSetting_ExitCode2NamingTheSetting(string argument, string setting)
    {
        var error = new StringWriter();
        var code = await EmStreamingServer.RunAsync(new ServerLaunchOptions
        {
            Urls = $"http://127.0.0.1:{TestPaths.FreePort()}",
            Args = ["--Demo:Enabled=false", "--Storage:Provider=InMemory", .. TestPaths.OrleansPortArgs(), argument],
            Error = error,
            Output = TextWriter.Null,
        });
        Assert.Equal(EmStreamingServer.ExitConfigurationError, code);
        Assert.Contains(setting, error.ToString());
    }
}
