namespace EmStreaming.Server.Hosting;

/// <summary>
/// Settings of the HTTP server (section <c>Server</c> of <c>appsettings.json</c>, or environment variables such as
/// <c>Server__MaxRequestBodyBytes</c>). Validated at start-up by <see cref="ServerOptionsValidator"/>.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Server";

    /// <summary>Default <see cref="Urls"/>: loopback only, port 5080.</summary>
    public const string DefaultUrls = "http://127.0.0.1:5080";

    /// <summary>Default <see cref="MaxRequestBodyBytes"/>: 16 MiB.</summary>
    public const long DefaultMaxRequestBodyBytes = 16L * 1024 * 1024;

    /// <summary>Default <see cref="MaxRowsPerBatch"/>: 100,000 rows.</summary>
    public const int DefaultMaxRowsPerBatch = 100_000;

    /// <summary>Default <see cref="MaxQueryRows"/>: 10,000 rows.</summary>
    public const int DefaultMaxQueryRows = 10_000;

    /// <summary>Default <see cref="RetryAfterSeconds"/>: 1 second.</summary>
    public const int DefaultRetryAfterSeconds = 1;

    /// <summary>
    /// Addresses to listen on, separated by <c>;</c>. The top-level <c>urls</c> setting (<c>--urls</c>,
    /// <c>ASPNETCORE_URLS</c>) takes precedence. Default <see cref="DefaultUrls"/>.
    /// </summary>
    public string Urls { get; set; } = DefaultUrls;

    /// <summary>Largest request body accepted, in bytes; larger bodies are answered 413. Default 16 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>Most rows in one observations batch. Default 100,000.</summary>
    public int MaxRowsPerBatch { get; set; } = DefaultMaxRowsPerBatch;

    /// <summary>Most rows in one predict, filter or impute request. Default 10,000.</summary>
    public int MaxQueryRows { get; set; } = DefaultMaxQueryRows;

    /// <summary>Value of the Retry-After header (seconds) when backpressure refuses a batch (503). Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = DefaultRetryAfterSeconds;

    /// <summary>Interval between keep-alive comments on an idle event stream. Default 15 seconds.</summary>
    public TimeSpan EventKeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Interval at which the metrics poller reads model statuses (snapshot age, mailbox depth). Default 10 seconds.</summary>
    public TimeSpan StatusPollInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>API keys and exposure rules (section <c>Security</c>).</summary>
public sealed class SecurityOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Security";

    /// <summary>Shortest accepted key, in characters.</summary>
    public const int MinimumKeyLength = 16;

    /// <summary>
    /// Accepted keys with their scopes. Empty (the default): every request is allowed, which the server accepts only
    /// when it listens on loopback addresses or <see cref="AllowAnonymousNonLoopback"/> is true.
    /// </summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Start without keys even when listening on a non-loopback address. Default false.</summary>
    public bool AllowAnonymousNonLoopback { get; set; }
}

/// <summary>One API key (<c>Security:ApiKeys:N</c>), sent as <c>X-Api-Key</c> or <c>Authorization: Bearer</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>A name for logs and rate-limit partitions (never the key itself). Default: <c>key-N</c>.</summary>
    public string? Name { get; set; }

    /// <summary>The secret, at least <see cref="SecurityOptions.MinimumKeyLength"/> characters.</summary>
    public string Key { get; set; } = "";

    /// <summary>Scopes: <c>read</c> (GET endpoints, events, predict/filter/impute) and/or <c>write</c> (create, delete, append, refit).</summary>
    public List<string> Scopes { get; set; } = [];
}

/// <summary>Per-client rate limits on the <c>/v1</c> API (section <c>RateLimiting</c>): a token bucket per API key, or per IP without keys.</summary>
public sealed class RateLimitingOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "RateLimiting";

    /// <summary>When false no limit applies. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Requests per second a client may sustain. Default 200.</summary>
    public int PermitsPerSecond { get; set; } = 200;

    /// <summary>Requests a client may make in a burst above the sustained rate. Default 400.</summary>
    public int Burst { get; set; } = 400;
}

/// <summary>The built-in demo feeds (section <c>Demo</c>; <c>--demo</c> sets <see cref="Enabled"/>).</summary>
public sealed class DemoOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Demo";

    /// <summary>Run the feeds. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>Seed of the simulated sensors and markets. Default 20240601.</summary>
    public int Seed { get; set; } = 20240601;

    /// <summary>Number of simulated sensors (GMM models). Default 12.</summary>
    public int Sensors { get; set; } = 12;

    /// <summary>Time between two feed ticks. Default 250 ms.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Rows appended per sensor per tick. Default 8.</summary>
    public int SensorRowsPerTick { get; set; } = 8;

    /// <summary>Rows appended per market per tick. Default 4.</summary>
    public int MarketRowsPerTick { get; set; } = 4;

    /// <summary>Default <see cref="HistoryRows"/>: 2,000 rows, more than any demo model needs to warm up.</summary>
    public const int DefaultHistoryRows = 2_000;

    /// <summary>
    /// Rows of simulated history appended to each demo model at start, in bursts, before the live feed begins, so
    /// parameters show within seconds instead of after the warm-up at the live rate. A model that already holds at
    /// least this many rows (a restart on the same data directory) is not seeded again. 0 = no history. Default 2,000.
    /// </summary>
    public int HistoryRows { get; set; } = DefaultHistoryRows;

    /// <summary>Prefix of the demo models' ids. Default <c>demo:</c>.</summary>
    public string ModelPrefix { get; set; } = "demo:";
}

/// <summary>OpenTelemetry export (section <c>OpenTelemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "OpenTelemetry";

    /// <summary>OTLP endpoint (for example <c>http://127.0.0.1:4317</c>); metrics are exported only when set.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>OTLP protocol: <c>grpc</c> (default) or <c>http/protobuf</c>.</summary>
    public string Protocol { get; set; } = "grpc";

    /// <summary>Export interval. Default 10 seconds.</summary>
    public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(10);
}
