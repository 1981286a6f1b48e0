using EmStreaming.Providers.Sqlite;
using EmStreaming.Providers.Streams;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Streams;

namespace EmStreaming.Providers.Tests.Streams;

/// <summary>
/// The log stream provider's contract through a real in-process silo, run against every backend: ordering per stream,
/// redelivery of unpersisted records after a silo restart, trimming only below persisted positions, producer backpressure.
/// </summary>
public abstract class LogStreamProviderContractTests : IAsyncLifetime
{
    protected const string Provider = "models";
    private readonly List<SiloHarness> _silos = [];

    /// <summary>Settings that select the backend (and its file, for SQLite); the same for every silo of a test, so a restart finds the data.</summary>
    protected abstract IDictionary<string, string?> BackendSettings { get; }

    /// <summary>Services shared by every silo of a test (the in-memory backend's store).</summary>
    protected virtual void ConfigureSharedServices(IServiceCollection services)
    {
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }
    }

    private protected async Task<(SiloHarness Silo, DeliveryRecorder Recorder)> StartAsync(
        int queues = 1, Action<LogStreamOptions>? configure = null, IDictionary<string, string?>? overrides = null)
    {
        var recorder = new DeliveryRecorder();
        var settings = new Dictionary<string, string?>(BackendSettings)
        {
            ["Streams:Queues"] = queues.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Streams:PollPeriod"] = "00:00:00.010",
            ["Streams:CheckpointInterval"] = "00:00:00.050",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var silo = await SiloHarness.StartAsync(
            settings,
            (builder, configuration) => builder.AddEmStreamingLogStreams(Provider, configuration, configure),
            services =>
            {
                services.AddSingleton(recorder);
                ConfigureSharedServices(services);
            });
        _silos.Add(silo);
        return (silo, recorder);
    }

    private protected static IAsyncStream<TestEvent> Stream(SiloHarness silo, string key) =>
        silo.Client.GetStreamProvider(Provider).GetStream<TestEvent>(StreamId.Create(TestStreams.Namespace, key));

    private protected static IStreamLog Log(SiloHarness silo) => ((LogQueueAdapterFactory)silo.Services.GetRequiredKeyedService<IQueueAdapterFactory>(Provider)).Log;

    private protected static async Task ProduceAsync(SiloHarness silo, string key, IEnumerable<int> values)
    {
        var stream = Stream(silo, key);
        foreach (var value in values)
        {
            await Wait.Done(stream.OnNextAsync(new TestEvent(value)));
        }
    }

    [Fact]
    public async Task OnNextAsync_ManyStreamsConcurrently_EachConsumerSeesItsEventsOnceInOrder()
    {
        var (silo, recorder) = await StartAsync(queues: 2);
        const int streams = 12, perStream = 25;

        await Task.WhenAll(Enumerable.Range(0, streams).Select(s => ProduceAsync(silo, $"s{s}", Enumerable.Range(0, perStream))));
        await Wait.UntilAsync(() => recorder.Total >= streams * perStream, "every event delivered");

        for (var s = 0; s < streams; s++)
        {
            Assert.Equal(Enumerable.Range(0, perStream), recorder.Values($"s{s}"));
            var positions = recorder.Positions($"s{s}");
            Assert.True(positions.SequenceEqual(positions.Order()) && positions.Distinct().Count() == perStream, $"positions of s{s} increase: {string.Join(",", positions)}");
        }
    }

    [Fact]
    public async Task OnNextAsync_SlowConsumerAndSmallCache_EveryStreamGetsEveryEventOnceInOrder()
    {
        // The agent's cache fills behind the slow stream, purges in buckets and refreshes cursors: nothing may be lost.
        var (silo, recorder) = await StartAsync(configure: o =>
        {
            o.CacheSize = 16;
            o.QueueCapacity = 16;
            o.DeliveryBatchSize = 2;
        });
        recorder.Slow("slow", TimeSpan.FromMilliseconds(5));
        const int perStream = 120;
        var keys = new[] { "slow", "fast-1", "fast-2", "fast-3" };

        await Task.WhenAll(keys.Select(key => ProduceAsync(silo, key, Enumerable.Range(0, perStream))));
        await Wait.UntilAsync(() => recorder.Total >= keys.Length * perStream, "every event delivered", limitSeconds: 120);

        Assert.All(keys, key => Assert.Equal(Enumerable.Range(0, perStream), recorder.Values(key)));
    }

    [Fact]
    public async Task OnNextAsync_EventsOfOtherTypesOnTheStream_ConsumerGetsItsTypeOnlyAndTheQueueMovesOn()
    {
        var (silo, recorder) = await StartAsync();
        var mixed = silo.Client.GetStreamProvider(Provider).GetStream<object>(StreamId.Create(TestStreams.Namespace, "mixed"));

        await mixed.OnNextAsync("not a TestEvent");
        await mixed.OnNextBatchAsync([new TestEvent(1), 2.5, new TestEvent(2)]);
        await ProduceAsync(silo, "other", [7]);

        await Wait.UntilAsync(() => recorder.Values("other").Count == 1, "the later stream's event delivered");
        await Wait.UntilAsync(() => recorder.Values("mixed").Count == 2, "the typed events delivered");
        Assert.Equal([1, 2], recorder.Values("mixed"));
        // Both TestEvents came in one producer batch: one log position.
        Assert.Equal(recorder.Positions("mixed")[0], recorder.Positions("mixed")[1]);
    }

    [Fact]
    public async Task Restart_RecordsAbovePersistedPositionAreRedelivered_PersistedOnesAreNot()
    {
        var (silo, recorder) = await StartAsync();
        await ProduceAsync(silo, "a", Enumerable.Range(0, 4));
        await Wait.UntilAsync(() => recorder.Values("a").Count == 4, "first four delivered");
        var persisted = await silo.Client.GetGrain<ITestConsumerGrain>("a").PersistAsync();
        await ProduceAsync(silo, "a", Enumerable.Range(4, 6));
        await Wait.UntilAsync(() => recorder.Values("a").Count == 10, "all ten delivered");
        await Wait.UntilAsync(() => Log(silo).GetCheckpoint(0) == persisted, "the periodic checkpoint reaches the persisted position");
        await silo.StopAsync();

        var (restarted, again) = await StartAsync();

        await Wait.UntilAsync(() => again.Values("a").Count >= 6, "unpersisted events redelivered");
        Assert.Equal(4, persisted);
        Assert.Equal(Enumerable.Range(4, 6), again.Values("a"));
        Assert.Equal(Enumerable.Range(5, 6).Select(p => (long)p), again.Positions("a"));
        // New events continue after the replayed ones, in order.
        await ProduceAsync(restarted, "a", [10]);
        await Wait.UntilAsync(() => again.Values("a").Count == 7, "new event delivered");
        Assert.Equal(11, again.Positions("a")[^1]);
    }

    [Fact]
    public async Task Checkpoint_TrimsOnlyBelowWhatEveryConsumerPersisted()
    {
        var (silo, recorder) = await StartAsync();
        await ProduceAsync(silo, "a", [0]); // position 1
        await ProduceAsync(silo, "b", [0]); // position 2
        await ProduceAsync(silo, "a", [1]); // position 3
        await ProduceAsync(silo, "b", [1]); // position 4
        await Wait.UntilAsync(() => recorder.Total == 4, "all delivered");
        var log = Log(silo);

        Assert.Equal(3, await silo.Client.GetGrain<ITestConsumerGrain>("a").PersistAsync());
        await Wait.UntilAsync(() => log.GetCheckpoint(0) >= 1, "checkpoint below b's first unpersisted record");
        await Task.Delay(500); // several checkpoint intervals: none may pass b's unpersisted record

        Assert.Equal(1, log.GetCheckpoint(0));
        Assert.Equal(3, log.Count(0));

        Assert.Equal(4, await silo.Client.GetGrain<ITestConsumerGrain>("b").PersistAsync());
        await Wait.UntilAsync(() => log.GetCheckpoint(0) == 4, "checkpoint after every consumer persisted");
        Assert.Equal(0, log.Count(0));
    }

    [Fact]
    public async Task OnNextAsync_ConsumerStalled_ProducerWaitsThenFailsClearly_AndNothingAcknowledgedIsLost()
    {
        var (silo, recorder) = await StartAsync(configure: o =>
        {
            o.QueueCapacity = 3;
            o.CacheSize = 1;
            o.AppendTimeout = TimeSpan.FromMilliseconds(300);
        });
        recorder.Hold();
        var stream = Stream(silo, "slow");
        var acknowledged = new List<int>();
        Exception? failure = null;
        for (var i = 0; i < 50 && failure is null; i++)
        {
            try
            {
                await Wait.Done(stream.OnNextAsync(new TestEvent(i)));
                acknowledged.Add(i);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        }

        var backpressure = Assert.IsType<LogBackpressureException>(failure);
        Assert.Contains("Streams:QueueCapacity", backpressure.Message);
        Assert.InRange(acknowledged.Count, 3, 20);

        recorder.Release();
        await Wait.UntilAsync(() => recorder.Values("slow").Count >= acknowledged.Count, "acknowledged events delivered once the consumer resumes");
        Assert.Equal(acknowledged, recorder.Values("slow"));
        await ProduceAsync(silo, "slow", [100]);
        await Wait.UntilAsync(() => recorder.Values("slow").Count == acknowledged.Count + 1, "producer proceeds once there is room");
    }
}

public sealed class InMemoryLogStreamProviderTests : LogStreamProviderContractTests
{
    private readonly InMemoryLogStreamStore _store = new();

    protected override IDictionary<string, string?> BackendSettings => new Dictionary<string, string?> { ["Streams:Backend"] = "InMemory" };

    protected override void ConfigureSharedServices(IServiceCollection services) => services.AddSingleton(_store);
}

public sealed class SqliteLogStreamProviderTests : LogStreamProviderContractTests
{
    private readonly TempDirectory _directory = new();

    protected override IDictionary<string, string?> BackendSettings => new Dictionary<string, string?>
    {
        ["Streams:Backend"] = "Sqlite",
        ["Storage:DataDirectory"] = _directory.Path,
        ["Storage:FullSync"] = "false",
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Kill_CrashImageOfTheFile_RedeliversEverythingAboveTheCommittedCheckpoint(bool checkpointCommitted)
    {
        // What kill -9 leaves is the file as committed so far (WAL included): copy it while the silo runs, start on the copy.
        var interval = checkpointCommitted ? "00:00:00.050" : "01:00:00";
        var (silo, recorder) = await StartAsync(overrides: new Dictionary<string, string?> { ["Streams:CheckpointInterval"] = interval });
        await ProduceAsync(silo, "a", Enumerable.Range(0, 4));
        await Wait.UntilAsync(() => recorder.Values("a").Count == 4, "first four delivered");
        Assert.Equal(4, await silo.Client.GetGrain<ITestConsumerGrain>("a").PersistAsync());
        await ProduceAsync(silo, "a", Enumerable.Range(4, 6));
        await Wait.UntilAsync(() => recorder.Values("a").Count == 10, "all ten delivered");
        var expectedCheckpoint = checkpointCommitted ? 4 : 0;
        await Wait.UntilAsync(() => Log(silo).GetCheckpoint(0) == expectedCheckpoint, "the committed checkpoint");
        using var crash = new TempDirectory();
        foreach (var suffix in new[] { "", "-wal" })
        {
            if (File.Exists(_directory.DatabasePath + suffix))
            {
                File.Copy(_directory.DatabasePath + suffix, Path.Combine(crash.Path, SqliteStorageOptions.DefaultFileName + suffix));
            }
        }

        var (_, again) = await StartAsync(overrides: new Dictionary<string, string?> { ["Storage:DataDirectory"] = crash.Path, ["Streams:CheckpointInterval"] = interval });

        var expected = Enumerable.Range(expectedCheckpoint, 10 - expectedCheckpoint).ToArray();
        await Wait.UntilAsync(() => again.Values("a").Count >= expected.Length, "everything above the checkpoint redelivered");
        Assert.Equal(expected, again.Values("a"));
    }

    [Fact]
    public async Task Start_DataFileCorrupt_FailsNamingTheFile()
    {
        await File.WriteAllBytesAsync(_directory.DatabasePath, Enumerable.Range(0, 8192).Select(i => (byte)(i * 31)).ToArray());

        var error = await Assert.ThrowsAnyAsync<Exception>(() => SiloHarness.StartAsync(
            BackendSettings, (builder, configuration) => builder.AddEmStreamingLogStreams(Provider, configuration), s => s.AddSingleton(new DeliveryRecorder())));

        var corrupt = FindInner<CorruptDataFileException>(error);
        Assert.NotNull(corrupt);
        Assert.Equal(_directory.DatabasePath, corrupt.FilePath);
    }

    private static T? FindInner<T>(Exception? error)
        where T : Exception
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is T found)
            {
                return found;
            }

            if (error is AggregateException aggregate && aggregate.InnerExceptions.Select(FindInner<T>).FirstOrDefault(e => e is not null) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }
}

public sealed class LogStreamOptionsTests
{
    [Theory]
    [InlineData("Streams:Queues", "0", "Streams:Queues")]
    [InlineData("Streams:Queues", "5000", "Streams:Queues")]
    [InlineData("Streams:QueueCapacity", "10", "Streams:QueueCapacity")]
    [InlineData("Streams:PollPeriod", "00:00:00", "Streams:PollPeriod")]
    [InlineData("Streams:ReadBatchSize", "0", "Streams:ReadBatchSize")]
    [InlineData("Storage:FileName", "../x.db", "Storage:FileName")]
    public async Task Start_InvalidSetting_FailsNamingTheSetting(string key, string value, string named)
    {
        using var directory = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["Storage:DataDirectory"] = directory.Path, [key] = value };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => SiloHarness.StartAsync(
            settings, (builder, configuration) => builder.AddEmStreamingLogStreams(configuration), s => s.AddSingleton(new DeliveryRecorder())));

        Assert.Contains(named, error.Message);
    }

    [Fact]
    public async Task AddEmStreamingLogStreams_Configuration_ProviderNameAndSettingsComeFromTheStreamsSection()
    {
        using var directory = new TempDirectory();
        var recorder = new DeliveryRecorder();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = directory.Path,
            ["Storage:FullSync"] = "false",
            ["Streams:ProviderName"] = "custom",
            ["Streams:Queues"] = "3",
            ["Streams:PollPeriod"] = "00:00:00.005",
        };
        await using var silo = await SiloHarness.StartAsync(
            settings, (builder, configuration) => builder.AddEmStreamingLogStreams(configuration), s => s.AddSingleton(recorder));

        var options = silo.Services.GetRequiredService<IOptionsMonitor<LogStreamOptions>>().Get("custom");
        await silo.Client.GetStreamProvider("custom").GetStream<TestEvent>(StreamId.Create(TestStreams.Namespace, "k")).OnNextAsync(new TestEvent(5));

        await Wait.UntilAsync(() => recorder.Values("k").Count == 1, "delivered through the configured provider");
        Assert.Equal(3, options.Queues);
        Assert.Equal(TimeSpan.FromMilliseconds(5), options.PollPeriod);
        Assert.Equal(3, ((LogQueueAdapterFactory)silo.Services.GetRequiredKeyedService<IQueueAdapterFactory>("custom")).Log.QueueCount);
    }

    [Fact]
    public void Bind_DefaultsAreValid()
    {
        Assert.Null(LogStreamOptionsValidator.Check(new LogStreamOptions()));
        Assert.Null(SqliteStorageOptionsValidator.Check(new SqliteStorageOptions()));
    }
}
