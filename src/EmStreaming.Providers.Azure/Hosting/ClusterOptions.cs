using System.Net;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>Where the silos of a cluster find each other (<c>Orleans:Clustering</c>).</summary>
public enum ClusteringProvider
{
    /// <summary>One silo on loopback, no external service (the embedded default).</summary>
    Localhost,

    /// <summary>The membership table in Azure Tables of the <c>AzureStorage</c> account.</summary>
    AzureStorage,

    /// <summary>The membership table in Redis (<c>Orleans:Redis:ConnectionString</c>).</summary>
    Redis,
}

/// <summary>
/// The cluster-wide settings of the <c>Orleans</c> section this project adds beside the silo's ids and ports:
/// the membership provider, the advertised address, Kubernetes hosting. Membership timings are Orleans'
/// <c>ClusterMembershipOptions</c>, bound from <c>Orleans:Membership</c>.
/// </summary>
public sealed class EmStreamingClusterOptions
{
    /// <summary>The configuration section: <c>Orleans</c>.</summary>
    public const string SectionName = "Orleans";

    /// <summary>The section Orleans' <c>ClusterMembershipOptions</c> are bound from: <c>Orleans:Membership</c>.</summary>
    public const string MembershipSectionName = "Orleans:Membership";

    /// <summary><c>Orleans:Clustering</c>: Localhost (default), AzureStorage or Redis.</summary>
    public ClusteringProvider Clustering { get; set; } = ClusteringProvider.Localhost;

    /// <summary>
    /// <c>Orleans:AdvertisedIPAddress</c>: the address the other silos reach this one at (default 127.0.0.1). A non-loopback
    /// address makes the silo listen on every interface. Ignored with <see cref="Kubernetes"/> (the pod IP is used).
    /// </summary>
    public string? AdvertisedIPAddress { get; set; }

    /// <summary><c>Orleans:Kubernetes</c>: call <c>UseKubernetesHosting()</c> (pod name, pod IP and cluster ids from the downward API).</summary>
    public bool Kubernetes { get; set; }

    /// <summary><c>Orleans:Redis</c>.</summary>
    public RedisClusteringSettings Redis { get; set; } = new();

    internal IPAddress Advertised => string.IsNullOrWhiteSpace(AdvertisedIPAddress) ? IPAddress.Loopback : IPAddress.Parse(AdvertisedIPAddress);
}

/// <summary>The Redis membership settings (<c>Orleans:Redis</c>).</summary>
public sealed class RedisClusteringSettings
{
    /// <summary><c>Orleans:Redis:ConnectionString</c>: a StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c>.</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>The Azure Blob grain storage and snapshot history settings (<c>Storage:Azure</c>).</summary>
public sealed class AzureBlobStorageSettings
{
    /// <summary>The configuration section: <c>Storage:Azure</c>.</summary>
    public const string SectionName = "Storage:Azure";

    /// <summary>Container of the grain states (<c>Storage:Azure:ContainerName</c>), default <c>emstreaming-grains</c>.</summary>
    public string ContainerName { get; set; } = "emstreaming-grains";

    /// <summary>Container of the snapshot history (<c>Storage:Azure:HistoryContainerName</c>), default <c>emstreaming-history</c>.</summary>
    public string HistoryContainerName { get; set; } = "emstreaming-history";

    /// <summary>Table of the model registry: definitions and idempotency answers (<c>Storage:Azure:RegistryTableName</c>), default <c>EmStreamingModels</c>.</summary>
    public string RegistryTableName { get; set; } = "EmStreamingModels";

    /// <summary>The settings of <paramref name="configuration"/>, checked (the messages name the setting).</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">A setting is invalid.</exception>
    internal static AzureBlobStorageSettings Bind(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        Orleans.Hosting.EmStreamingAzureHostingExtensions.Bind<AzureBlobStorageSettings>(configuration, SectionName, AzureHostingOptionsValidator.Check);
}

/// <summary>The Azure Queue stream settings (<c>Streams:AzureQueue</c>).</summary>
public sealed class AzureQueueStreamSettings
{
    /// <summary>The configuration section: <c>Streams:AzureQueue</c>.</summary>
    public const string SectionName = "Streams:AzureQueue";

    /// <summary>
    /// Default <see cref="VisibilityTimeout"/>: 2 minutes. A message read but not deleted within it is delivered again. Two
    /// forces pull it: above the worst consumer lag (the prototype saw 360 duplicates in 6,000 batches at Orleans' 30 s
    /// default with lagging consumers; duplicates are harmless, the producer-sequence window skips them, but cost work), and
    /// below the time a crash may delay data (what a killed silo had read but not delivered reappears only after it).
    /// </summary>
    public static readonly TimeSpan DefaultVisibilityTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How many queues the streams are spread over (<c>Streams:AzureQueue:QueueCount</c>), default 8.</summary>
    public int QueueCount { get; set; } = 8;

    /// <summary>Queue name prefix (<c>Streams:AzureQueue:QueuePrefix</c>): queues are PREFIX-0 … PREFIX-(N-1). Default <c>emstreaming-models</c>.</summary>
    public string QueuePrefix { get; set; } = "emstreaming-models";

    /// <summary><c>Streams:AzureQueue:VisibilityTimeout</c>.</summary>
    public TimeSpan VisibilityTimeout { get; set; } = DefaultVisibilityTimeout;

    /// <summary>
    /// How often a pulling agent reads its queue (<c>Streams:AzureQueue:PollPeriod</c>), default 250 ms. A queue read costs
    /// about the same whatever it returns (up to 32 messages), so reading less often under load costs the account less:
    /// three silos on Azurite applied 127–132 messages/s at 250 ms against 105–116 at 100 ms (docs/benchmarks.md), at the
    /// price of up to one period more between an append and its effect; set 100 ms where that matters more. After reads
    /// that find nothing the receiver reads less often, doubling up to 4 × this, and back at once when one finds a message.
    /// </summary>
    public TimeSpan PollPeriod { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Most queue messages of one stream handed to its consumer in one call (<c>Streams:AzureQueue:DeliveryBatchSize</c>),
    /// default 16: the records of one call are applied in one turn and published once. 1 delivers message by message.
    /// </summary>
    public int DeliveryBatchSize { get; set; } = 16;

    /// <summary>
    /// Default <see cref="CommitInterval"/>: 1 s. The group commit that held deliveries until the interval (before this
    /// design) measured slower on Azurite, 67 against 96 messages/s, because held cursors kept messages undeleted; a consumer
    /// now returns from every delivery at once and its messages are deleted once a write covers them (docs/benchmarks.md).
    /// </summary>
    public static readonly TimeSpan DefaultCommitInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often a model grain that has applied records stores its state (<c>Streams:AzureQueue:CommitInterval</c>), default
    /// 1 s; 0 stores after every delivery. A grain applies (and shows) a delivery at once and returns; the receiver deletes a
    /// message once the grain's stored state covers its record, so under load a model writes about once per interval however
    /// many messages it receives, and a crash before the write loses nothing: the message reappears after
    /// <see cref="VisibilityTimeout"/> and is applied once. At most 00:00:10 and at most a quarter of the visibility timeout.
    /// </summary>
    public TimeSpan CommitInterval { get; set; } = DefaultCommitInterval;

    /// <summary>Messages the pulling agent's cache holds (<c>Streams:AzureQueue:CacheSize</c>), default 4,096.</summary>
    public int CacheSize { get; set; } = 4096;

    internal List<string> QueueNames() => [.. Enumerable.Range(0, QueueCount).Select(i => $"{QueuePrefix}-{i}")];
}
