using System.Collections.Concurrent;
using Azure.Storage.Queues;
using EmStreaming.Providers.Azure.Hosting;
using EmStreaming.Providers.Azure.Streams;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.AzureUtils;
using Orleans.Configuration;
using Orleans.Providers.Streams.AzureQueue;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Streams;

namespace EmStreaming.Providers.Azure.Tests.Streams;

/// <summary>
/// The Azure Queue receiver that deletes a message once its consumer has stored it, on a real Azurite queue: it deletes
/// what the consumer says is stored, keeps what is not (or what it cannot ask about), deletes a batch the consumer cannot
/// judge once the cache has handed it back, deletes as soon as a consumer that holds its answer stores, and lets go of a
/// message about to become visible again without deleting it.
/// </summary>
public sealed class DurableDeleteQueueReceiverTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly TimeSpan Visibility = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CommitInterval = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Settle_DeletesWhatTheConsumerStored_KeepsTheRest()
    {
        var (receiver, queue, adapter, durability, time) = await StartAsync();
        var stored = StreamId.Create("model", "stored");
        var pending = StreamId.Create("model", "pending");
        var unknown = StreamId.Create("model", "unknown");
        var unreachable = StreamId.Create("model", "unreachable");
        durability.Answers[stored] = true;
        durability.Answers[pending] = false;
        durability.Answers[unknown] = null;
        foreach (var stream in (StreamId[])[stored, pending, unknown, unreachable])
        {
            await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "record of " + stream }, null, []));
        }

        var batches = await receiver.GetQueueMessagesAsync(32);
        Assert.Equal(4, batches.Count);

        // Each stream's consumer is asked right after the read.
        await IdleAsync(receiver);
        // Stored: deleted. Not stored, not judged and not delivered, or unreachable: kept (invisible, pop receipt held).
        Assert.Equal(3, receiver.TrackedMessages);
        Assert.Equal(3, await CountAsync(queue));

        // The cache hands the unjudged one back as delivered: now it goes, the consumer having had it.
        await receiver.MessagesDeliveredAsync([.. batches.Where(b => b.StreamId == unknown)]);
        await SettleAsync(receiver, time);
        Assert.Equal(2, receiver.TrackedMessages);
        Assert.Equal(2, await CountAsync(queue));

        // The consumer stores the pending one.
        durability.Answers[pending] = true;
        await SettleAsync(receiver, time);
        Assert.Equal(1, receiver.TrackedMessages);
        Assert.Equal(1, await CountAsync(queue));
        Assert.True(durability.Asked[unreachable] >= 3, "the unreachable consumer is asked again every settle period");
    }

    [Fact]
    public async Task Settle_MessageNeverStored_LetGoBeforeItReappears_NotDeleted()
    {
        var (receiver, queue, adapter, durability, time) = await StartAsync();
        var stream = StreamId.Create("model", "failed");
        durability.Answers[stream] = false;
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "a record its model cannot apply" }, null, []));
        var batches = await receiver.GetQueueMessagesAsync(32);
        await receiver.MessagesDeliveredAsync(batches);

        await IdleAsync(receiver);
        Assert.Equal(1, durability.Asked[stream]);

        time.Advance(Visibility * 3 / 4);
        await IdleAsync(receiver);
        // No longer tracked (its pop receipt is about to lapse) and still in the queue: it will be delivered again.
        Assert.Equal(0, receiver.TrackedMessages);
        Assert.Equal(1, await CountAsync(queue));
        // Asked again at most once per settle period (half the commit interval) in the meantime.
        Assert.InRange(durability.Asked[stream], 1, 1 + (Visibility * 3 / 4) / (CommitInterval / 2));
    }

    [Fact]
    public async Task Settle_ConsumerHoldsItsAnswerUntilItStores_DeletedAtOnce_WithoutAnotherPeriod()
    {
        var (receiver, queue, adapter, durability, time) = await StartAsync();
        var stream = StreamId.Create("model", "committing");
        durability.Answers[stream] = false;
        var store = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        durability.Holds[stream] = store.Task;
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "applied, not yet stored" }, null, []));
        Assert.Single(await receiver.GetQueueMessagesAsync(32));
        await WaitUntilAsync(() => durability.Waits.ContainsKey(stream));

        // The receiver offered a wait of twice the commit interval, and is still waiting: nothing is deleted yet.
        Assert.Equal(CommitInterval * 2, durability.Waits[stream]);
        Assert.False(receiver.SettleIdle);
        Assert.Equal(1, await CountAsync(queue));

        // The consumer stores and answers; no time passes, yet the message goes at once.
        durability.Answers[stream] = true;
        store.SetResult();
        await IdleAsync(receiver);
        Assert.Equal(0, receiver.TrackedMessages);
        Assert.Equal(0, await CountAsync(queue));
        Assert.Equal(1, durability.Asked[stream]);
    }

    [Fact]
    public async Task Read_EmptyQueue_ReadsLessOften_BackAtOnceWhenAMessageCame()
    {
        var (receiver, queue, adapter, _, time) = await StartAsync();
        var poll = new AzureQueueStreamSettings().PollPeriod;
        var stream = StreamId.Create("model", "quiet");
        Assert.Empty(await receiver.GetQueueMessagesAsync(32)); // empty: the next read waits two poll periods
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "first" }, null, []));

        time.Advance(poll);
        Assert.Empty(await receiver.GetQueueMessagesAsync(32)); // not read: the queue was empty a poll period ago
        time.Advance(poll);
        Assert.Single(await receiver.GetQueueMessagesAsync(32));

        // A read that found something: the next poll reads again at once.
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "second" }, null, []));
        time.Advance(poll);
        Assert.Single(await receiver.GetQueueMessagesAsync(32));
    }

    [Fact]
    public async Task Read_AfterAPartialRead_WaitsForTheNextPoll_AfterAFullRead_ReadsAtOnce()
    {
        var (receiver, queue, adapter, _, time) = await StartAsync();
        var poll = new AzureQueueStreamSettings().PollPeriod;
        var stream = StreamId.Create("model", "busy");
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "a" }, null, []));
        Assert.Single(await receiver.GetQueueMessagesAsync(32)); // 1 of 32: the queue is drained

        // The pulling agent reads again at once after a read that returned anything: that read waits for the next poll.
        await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { "b" }, null, []));
        Assert.Empty(await receiver.GetQueueMessagesAsync(32));
        time.Advance(poll);
        Assert.Single(await receiver.GetQueueMessagesAsync(32));

        // A full read says more is waiting: the next read goes at once.
        foreach (var text in new[] { "c", "d", "e" })
        {
            await queue.SendMessageAsync(adapter.ToQueueMessage(stream, new[] { text }, null, []));
        }

        time.Advance(poll);
        Assert.Equal(2, (await receiver.GetQueueMessagesAsync(2)).Count);
        Assert.Single(await receiver.GetQueueMessagesAsync(2));
    }

    private async Task<(DurableDeleteQueueReceiver Receiver, QueueClient Queue, AzureQueueDataAdapterV2 Adapter, ScriptedDurability Durability, FakeTimeProvider Time)> StartAsync()
    {
        var name = "r" + Guid.NewGuid().ToString("N")[..12];
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        var adapter = new AzureQueueDataAdapterV2(serializer);
        var options = new AzureQueueOptions { QueueServiceClient = new QueueServiceClient(azurite.ConnectionString), MessageVisibilityTimeout = Visibility };
        var durability = new ScriptedDurability();
        var time = new FakeTimeProvider();
        var settings = new AzureQueueStreamSettings { VisibilityTimeout = Visibility, CommitInterval = CommitInterval };
        var receiver = new DurableDeleteQueueReceiver(
            new AzureQueueDataManager(NullLoggerFactory.Instance, name, options), adapter, durability, settings, time, NullLogger<DurableDeleteQueueReceiver>.Instance);
        await receiver.Initialize(TimeSpan.FromSeconds(30));
        return (receiver, new QueueClient(azurite.ConnectionString, name), adapter, durability, time);
    }

    /// <summary>One more ask of every paused settle loop: past the settle period, and awaited until each pauses again or ends.</summary>
    private static async Task SettleAsync(DurableDeleteQueueReceiver receiver, FakeTimeProvider time)
    {
        time.Advance(CommitInterval);
        await IdleAsync(receiver);
    }

    /// <summary>Until every settle loop has got its answer, deleted what it could and paused (or ended).</summary>
    private static Task IdleAsync(DurableDeleteQueueReceiver receiver) => WaitUntilAsync(() => receiver.SettleIdle);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Real time, generous: the loops run on the thread pool and talk to Azurite; nothing here is a timing assertion.
        for (var waited = 0; !condition(); waited += 10)
        {
            Assert.True(waited < 30_000, "the receiver's settle loops did not get there within 30 s");
            await Task.Delay(10);
        }
    }

    /// <summary>Messages in the queue, visible or not.</summary>
    private static async Task<int> CountAsync(QueueClient queue) => (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;

    /// <summary>Answers per stream as scripted; a stream without an answer throws, as an unreachable consumer does.</summary>
    private sealed class ScriptedDurability : IStreamConsumerDurability
    {
        public Dictionary<StreamId, bool?> Answers { get; } = [];

        public Dictionary<StreamId, int> Asked { get; } = [];

        /// <summary>A consumer that holds its answer until this task completes (its next store), as a model grain does.</summary>
        public Dictionary<StreamId, Task> Holds { get; } = [];

        /// <summary>The wait the receiver offered in its last ask of each stream.</summary>
        public ConcurrentDictionary<StreamId, TimeSpan> Waits { get; } = [];

        public async Task<bool?[]?> AreDurableAsync(StreamId stream, IReadOnlyList<IBatchContainer> batches, TimeSpan wait)
        {
            lock (Asked)
            {
                Asked[stream] = Asked.GetValueOrDefault(stream) + 1;
            }

            Waits[stream] = wait;
            if (Holds.TryGetValue(stream, out var store))
            {
                await store;
            }

            return Answers.TryGetValue(stream, out var answer)
                ? answer is null ? null : [.. batches.Select(_ => answer)]
                : throw new TimeoutException($"the consumer of {stream} does not answer");
        }
    }
}
