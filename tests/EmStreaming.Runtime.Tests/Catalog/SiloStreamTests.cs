using EmStreaming.Runtime.Catalog;
using EmStreaming.Runtime.Hosting;
using EmStreaming.Runtime.Streams;
using EmStreaming.Runtime.Tests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmStreaming.Runtime.Tests.Catalog;

/// <summary>Streams through the silo: implicit subscription, ordering, failures, exactly-once recovery and trimming.</summary>
public sealed class SiloStreamTests : IDisposable
{
    private const string Namespace = "obs";
    private readonly FakeTimeProvider _clock = new();
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private ISilo BuildSqlite(int partitions = 4) => new SiloBuilder()
        .UseSqlite(_directory.SqliteOptions)
        .UseStreamOptions(new StreamOptions { PartitionCount = partitions })
        .UseTimeProvider(_clock)
        .AddGrain<CounterGrain>("counter")
        .AddImplicitSubscription(Namespace, "counter")
        .Build();

    private ISilo BuildInMemory(int partitions) => new SiloBuilder()
        .UseInMemoryStorage()
        .UseStreamOptions(new StreamOptions { PartitionCount = partitions, PartitionCapacity = 64 })
        .UseTimeProvider(_clock)
        .AddGrain<CounterGrain>("counter")
        .AddImplicitSubscription(Namespace, "counter")
        .Build();

    private static async Task<CounterView?> ViewAsync(ISilo silo, string key) => await silo.QueryViewAsync<CounterView>(new GrainId("counter", key));

    [Fact]
    public async Task Streams_ManyKeysAndPartitionsInParallel_EachKeyAppliedInProducedOrder()
    {
        await using var silo = BuildInMemory(partitions: 8);
        await silo.StartAsync();
        const int keys = 200, perKey = 25;

        await Task.WhenAll(Enumerable.Range(0, keys).Select(k => Task.Run(async () =>
        {
            for (var v = 1; v <= perKey; v++)
            {
                await silo.Streams.AppendAsync(new StreamId(Namespace, $"sensor-{k}"), CounterGrain.Encode(v));
            }
        })));

        for (var k = 0; k < keys; k++)
        {
            var key = $"sensor-{k}";
            await Wait.UntilAsync(async () => (await ViewAsync(silo, key))?.Count == perKey, $"{key} applied");
            var view = (await ViewAsync(silo, key))!;
            Assert.Equal(0, view.OutOfOrder);
            Assert.Equal(perKey, view.LastValue);
        }

        Assert.Equal(keys * perKey, silo.GetStatistics().StreamItemsDelivered);
    }

    [Fact]
    public async Task Stream_ItemFails_DeadLetteredWithPayloadAndPosition_LaterItemsStillApplied()
    {
        await using var silo = BuildSqlite();
        await silo.StartAsync();
        var stream = new StreamId(Namespace, "k1");
        await silo.Streams.AppendAsync(stream, CounterGrain.Encode(1));
        var bad = await silo.Streams.AppendAsync(stream, CounterGrain.Encode(-5));
        await silo.Streams.AppendAsync(stream, CounterGrain.Encode(2));

        await Wait.UntilAsync(async () => (await ViewAsync(silo, "k1"))?.Count == 2, "good items applied");
        Assert.Equal(3, (await ViewAsync(silo, "k1"))!.Sum);
        var letter = Assert.Single(await silo.GetDeadLettersAsync(new GrainId("counter", "k1")));
        Assert.Equal("stream", letter.MessageType);
        Assert.Equal(stream, letter.Stream);
        Assert.Equal(bad.Position, letter.Position);
        Assert.Equal(-5, BitConverter.ToInt64(letter.Payload.Span));
        Assert.Contains("negative value -5", letter.Reason);
    }

