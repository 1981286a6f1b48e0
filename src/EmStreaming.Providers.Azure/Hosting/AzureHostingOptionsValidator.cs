using System.Net;
using System.Text.RegularExpressions;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>
/// Checks of the cluster, Blob and Queue settings. They are needed while the silo is being configured (before the host's
/// options exist), so they run there; every message names the setting.
/// </summary>
internal static partial class AzureHostingOptionsValidator
{
    public static List<string> Check(EmStreamingClusterOptions options)
    {
        List<string> failures = [];
        if (!Enum.IsDefined(options.Clustering))
        {
            failures.Add($"Orleans:Clustering must be Localhost, AzureStorage or Redis (was '{options.Clustering}')");
        }

        if (!string.IsNullOrWhiteSpace(options.AdvertisedIPAddress) && !IPAddress.TryParse(options.AdvertisedIPAddress, out _))
        {
            failures.Add($"Orleans:AdvertisedIPAddress must be an IP address (was '{options.AdvertisedIPAddress}')");
        }

        if (options.Clustering == ClusteringProvider.Redis && string.IsNullOrWhiteSpace(options.Redis.ConnectionString))
        {
            failures.Add("Orleans:Redis:ConnectionString must be set when Orleans:Clustering is Redis");
        }

        if (options.Clustering == ClusteringProvider.Localhost && options.Kubernetes)
        {
            failures.Add("Orleans:Kubernetes needs a shared membership: set Orleans:Clustering to AzureStorage or Redis");
        }

        return failures;
    }

    public static List<string> Check(AzureBlobStorageSettings settings)
    {
        List<string> failures = [];
        CheckName(failures, "Storage:Azure:ContainerName", settings.ContainerName);
        CheckName(failures, "Storage:Azure:HistoryContainerName", settings.HistoryContainerName);
        if (string.IsNullOrEmpty(settings.RegistryTableName) || settings.RegistryTableName.Length is < 3 or > 63
            || !char.IsAsciiLetter(settings.RegistryTableName[0]) || !settings.RegistryTableName.All(char.IsAsciiLetterOrDigit))
        {
            failures.Add($"Storage:Azure:RegistryTableName must be 3 to 63 ASCII letters and digits, starting with a letter (was '{settings.RegistryTableName}')");
        }

        if (failures.Count == 0 && string.Equals(settings.ContainerName, settings.HistoryContainerName, StringComparison.Ordinal))
        {
            failures.Add($"Storage:Azure:ContainerName and Storage:Azure:HistoryContainerName must differ (both '{settings.ContainerName}')");
        }

        return failures;
    }

    public static List<string> Check(AzureQueueStreamSettings settings)
    {
        List<string> failures = [];
        if (settings.QueueCount is < 1 or > 256)
        {
            failures.Add($"Streams:AzureQueue:QueueCount must be between 1 and 256 (was {settings.QueueCount})");
        }

        // The longest name, PREFIX-255, must be a valid queue name too.
        CheckName(failures, "Streams:AzureQueue:QueuePrefix", settings.QueuePrefix, reserve: 4);
        if (settings.VisibilityTimeout < TimeSpan.FromSeconds(30) || settings.VisibilityTimeout > TimeSpan.FromDays(7))
        {
            failures.Add($"Streams:AzureQueue:VisibilityTimeout must be between 00:00:30 and 7.00:00:00 (was {settings.VisibilityTimeout})");
        }

        if (settings.PollPeriod <= TimeSpan.Zero || settings.PollPeriod > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Streams:AzureQueue:PollPeriod must be greater than zero and at most 00:01:00 (was {settings.PollPeriod})");
        }

        if (settings.DeliveryBatchSize is < 1 or > 1024)
        {
            failures.Add($"Streams:AzureQueue:DeliveryBatchSize must be between 1 and 1024 (was {settings.DeliveryBatchSize})");
        }

        if (settings.CommitInterval < TimeSpan.Zero || settings.CommitInterval > TimeSpan.FromSeconds(10) || settings.CommitInterval * 4 > settings.VisibilityTimeout)
        {
            failures.Add($"Streams:AzureQueue:CommitInterval must be between 00:00:00 and 00:00:10 and at most a quarter of Streams:AzureQueue:VisibilityTimeout (was {settings.CommitInterval})");
        }

        if (settings.CacheSize < 32)
        {
            failures.Add($"Streams:AzureQueue:CacheSize must be at least 32 (was {settings.CacheSize})");
        }

        return failures;
    }

    /// <summary>Azure container and queue names: 3–63 lowercase letters, digits and single hyphens, starting and ending alphanumeric.</summary>
    private static void CheckName(List<string> failures, string setting, string? name, int reserve = 0)
    {
        if (string.IsNullOrEmpty(name) || name.Length < 3 || name.Length > 63 - reserve || !StorageName().IsMatch(name))
        {
            failures.Add($"{setting} must be 3 to {63 - reserve} lowercase letters, digits and single hyphens, starting and ending with a letter or digit (was '{name}')");
        }
    }

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")]
    private static partial Regex StorageName();
}
