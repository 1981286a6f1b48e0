using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>What a provider of this silo needs from the account, for the start-up check: a container, a queue or a table.</summary>
internal sealed record AzureStorageRequirement(AzureStorageService Service, string Name);

internal enum AzureStorageService
{
    Blob,
    Queue,
    Table,
}

/// <summary>
/// The service clients of the account, built once from <see cref="AzureStorageAccountOptions"/> and shared by every
/// provider of the silo (Orleans' clustering, grain storage and queue streams get them through their options'
/// client properties, not the obsolete connection-string helpers).
/// </summary>
internal sealed class AzureStorageAccount
{
    private readonly AzureStorageAccountOptions _options;
    private readonly Lazy<TokenCredential> _credential = new(() => new DefaultAzureCredential());

    public AzureStorageAccount(IOptions<AzureStorageAccountOptions> options)
    {
        _options = options.Value;
        Blobs = CreateBlobs(retries: null);
        Queues = CreateQueues(retries: null);
        Tables = CreateTables(retries: null);
    }

    public BlobServiceClient Blobs { get; }

    public QueueServiceClient Queues { get; }

    public TableServiceClient Tables { get; }

    /// <summary>
    /// Asks the account for every requirement once, without retries, within <see cref="AzureStorageAccountOptions.StartupCheckTimeout"/>:
    /// a container, queue or table that does not exist yet is fine (the providers create them); no answer, or refused
    /// credentials, is an <see cref="OptionsValidationException"/> naming the setting.
    /// </summary>
    public async Task CheckAsync(IEnumerable<AzureStorageRequirement> requirements, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.StartupCheckTimeout);
        var blobs = CreateBlobs(retries: 0);
        var queues = CreateQueues(retries: 0);
        var tables = CreateTables(retries: 0);
        var failures = new List<string>();
        foreach (var requirement in requirements.Distinct())
        {
            var endpoint = requirement.Service switch
            {
                AzureStorageService.Blob => blobs.Uri,
                AzureStorageService.Queue => queues.Uri,
                _ => tables.Uri,
            };
            try
            {
                switch (requirement.Service)
                {
                    case AzureStorageService.Blob:
                        await blobs.GetBlobContainerClient(requirement.Name).ExistsAsync(timeout.Token).ConfigureAwait(false);
                        break;
                    case AzureStorageService.Queue:
                        await queues.GetQueueClient(requirement.Name).ExistsAsync(timeout.Token).ConfigureAwait(false);
                        break;
                    default:
                        await tables.QueryAsync(t => t.Name == requirement.Name, maxPerPage: 1, timeout.Token).AsPages().GetAsyncEnumerator(timeout.Token)
                            .MoveNextAsync().ConfigureAwait(false);
                        break;
                }
            }
            catch (RequestFailedException e) when (e.Status is 401 or 403)
            {
                failures.Add($"{_options.SettingName}: the account at {endpoint} refused the credentials for {requirement.Service} '{requirement.Name}' ({e.Status} {e.ErrorCode})");
            }
            catch (Exception e) when (e is RequestFailedException or AuthenticationFailedException or HttpRequestException
                                        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                var reason = e is OperationCanceledException ? $"no answer within {_options.StartupCheckTimeout.TotalSeconds:0.#} s" : e.Message.Split('\n')[0];
                failures.Add($"{_options.SettingName}: the Azure Storage account at {endpoint} is unreachable ({reason})");
            }

            if (failures.Count > 0)
            {
                // One unreachable endpoint is reason enough; do not wait out the others.
                break;
            }
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(AzureStorageAccountOptions.SectionName, typeof(AzureStorageAccountOptions), failures);
        }
    }

    private BlobServiceClient CreateBlobs(int? retries)
    {
        var options = new BlobClientOptions();
        Limit(options, retries);
        return _options.ServiceUri is { } uri
            ? new BlobServiceClient(uri, Credential(), options)
            : new BlobServiceClient(_options.ConnectionString, options);
    }

    private QueueServiceClient CreateQueues(int? retries)
    {
        var options = new QueueClientOptions();
        Limit(options, retries);
        return _options.ServiceUri is { } uri
            ? new QueueServiceClient(Sibling(uri, "queue"), Credential(), options)
            : new QueueServiceClient(_options.ConnectionString, options);
    }

    private TableServiceClient CreateTables(int? retries)
    {
        var options = new TableClientOptions();
        Limit(options, retries);
        return _options.ServiceUri is { } uri
            ? new TableServiceClient(Sibling(uri, "table"), Credential(), options)
            : new TableServiceClient(_options.ConnectionString, options);
    }

    private static void Limit(ClientOptions options, int? retries)
    {
        if (retries is { } count)
        {
            options.Retry.MaxRetries = count;
            options.Retry.NetworkTimeout = TimeSpan.FromSeconds(5);
        }
    }

    /// <summary>One credential for every client: it caches its tokens (managed identity, workload identity, az login).</summary>
    private TokenCredential Credential() => _credential.Value;

    /// <summary>The queue or table endpoint of the account whose blob endpoint is <paramref name="blob"/>.</summary>
    internal static Uri Sibling(Uri blob, string service) =>
        new UriBuilder(blob) { Host = blob.Host.Replace(".blob.", $".{service}.", StringComparison.OrdinalIgnoreCase) }.Uri;
}
