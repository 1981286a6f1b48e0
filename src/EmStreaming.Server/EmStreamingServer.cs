using System.Net.Sockets;
using EmStreaming.Grains;
using EmStreaming.Providers.Sqlite;
using EmStreaming.Server.Api;
using EmStreaming.Server.Dashboard;
using EmStreaming.Server.Demo;
using EmStreaming.Server.Hosting;
using EmStreaming.Server.Security;
using EmStreaming.Server.Telemetry;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace EmStreaming.Server;

/// <summary>
/// The EmStreaming HTTP server: the <c>/v1</c> API over <see cref="IModelService"/>, the live dashboard at <c>/</c>,
/// health, metrics and the optional demo feeds. <c>emstream serve</c> and the server's own Program call
/// <see cref="RunAsync(ServerLaunchOptions, CancellationToken)"/>.
/// </summary>
public static class EmStreamingServer
{
    /// <summary>Exit code: the server ran and stopped normally.</summary>
    public const int ExitSuccess = 0;

    /// <summary>Exit code: the configuration is invalid (the messages name the settings).</summary>
    public const int ExitConfigurationError = 2;

    /// <summary>Exit code: the server could not listen (address in use or not allowed).</summary>
    public const int ExitListenError = 3;

    /// <summary>Runs the server with command-line style arguments (<c>--urls</c>, <c>--Section:Key=value</c>) until it is stopped.</summary>
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        return RunAsync(new ServerLaunchOptions { Args = args }, cancellationToken);
    }

    /// <summary>
    /// Builds, starts and runs the server until <paramref name="cancellationToken"/> fires or the process is asked to
    /// stop (Ctrl+C, SIGTERM). Returns <see cref="ExitSuccess"/>, <see cref="ExitConfigurationError"/> or
    /// <see cref="ExitListenError"/>; start-up problems are written to <see cref="ServerLaunchOptions.Error"/>.
    /// </summary>
    public static async Task<int> RunAsync(ServerLaunchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var error = options.Error ?? Console.Error;
        var output = options.Output ?? Console.Out;
        WebApplication app;
        string? settingsFile;
        try
        {
            settingsFile = ConfigurationLocator.Locate(options.ConfigFile);
            app = Build(options);
        }
        catch (FileNotFoundException e)
        {
            await error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitConfigurationError;
        }
        catch (OptionsValidationException e)
        {
            await WriteFailuresAsync(error, e).ConfigureAwait(false);
            return ExitConfigurationError;
        }
        catch (Exception e) when ((BadSettingsFile(e) ?? BadSettingValue(e)) is { } message)
        {
            await error.WriteLineAsync($"error: invalid configuration: {message}").ConfigureAwait(false);
            return ExitConfigurationError;
        }

        SiloHostOptions? silo = null; // set when one of the silo's ports is taken
        await using (app.ConfigureAwait(false))
        {
            try
            {
                // Settings first: a bad setting is reported by name before anything else can fail on it.
                _ = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
                _ = app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value;
                _ = app.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
                _ = app.Services.GetRequiredService<IOptions<DemoOptions>>().Value;
                _ = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value;
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Find<OptionsValidationException>(e) is { } invalid)
            {
                // Also when a silo start-up step found it (an unreachable storage account names its setting).
                await WriteFailuresAsync(error, invalid).ConfigureAwait(false);
                return ExitConfigurationError;
            }
            catch (Exception e) when (BadSettingValue(e) is { } message)
            {
                // A setting that does not convert to its type ('abc' for a port), bound when its options are first read.
                await error.WriteLineAsync($"error: invalid configuration: {message}").ConfigureAwait(false);
                return ExitConfigurationError;
            }
            catch (Exception e) when (Find<CorruptDataFileException>(e) is { } corrupt)
            {
                // A corrupted data file: name it (the message does) instead of dying with a stack trace.
                await error.WriteLineAsync($"error: {corrupt.Message}").ConfigureAwait(false);
                return ExitConfigurationError;
            }
            catch (IOException e) when (e.InnerException is SocketException || e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
            {
                await error.WriteLineAsync($"error: cannot listen: {e.Message}").ConfigureAwait(false);
                return ExitListenError;
            }
            catch (Exception e) when (Find<AddressInUseException>(e) is not null
                                      || Find<SocketException>(e) is { SocketErrorCode: SocketError.AddressAlreadyInUse or SocketError.AccessDenied })
            {
                // The silo's own listeners (Orleans does not name the port; the HTTP one is the IOException above): which
                // one is found once the application has let go of the other.
                silo = app.Services.GetRequiredService<IOptions<SiloHostOptions>>().Value;
            }

            if (silo is null)
            {
                return await ServeAsync(app, settingsFile, output, cancellationToken).ConfigureAwait(false);
            }
        }

        await error.WriteLineAsync($"error: cannot listen: {BusySiloPorts(silo)}").ConfigureAwait(false);
        return ExitListenError;
    }

    /// <summary>The started server: says where it listens and runs until it is stopped.</summary>
    private static async Task<int> ServeAsync(WebApplication app, string? settingsFile, TextWriter output, CancellationToken cancellationToken)
    {
        await output.WriteLineAsync($"EmStreaming settings: {settingsFile ?? "none found, built-in defaults"}").ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            await output.WriteLineAsync($"EmStreaming is listening on {address} — open {address.TrimEnd('/')}/ for the dashboard").ConfigureAwait(false);
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return ExitSuccess;
    }

    /// <summary>Which of the silo's ports cannot be bound now (the silo has released its own), named by setting.</summary>
    private static string BusySiloPorts(SiloHostOptions silo)
    {
        var busy = new List<string>();
        foreach (var (setting, port) in new[] { ("Orleans:SiloPort", silo.SiloPort), ("Orleans:GatewayPort", silo.GatewayPort) })
        {
            try
            {
                // Address reuse: connections of the stopped silo lingering in TIME_WAIT do not count, a listener does.
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Any, port));
            }
            catch (SocketException e)
            {
                busy.Add(e.SocketErrorCode == SocketError.AccessDenied
                    ? $"{setting} {port}: permission denied (a port below 1024 needs privileges; choose another)"
                    : $"{setting} {port}: address already in use (another silo or program listens there; choose a free port)");
            }
        }

        return busy.Count > 0
            ? string.Join("; ", busy)
            : $"Orleans:SiloPort {silo.SiloPort} or Orleans:GatewayPort {silo.GatewayPort}: the silo could not listen (address in use or not allowed)";
    }

    private static async Task WriteFailuresAsync(TextWriter error, OptionsValidationException e)
    {
        foreach (var failure in e.Failures)
        {
            await error.WriteLineAsync($"error: invalid configuration: {failure}").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The configuration binder's failure to convert a value ("Failed to convert configuration value 'abc' at
    /// 'Server:MaxRowsPerBatch' to type 'System.Int32'."), which names the setting; null for any other exception.
    /// </summary>
    private static string? BadSettingValue(Exception e) =>
        Find<InvalidOperationException>(e) is { } invalid && invalid.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
            ? invalid.Message
            : null;

    /// <summary>A settings file that is not valid JSON: the file and where the parser stopped; null for any other exception.</summary>
    private static string? BadSettingsFile(Exception e)
    {
        if (Find<InvalidDataException>(e) is not { } invalid || !invalid.Message.StartsWith("Failed to load configuration from file", StringComparison.Ordinal))
        {
            return null;
        }

        var innermost = invalid.GetBaseException();
        return ReferenceEquals(innermost, invalid) ? invalid.Message : $"{invalid.Message.TrimEnd('.')}: {innermost.Message}";
    }

    private static T? Find<T>(Exception? e)
        where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Builds the application (not started): configuration, services and the request pipeline.</summary>
    internal static WebApplication Build(ServerLaunchOptions options, Action<IServiceCollection>? configureServices = null)
    {
        // No reloading of settings on change: the default host would watch its content root (the working directory,
        // recursively) for appsettings changes, and a silo started in a busy directory (/tmp beside Azurite's files, a data
        // directory under the working directory) spent about 5 % of its CPU on that watcher's events. The settings file is
        // read once (ConfigurationLocator), so the watch served nothing. A later --hostBuilder:reloadConfigOnChange wins.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false", .. options.Args] });
        ConfigurationLocator.Apply(builder.Configuration, ConfigurationLocator.Locate(options.ConfigFile), builder.Environment.EnvironmentName);

        var overrides = new Dictionary<string, string?>();
        if (options.Urls is not null)
        {
            overrides["urls"] = options.Urls;
        }

        if (options.DataDirectory is not null)
        {
            overrides[$"{ModelStorageOptions.SectionName}:{nameof(ModelStorageOptions.DataDirectory)}"] = options.DataDirectory;
        }

        if (options.Demo)
        {
            overrides[$"{DemoOptions.SectionName}:{nameof(DemoOptions.Enabled)}"] = "true";
        }

        builder.Configuration.AddInMemoryCollection(overrides);

        var urls = NonEmpty(builder.Configuration["urls"]) ?? NonEmpty(builder.Configuration[$"{ServerOptions.SectionName}:{nameof(ServerOptions.Urls)}"]) ?? ServerOptions.DefaultUrls;
        builder.WebHost.UseUrls(urls);

        AddServerServices(builder.Services, builder.Configuration, urls);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        Configure(app);
        return app;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    /// <summary>Registers everything the server needs except the <see cref="IModelService"/> implementation's internals.</summary>
    internal static void AddServerServices(IServiceCollection services, IConfiguration configuration, string urls)
    {
        services.AddOptions<ServerOptions>().Bind(configuration.GetSection(ServerOptions.SectionName))
            .PostConfigure(o => o.Urls = urls).ValidateOnStart();
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.SectionName)).ValidateOnStart();
        services.AddOptions<RateLimitingOptions>().Bind(configuration.GetSection(RateLimitingOptions.SectionName)).ValidateOnStart();
        services.AddOptions<DemoOptions>().Bind(configuration.GetSection(DemoOptions.SectionName)).ValidateOnStart();
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        services.AddSingleton<IValidateOptions<RateLimitingOptions>, RateLimitingOptionsValidator>();
        services.AddSingleton<IValidateOptions<DemoOptions>, DemoOptionsValidator>();
        services.AddSingleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerOptions>>((kestrel, server) => kestrel.Limits.MaxRequestBodySize = server.Value.MaxRequestBodyBytes);

        services.TryAddSingleton(TimeProvider.System);
        services.AddApiProblems();
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "EmStreaming API";
            document.Info.Description = "Gaussian mixtures and HMMs that keep learning from streams: models, observations, state, predictions, snapshots and events.";
            return Task.CompletedTask;
        }));
        services.AddApiSecurity();
        services.AddMetrics();
        services.AddSingleton<ServerMetrics>();

        // The silo's hosted service first: hosts start services in registration order and stop them in reverse, so the
        // demo feed and the status poller start after the silo and stop before it (no append on a disposed log).
        SiloComposition.AddModelService(services, configuration);
        services.AddHostedService<ModelStatusPoller>();
        services.AddHostedService<TelemetryExportService>();
        services.AddHostedService<DemoHostedService>();
    }

    private static void Configure(WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDashboard();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();

        app.MapOpenApi().AllowAnonymous();
        app.MapGet("/healthz", () => TypedResults.Ok(new HealthResponse("ok")))
            .AllowAnonymous().WithTags("health").WithName("Health").WithSummary("Liveness: the process answers.");
        app.MapGet("/readyz", ReadyAsync)
            .AllowAnonymous().WithTags("health").WithName("Ready").WithSummary("Readiness: the model service answers a query.")
            .Produces<HealthResponse>().ProducesProblem(503);
        app.MapModelApi();
        if (SiloComposition.DashboardEnabled(app.Configuration))
        {
            // Orleans' own dashboard (silos, grains, calls) beside ours, behind the same API keys.
            app.MapOrleansDashboard(SiloComposition.OrleansDashboardPath).RequireAuthorization(ApiScopes.Read);
        }
    }

    private static async Task<IResult> ReadyAsync(IModelService service, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            // Activates no model: a probe every few seconds used to list the first model, which kept it active for good.
            await service.CheckReadyAsync(timeout.Token).ConfigureAwait(false);
            return TypedResults.Ok(new HealthResponse("ready"));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return TypedResults.Problem(
                detail: $"the model service did not answer: {e.Message}",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Not ready",
                type: "urn:emstreaming:problem:not-ready");
        }
    }
}

/// <summary>Starts the OTLP metrics export when configured, and flushes it on shutdown.</summary>
internal sealed class TelemetryExportService(IOptions<TelemetryOptions> options, ILogger<TelemetryExportService> logger) : IHostedService
{
    private OtlpExport? _export;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _export = OtlpExport.Create(options.Value);
        if (_export is not null)
        {
            logger.LogInformation("Exporting metrics over OTLP to {Endpoint}", options.Value.OtlpEndpoint);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _export?.Dispose();
        _export = null;
        return Task.CompletedTask;
    }
}

/// <summary>Runs <see cref="DemoFeedService"/> only when <c>Demo:Enabled</c> (or <c>--demo</c>).</summary>
internal sealed class DemoHostedService(IServiceProvider services, IOptions<DemoOptions> options) : IHostedService
{
    private DemoFeedService? _feed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return Task.CompletedTask;
        }

        _feed = ActivatorUtilities.CreateInstance<DemoFeedService>(services);
        return _feed.StartAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_feed is not null)
        {
            await _feed.StopAsync(cancellationToken).ConfigureAwait(false);
            _feed.Dispose();
        }
    }
}
