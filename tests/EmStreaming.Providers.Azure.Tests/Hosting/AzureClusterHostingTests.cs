using System.Text;
using Azure.Storage.Blobs;
using EmStreaming.Providers.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace EmStreaming.Providers.Azure.Tests.Hosting;

/// <summary>
/// Real silos (in this process) configured by the settings alone: two silos form one cluster on Azurite's Tables or on
/// Redis, grain state goes to Blobs in our format, Azure Queue streams reach their implicit consumers, and a missing or
/// unreachable account stops the start with the setting named.
/// </summary>
public sealed class AzureClusterHostingTests(AzuriteFixture azurite, RedisFixture redis) : IClassFixture<AzuriteFixture>, IClassFixture<RedisFixture>
{
    private readonly string _clusterId = "c" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task UseEmStreamingClustering_AzureStorage_TwoSilosFormOneClusterAndShareGrains()
    {
        var settings = Settings(("Orleans:Clustering", "AzureStorage"), ("Storage:Provider", "AzureStorage"));
        using var first = TestSilo.Build(settings, _clusterId);
        using var second = TestSilo.Build(settings, _clusterId);
        await first.StartAsync();
        await second.StartAsync();
        try
        {
            var factory = first.Services.GetRequiredService<IGrainFactory>();
            var management = factory.GetGrain<IManagementGrain>(0);
            await TestSilo.WaitUntilAsync(async () => (await management.GetHosts(onlyActive: true)).Count == 2, TimeSpan.FromSeconds(60), "both silos active");

            // Grains of many keys land on both silos, and each is one activation whichever silo calls it.
            var placed = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => factory.GetGrain<ICounterGrain>($"g{i}").SiloAsync()));
            Assert.Equal(2, placed.Distinct().Count());
            var other = second.Services.GetRequiredService<IGrainFactory>();
            await factory.GetGrain<ICounterGrain>("shared").AddAsync(3);
            Assert.Equal(5, await other.GetGrain<ICounterGrain>("shared").AddAsync(2));
        }
        finally
        {
            await second.StopAsync();
            await first.StopAsync();
        }
    }

    [Fact]
    public async Task UseEmStreamingClustering_Redis_TwoSilosFormOneCluster()
    {
        var settings = Settings(("Orleans:Clustering", "Redis"), ("Orleans:Redis:ConnectionString", redis.ConnectionString));
        using var first = TestSilo.Build(settings, _clusterId);
        using var second = TestSilo.Build(settings, _clusterId);
        await first.StartAsync();
        await second.StartAsync();
        try
        {
            var management = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
            await TestSilo.WaitUntilAsync(async () => (await management.GetHosts(onlyActive: true)).Count == 2, TimeSpan.FromSeconds(60), "both silos active");
        }
        finally
        {
            await second.StopAsync();
            await first.StopAsync();
        }
    }

    [Fact]
    public async Task AddEmStreamingAzureBlobStorage_StateWritten_BlobHoldsOurFormatAndSurvivesRestart()
    {
        var container = "grains-" + Guid.NewGuid().ToString("N")[..12];
        var settings = Settings(("Storage:Provider", "AzureStorage"), ("Storage:Azure:ContainerName", container));
        using (var silo = TestSilo.Build(settings, _clusterId))
        {
            await silo.StartAsync();
            await silo.Services.GetRequiredService<IGrainFactory>().GetGrain<ICounterGrain>("kept").AddAsync(41);
            await silo.StopAsync();
        }

        var blobs = new List<byte[]>();
        await foreach (var blob in new BlobContainerClient(azurite.ConnectionString, container).GetBlobsAsync())
        {
            blobs.Add((await new BlobContainerClient(azurite.ConnectionString, container).GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToArray());
        }

        var body = Assert.Single(blobs);
        Assert.Equal(GrainStateSerializer.OrleansBinaryFormat, body[0]);
        Assert.DoesNotContain("$type", Encoding.UTF8.GetString(body), StringComparison.Ordinal);

        using var restarted = TestSilo.Build(settings, _clusterId);
        await restarted.StartAsync();
        Assert.Equal(42, await restarted.Services.GetRequiredService<IGrainFactory>().GetGrain<ICounterGrain>("kept").AddAsync(1));
        await restarted.StopAsync();
    }

    [Fact]
    public async Task AddEmStreamingAzureQueueStreams_EventsOnManyStreams_EachConsumerSeesItsOwn()
    {
        var settings = Settings(
            ("Storage:Provider", "AzureStorage"), ("Streams:Provider", "AzureQueue"),
            ("Streams:AzureQueue:QueuePrefix", "q" + Guid.NewGuid().ToString("N")[..12]), ("Streams:AzureQueue:QueueCount", "2"));
        using var silo = TestSilo.Build(settings, _clusterId);
        await silo.StartAsync();
        try
        {
            var provider = silo.Services.GetRequiredService<IClusterClient>().GetStreamProvider(TestSilo.ProviderName);
            for (var stream = 0; stream < 5; stream++)
            {
                for (var e = 1; e <= 4; e++)
                {
                    await provider.GetStream<int>(StreamId.Create(StreamCounterGrain.Namespace, $"s{stream}")).OnNextAsync(e * (stream + 1));
                }
            }

            var factory = silo.Services.GetRequiredService<IGrainFactory>();
            for (var stream = 0; stream < 5; stream++)
            {
                var expected = 10 * (stream + 1);
                var grain = factory.GetGrain<IStreamCounterGrain>($"s{stream}");
                await TestSilo.WaitUntilAsync(async () => await grain.GetAsync() >= expected, TimeSpan.FromSeconds(30), $"stream s{stream} applied");
                Assert.Equal(expected, await grain.GetAsync());
            }
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    [Theory]
    [InlineData("AzureStorage", "AzureStorage:ConnectionString")]
    [InlineData("Redis", "Orleans:Redis:ConnectionString")]
    public async Task StartAsync_StoreUnreachable_FailsNamingTheSetting(string clustering, string setting)
    {
        var closed = LocalServerProcess.FreePorts(1)[0];
        var connection = clustering == "Redis"
            ? $"127.0.0.1:{closed}"
            : $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};" +
              $"BlobEndpoint=http://127.0.0.1:{closed}/x;QueueEndpoint=http://127.0.0.1:{closed}/x;TableEndpoint=http://127.0.0.1:{closed}/x;";
        var settings = Settings(("Orleans:Clustering", clustering), (setting, connection));
        using var silo = TestSilo.Build(settings, _clusterId);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => silo.StartAsync());

        var invalid = Chain(error).OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(invalid);
        Assert.Contains(setting, invalid.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", invalid.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Orleans:Clustering", "AzureStorage", null, null, "AzureStorage:ConnectionString")]
    [InlineData("Orleans:Clustering", "Redis", null, null, "Orleans:Redis:ConnectionString")]
    [InlineData("Orleans:Clustering", "Redis", "Orleans:Redis:ConnectionString", "127.0.0.1:6379,nosuchkeyword=1", "Orleans:Redis:ConnectionString")]
    [InlineData("Orleans:Clustering", "Consul", null, null, "Orleans")]
    [InlineData("Orleans:AdvertisedIPAddress", "not-an-ip", null, null, "Orleans:AdvertisedIPAddress")]
    [InlineData("Storage:Provider", "AzureStorage", "Storage:Azure:ContainerName", "Bad_Name", "Storage:Azure:ContainerName")]
    [InlineData("Streams:Provider", "AzureQueue", "Streams:AzureQueue:VisibilityTimeout", "00:00:05", "Streams:AzureQueue:VisibilityTimeout")]
    [InlineData("Streams:Provider", "AzureQueue", "Streams:AzureQueue:CommitInterval", "00:00:11", "Streams:AzureQueue:CommitInterval")]
    [InlineData("Streams:Provider", "AzureQueue", "Streams:AzureQueue:CommitInterval", "-00:00:01", "Streams:AzureQueue:CommitInterval")]
    [InlineData("Orleans:Clustering", "AzureStorage", "AzureStorage:ConnectionString", "not a connection string", "AzureStorage:ConnectionString")]
    public void Build_InvalidSetting_ErrorNamesIt(string key, string value, string? otherKey, string? otherValue, string named)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (otherKey is not null)
        {
            settings[otherKey] = otherValue;
        }

        if (otherKey != "AzureStorage:ConnectionString" && key != "Orleans:Clustering")
        {
            settings["AzureStorage:ConnectionString"] = azurite.ConnectionString;
        }

        var error = Assert.Throws<OptionsValidationException>(() => TestSilo.Build(settings, _clusterId));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    private Dictionary<string, string?> Settings(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?> { ["AzureStorage:ConnectionString"] = azurite.ConnectionString };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return all;
    }

    private static IEnumerable<Exception> Chain(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            yield return error;
        }
    }
}