    [Fact]
    public async Task DeadLetter_OfAStreamItem_SurvivesACrashAndIsRecordedOnceWhenTheReplayFailsAgain()
    {
        var silo = BuildSqlite(partitions: 1);
        await silo.StartAsync();
        var stream = new StreamId(Namespace, "k1");
        await silo.Streams.AppendAsync(stream, CounterGrain.Encode(1));
        await silo.Streams.AppendAsync(stream, CounterGrain.Encode(-1));
        await Wait.UntilAsync(async () => (await silo.GetDeadLettersAsync()).Count == 1, "dead letter recorded");
        await ((Silo)silo).KillAsync(); // nothing persisted: both items are replayed and the bad one fails again

        await using var restarted = BuildSqlite(partitions: 1);
        await restarted.StartAsync();
        await restarted.Streams.AppendAsync(stream, CounterGrain.Encode(2));
        await Wait.UntilAsync(async () => (await ViewAsync(restarted, "k1"))?.Count == 2, "replayed and new item applied");

        var letter = Assert.Single(await restarted.GetDeadLettersAsync());
        Assert.Equal(2, letter.Position);
        Assert.Equal(3, (await ViewAsync(restarted, "k1"))!.Sum);
    }

    [Fact]
    public async Task ClearSnapshots_DeletesHistoryAndLetsTheLogTrimWhatTheGrainApplied()
    {
        await using var silo = BuildSqlite(partitions: 1);
        await silo.StartAsync();
        var grain = new GrainId("counter", "k1");
        for (var v = 1; v <= 7; v++)
        {
            await silo.Streams.AppendAsync(new StreamId(Namespace, "k1"), CounterGrain.Encode(v));
        }

        await Wait.UntilAsync(async () => (await ViewAsync(silo, "k1"))?.Count == 7, "applied");
        Assert.Single(await silo.Snapshots.ListHistoryAsync(grain)); // written at the 5th item

        await silo.AskAsync<object>(grain, new ClearState());
        await ((Silo)silo).CommitCheckpointsAsync(CancellationToken.None);

        Assert.Empty(await silo.Snapshots.ListHistoryAsync(grain));
        await using var log = new SqliteStreamLog(_directory.SqliteOptions, new StreamOptions { PartitionCount = 1 }, _clock, NullLogger.Instance);
        Assert.Equal(0, await log.CountAsync(0));
        Assert.Equal(7, await log.GetCheckpointAsync(0));
    }

    [Fact]
    public async Task HostileKeys_AreRejectedAndNothingIsStored()
    {
        await using var silo = BuildSqlite();
        await silo.StartAsync();
        string[] hostile = ["../x", new string('a', 10 * 1024), "", "a/b", "x\0y", "..", "ключ"];

        foreach (var key in hostile)
        {
            Assert.Throws<InvalidGrainKeyException>(() => new StreamId(Namespace, key));
            Assert.Throws<InvalidGrainKeyException>(() => new GrainId("counter", key));
        }

        await Assert.ThrowsAsync<InvalidGrainKeyException>(() => silo.Streams.AppendAsync(default, CounterGrain.Encode(1)).AsTask());
        await Assert.ThrowsAsync<InvalidGrainKeyException>(() => silo.QueryViewAsync<CounterView>(default).AsTask());

        Assert.Equal(0, silo.GetStatistics().ActiveActivations);
        await silo.DisposeAsync();
        await using var log = new SqliteStreamLog(_directory.SqliteOptions, new StreamOptions { PartitionCount = 4 }, _clock, NullLogger.Instance);
        for (var p = 0; p < 4; p++)
        {
            Assert.Equal(0, await log.CountAsync(p));
        }
    }

    [Fact]
    public async Task StopAsync_AfterEverythingApplied_PersistsSnapshotsAndTrimsTheLog()
    {
        var silo = BuildSqlite(partitions: 2);
        await silo.StartAsync();
        for (var v = 1; v <= 12; v++)
        {
            await silo.Streams.AppendAsync(new StreamId(Namespace, $"k{v % 3}"), CounterGrain.Encode(v));
        }

        await Wait.UntilAsync(async () => (await ViewAsync(silo, "k0"))?.Count == 4 && (await ViewAsync(silo, "k1"))?.Count == 4 && (await ViewAsync(silo, "k2"))?.Count == 4, "all applied");
        await silo.StopAsync();

        await using var log = new SqliteStreamLog(_directory.SqliteOptions, new StreamOptions { PartitionCount = 2 }, _clock, NullLogger.Instance);
        Assert.Equal(0, await log.CountAsync(0) + await log.CountAsync(1));
        await using var restarted = BuildSqlite(partitions: 2);
        await restarted.StartAsync();
        Assert.Equal(new CounterView(4, 3 + 6 + 9 + 12, ExpectedHash(3, 6, 9, 12), 12, 4), await ViewAsync(restarted, "k0"));
    }

