using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>
/// The one Azure Storage account a cluster uses for membership (Tables), grain state and snapshot history (Blobs) and
/// observation streams (Queues). Bound from the <c>AzureStorage</c> section. Exactly one of
/// <see cref="ConnectionString"/> and <see cref="ServiceUri"/> is set.
/// </summary>
public sealed class AzureStorageAccountOptions
{
    /// <summary>The configuration section: <c>AzureStorage</c>.</summary>
    public const string SectionName = "AzureStorage";

    /// <summary>Default <see cref="StartupCheckTimeout"/>: 15 seconds.</summary>
    public static readonly TimeSpan DefaultStartupCheckTimeout = TimeSpan.FromSeconds(15);

    /// <summary>A storage connection string with blob, queue and table endpoints (<c>AzureStorage:ConnectionString</c>); Azurite's works.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The account's blob endpoint, e.g. <c>https://ACCOUNT.blob.core.windows.net/</c> (<c>AzureStorage:ServiceUri</c>),
    /// authenticated with <c>DefaultAzureCredential</c> (managed identity, workload identity, environment, az login). The queue
    /// and table endpoints are the same host with <c>.queue.</c> / <c>.table.</c> in place of <c>.blob.</c>.
    /// </summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>How long the start-up check waits for the account to answer (<c>AzureStorage:StartupCheckTimeout</c>).</summary>
    public TimeSpan StartupCheckTimeout { get; set; } = DefaultStartupCheckTimeout;

    /// <summary>The setting that names the account, for messages.</summary>
    internal string SettingName => string.IsNullOrWhiteSpace(ConnectionString) ? $"{SectionName}:{nameof(ServiceUri)}" : $"{SectionName}:{nameof(ConnectionString)}";
}

/// <summary>Validates <see cref="AzureStorageAccountOptions"/> at start-up; every message names the setting.</summary>
internal sealed class AzureStorageAccountOptionsValidator : IValidateOptions<AzureStorageAccountOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureStorageAccountOptions options) => Check(options) is { Count: > 0 } failures
        ? ValidateOptionsResult.Fail(failures)
        : ValidateOptionsResult.Success;

    internal static List<string> Check(AzureStorageAccountOptions options)
    {
        List<string> failures = [];
        var hasConnection = !string.IsNullOrWhiteSpace(options.ConnectionString);
        if (hasConnection == options.ServiceUri is not null)
        {
            failures.Add(hasConnection
                ? "AzureStorage:ConnectionString and AzureStorage:ServiceUri are both set; set one of them"
                : "AzureStorage:ConnectionString (or AzureStorage:ServiceUri with a managed identity) must be set: an Azure Storage provider is selected (Orleans:Clustering, Storage:Provider or Streams:Provider)");
        }
        else if (hasConnection)
        {
            try
            {
                _ = new BlobServiceClient(options.ConnectionString);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                failures.Add($"AzureStorage:ConnectionString is not a storage connection string: {e.Message}");
            }
        }
        else if (options.ServiceUri is { } uri
                 && (!uri.IsAbsoluteUri || uri.Scheme is not ("https" or "http") || !uri.Host.Contains(".blob.", StringComparison.OrdinalIgnoreCase)))
        {
            failures.Add($"AzureStorage:ServiceUri must be the account's blob endpoint, like https://ACCOUNT.blob.core.windows.net/ (was '{uri}')");
        }

        if (options.StartupCheckTimeout <= TimeSpan.Zero)
        {
            failures.Add($"AzureStorage:StartupCheckTimeout must be greater than zero (was {options.StartupCheckTimeout})");
        }

        return failures;
    }
}
