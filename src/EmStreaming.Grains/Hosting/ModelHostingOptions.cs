using Microsoft.Extensions.Options;

namespace EmStreaming.Grains;

/// <summary>Where model state lives (<c>Storage</c> section).</summary>
public sealed class ModelStorageOptions
{
    public const string SectionName = "Storage";
    public const string DefaultProviderName = "models";

    /// <summary>
    /// <c>Sqlite</c> (default, durable, one file in <see cref="DataDirectory"/>), <c>InMemory</c> (tests, demos) or
    /// <c>AzureStorage</c> (grain state and snapshot history in Blobs, the registry in a Table of the <c>AzureStorage</c> account).
    /// </summary>
    public string Provider { get; set; } = "Sqlite";

    /// <summary>Directory of the SQLite file (also read by the providers' <c>SqliteStorageOptions</c>); default <c>./data</c>.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Name of the Orleans grain storage provider the model grains use; default <c>models</c>.</summary>
    public string ProviderName { get; set; } = DefaultProviderName;

    internal bool InMemory => string.Equals(Provider, "InMemory", StringComparison.OrdinalIgnoreCase);

    internal bool AzureStorage => string.Equals(Provider, "AzureStorage", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The model streams (<c>Streams</c> section).</summary>
public sealed class ModelStreamOptions
{
    public const string SectionName = "Streams";

    /// <summary>Name of the persistent stream provider the model grains consume; default <c>models</c>.</summary>
    public string ProviderName { get; set; } = ModelStreams.DefaultProviderName;

    /// <summary>
    /// <c>Sqlite</c> (default: the durable log in the SQLite file, or in memory with <c>Storage:Provider=InMemory</c>) or
    /// <c>AzureQueue</c> (Orleans' Azure Queue streams on the <c>AzureStorage</c> account). Azure Queues delete a message once
    /// it is delivered, so with them a model grain persists its state before it acknowledges each record.
    /// </summary>
    public string Provider { get; set; } = "Sqlite";

    internal bool AzureQueue => string.Equals(Provider, "AzureQueue", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The embedded Orleans silo (<c>Orleans</c> section).</summary>
public sealed class SiloHostOptions
{
    public const string SectionName = "Orleans";
    public const string DefaultClusterId = "emstreaming";
    public const string DefaultServiceId = "emstreaming";

    /// <summary>Default silo-to-silo port: not Orleans' 11111, which other local silos use.</summary>
    public const int DefaultSiloPort = 11311;

    /// <summary>Default client gateway port: not Orleans' 30000.</summary>
    public const int DefaultGatewayPort = 30300;

    public string ClusterId { get; set; } = DefaultClusterId;

    public string ServiceId { get; set; } = DefaultServiceId;

    public int SiloPort { get; set; } = DefaultSiloPort;

    public int GatewayPort { get; set; } = DefaultGatewayPort;

    /// <summary>A model grain idle this long is deactivated (its state persisted first); default 15 minutes.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Mount Orleans' own dashboard under <c>/orleans</c> (behind the API keys); default true. It profiles every grain call.</summary>
    public bool Dashboard { get; set; } = true;
}

/// <summary>Start-up checks of the model layer's settings; every message names the setting.</summary>
internal sealed class ModelHostingOptionsValidator : IValidateOptions<ModelStorageOptions>, IValidateOptions<ModelStreamOptions>, IValidateOptions<SiloHostOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelStorageOptions options)
    {
        List<string> failures = [];
        if (!options.InMemory && !options.AzureStorage && !string.Equals(options.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Storage:Provider must be 'Sqlite', 'InMemory' or 'AzureStorage' (was '{options.Provider}')");
        }

        if (!options.InMemory && string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add("Storage:DataDirectory must not be empty");
        }

        if (string.IsNullOrWhiteSpace(options.ProviderName))
        {
            failures.Add("Storage:ProviderName must not be empty");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public ValidateOptionsResult Validate(string? name, ModelStreamOptions options) =>
        string.IsNullOrWhiteSpace(options.ProviderName) ? ValidateOptionsResult.Fail("Streams:ProviderName must not be empty")
        : !options.AzureQueue && !string.Equals(options.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase)
            ? ValidateOptionsResult.Fail($"Streams:Provider must be 'Sqlite' or 'AzureQueue' (was '{options.Provider}')")
        : ValidateOptionsResult.Success;

    public ValidateOptionsResult Validate(string? name, SiloHostOptions options) => Check(options) is { Count: > 0 } failures
        ? ValidateOptionsResult.Fail(failures)
        : ValidateOptionsResult.Success;

    /// <summary>The silo's settings are needed before the host's options exist (to configure the silo): checked here, named.</summary>
    public static List<string> Check(SiloHostOptions options)
    {
        List<string> failures = [];
        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add("Orleans:ClusterId must not be empty");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add("Orleans:ServiceId must not be empty");
        }

        if (options.SiloPort is < 1 or > 65535)
        {
            failures.Add($"Orleans:SiloPort must be between 1 and 65535 (was {options.SiloPort})");
        }

        if (options.GatewayPort is < 1 or > 65535)
        {
            failures.Add($"Orleans:GatewayPort must be between 1 and 65535 (was {options.GatewayPort})");
        }

        if (options.SiloPort == options.GatewayPort)
        {
            failures.Add($"Orleans:SiloPort and Orleans:GatewayPort must differ (both {options.SiloPort})");
        }

        // Orleans refuses an age that is not above its collection quantum (one minute): "at least 00:01:00" let 00:01:00 through,
        // and the silo then failed to start with Orleans' exception, reported as a bug.
        if (options.CollectionAge <= TimeSpan.FromMinutes(1))
        {
            failures.Add($"Orleans:CollectionAge must be more than 00:01:00, Orleans' collection quantum (was {options.CollectionAge})");
        }

        return failures;
    }
}