    [Fact]
    public async Task Checkpoint_GrainWithUnpersistedItems_HoldsBackTrimmingOfItsPartition()
    {
        await using var silo = BuildSqlite(partitions: 1);
        await silo.StartAsync();
        // "a" persists at its 5th item; "b" gets 3 items and never reaches a snapshot.
        for (var v = 1; v <= 5; v++)
        {
            await silo.Streams.AppendAsync(new StreamId(Namespace, "a"), CounterGrain.Encode(v));
        }

        var firstOfB = await silo.Streams.AppendAsync(new StreamId(Namespace, "b"), CounterGrain.Encode(1));
        await silo.Streams.AppendAsync(new StreamId(Namespace, "b"), CounterGrain.Encode(2));
        for (var v = 6; v <= 10; v++)
        {
            await silo.Streams.AppendAsync(new StreamId(Namespace, "a"), CounterGrain.Encode(v));
        }

        await Wait.UntilAsync(async () => (await ViewAsync(silo, "a"))?.Count == 10 && (await ViewAsync(silo, "b"))?.Count == 2, "applied");

        await ((Silo)silo).CommitCheckpointsAsync(CancellationToken.None);

        // Everything of "a" before b's first item is durable; b's items are not, so the checkpoint stops just below them.
        await using var log = new SqliteStreamLog(_directory.SqliteOptions, new StreamOptions { PartitionCount = 1 }, _clock, NullLogger.Instance);
        Assert.Equal(firstOfB.Position - 1, await log.GetCheckpointAsync(0));
    }

    [Fact]
    public async Task CrashAtRandomPoints_RestartOnSameFile_EveryItemAppliedExactlyOnce()
    {
        const int keys = 6, perKey = 120;
        var random = new Random(20260522);
        var produced = new int[keys];
        var silo = BuildSqlite();
        await silo.StartAsync();
        var crashes = 0;
        long duplicatesSkipped = 0;

        while (produced.Any(p => p < perKey))
        {
            // Produce a random chunk (per key in order, keys in parallel), acknowledged = durable.
            var chunk = Enumerable.Range(0, keys).Select(_ => random.Next(0, 30)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, keys).Select(async k =>
            {
                for (var i = 0; i < chunk[k] && produced[k] < perKey; i++)
                {
                    await silo.Streams.AppendAsync(new StreamId(Namespace, $"key-{k}"), CounterGrain.Encode(++produced[k]));
                }
            }));

            // Let delivery run for a random while, sometimes commit checkpoints (trimming), then kill without deactivation.
            for (var i = random.Next(0, 40); i > 0; i--)
            {
                await Task.Yield();
            }

            if (random.Next(2) == 0)
            {
                await ((Silo)silo).CommitCheckpointsAsync(CancellationToken.None);
            }

            duplicatesSkipped += silo.GetStatistics().DuplicatesSkipped;
            await ((Silo)silo).KillAsync();
            crashes++;
            silo = BuildSqlite();
            await silo.StartAsync();
        }

        try
        {
            for (var k = 0; k < keys; k++)
            {
                var key = $"key-{k}";
                await Wait.UntilAsync(async () => (await ViewAsync(silo, key))?.Count >= perKey, $"{key} caught up");
                var expected = Enumerable.Range(1, perKey).Aggregate(new CounterView(0, 0, CounterGrain.InitialHash, 0, 0), (s, v) => CounterGrain.Fold(s, v));
                Assert.Equal(expected, await ViewAsync(silo, key));
            }

            duplicatesSkipped += silo.GetStatistics().DuplicatesSkipped;
            Assert.True(crashes >= 5, $"only {crashes} crashes");
            Assert.True(duplicatesSkipped > 0, "no replayed item was ever skipped: the test did not exercise recovery");
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    private static long ExpectedHash(params long[] values) => values.Aggregate(CounterGrain.InitialHash, (h, v) => unchecked((h * 31) + v));
}
