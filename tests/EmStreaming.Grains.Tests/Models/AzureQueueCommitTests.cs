using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>
/// Model grains on Azure Queue streams (Azurite): a queue message is deleted only once a state write covers its record
/// (the receiver asks the grain), records are applied at once, and the records of one <c>Streams:AzureQueue:CommitInterval</c>
/// share one write (0: a write per delivery). The grain storage is the real Blob storage behind a gate that can hold writes.
/// </summary>
public sealed class AzureQueueCommitTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Model = "sensor:commit";

    /// <summary>
    /// The wait offered to AreStoredAsync in the tests of held answers: far beyond Orleans' 30 s response timeout, so an answer
    /// that waited it out fails the call. The tests themselves time nothing.
    /// </summary>
    private static readonly TimeSpan HeldFor = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task Append_StateWriteHeld_MessageStaysInTheQueueUntilTheWriteIsDone()
    {
        var gate = new GatedGrainStorage.Gate();
        var (settings, queue) = Settings(commitInterval: TimeSpan.Zero);
        await using var harness = await ModelHarness.StartAsync(
            settings: settings, services: s => GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate));
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));

        gate.Close();
        await harness.Service.AppendAsync(Model, ModelHarness.Rows(100, 2, seed: 1));
        // The grain has applied the record and is writing the state that covers it: the message must still be queued
        // (read and invisible, not deleted), or a crash now would lose an acknowledged batch.
        await gate.Held.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(await MessagesAsync(queue) >= 1, "the queue message was deleted before the state write that covers it completed");
        Assert.Equal(0, (await harness.Service.GetStateAsync(Model)).Observations);

        gate.Open();
        await harness.WaitForObservationsAsync(Model, 100);
        await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the message is deleted once its effect is stored");
    }

    [Fact]
    public async Task Append_RecordsWithinOneCommitInterval_ShareStateWrites()
    {
        const int Appends = 10;
        var gate = new GatedGrainStorage.Gate();
        var (settings, queue) = Settings(commitInterval: TimeSpan.FromSeconds(8));
        await using var harness = await ModelHarness.StartAsync(
            settings: settings, services: s => GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate));
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));
        gate.ResetCount();

        // One after the other, each in its queue a few poll periods (50 ms) before the next: without group commit every record
        // is its own delivery and its own write.
        for (var i = 0; i < Appends; i++)
        {
            await harness.Service.AppendAsync(Model, ModelHarness.Rows(50, 2, seed: i));
            await Task.Delay(250);
        }

        // Applied (and shown) at once; stored by the commit timer, and only then deleted from the queue.
        await harness.WaitForObservationsAsync(Model, Appends * 50);
        await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "every message is deleted once a write covers it");
        Assert.InRange(gate.Writes, 1, 3);
    }

    [Fact]
    public async Task CommitTimer_IdleModel_DoesNotTick_TheNextRecordIsStillWrittenAndDeleted()
    {
        // A commit tick of a model with nothing to write still wakes the thread pool: every CommitInterval for every active
        // model of the silo. The timer now sleeps until a record arms it.
        var (settings, queue) = Settings(commitInterval: TimeSpan.FromMilliseconds(250));
        await using var harness = await ModelHarness.StartAsync(settings: settings);
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));
        await harness.Service.AppendAsync(Model, ModelHarness.Rows(100, 2, seed: 1));
        await harness.WaitForObservationsAsync(Model, 100);
        await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the first message deleted once stored");

        // Twelve idle intervals: at most the one tick already armed when the write above was made.
        var ticks = harness.Recorder.Ticks.GetValueOrDefault("commit");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.InRange(harness.Recorder.Ticks.GetValueOrDefault("commit") - ticks, 0, 1);

        await harness.Service.AppendAsync(Model, ModelHarness.Rows(100, 2, seed: 2));
        await harness.WaitForObservationsAsync(Model, 200);
        await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the next message deleted once stored");
    }

    [Fact]
    public async Task Append_CommitInterval_AppliedAtOnceButDeletedOnlyOnceStored()
    {
        var gate = new GatedGrainStorage.Gate();
        var (settings, queue) = Settings(commitInterval: TimeSpan.FromSeconds(2));
        await using var harness = await ModelHarness.StartAsync(
            settings: settings, services: s => GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate));
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));

        gate.Close();
        await harness.Service.AppendAsync(Model, ModelHarness.Rows(100, 2, seed: 3));
        // The delivery returns at once: the rows are applied and shown before any write...
        await harness.WaitForObservationsAsync(Model, 100);
        // ...and the commit timer's write is held at the gate: the message must stay queued until it completes.
        await gate.Held.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(3)); // more than a settle period (half the interval) with the write still held
        Assert.True(await MessagesAsync(queue) >= 1, "the queue message was deleted before the state write that covers it completed");

        gate.Open();
        await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the message is deleted once its effect is stored");
    }

    [Fact]
    public async Task AreStored_WithAWait_AnswersRightAfterTheWriteThatCoversTheRecord()
    {
        var gate = new GatedGrainStorage.Gate();
        var (settings, _) = Settings(commitInterval: TimeSpan.FromSeconds(1));
        await using var harness = await ModelHarness.StartAsync(
            settings: settings, services: s => GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate));
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));
        var grain = harness.Grains.GetGrain<IModelControlGrain>(Model);
        var record = new RecordKey("gateway", 1);
        Assert.Equal(new[] { false }, await grain.AreStoredAsync([record], TimeSpan.Zero));

        gate.Close();
        await SendExternalBatchAsync(harness);
        await harness.WaitForObservationsAsync(Model, 30);

        // Applied, not stored: asked without a wait it says so at once; asked with one, it holds the answer...
        Assert.Equal(new[] { false }, await grain.AreStoredAsync([record], TimeSpan.Zero));
        var answer = grain.AreStoredAsync([record], HeldFor);
        await gate.Held.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(answer.IsCompleted, "the grain answered while the write that covers the record was still held");

        // ...until the commit's write completes, not until the wait is over (that would fail the call: see HeldFor).
        gate.Open();
        Assert.Equal(new[] { true }, await answer);
    }

    [Fact]
    public async Task AreStored_WaitingAnswer_DoesNotHoldUpTheDeletionOfItsModel()
    {
        // The longest commit interval, and nothing to write after the deletion: no write ends the wait below.
        var (settings, _) = Settings(commitInterval: TimeSpan.FromSeconds(10));
        await using var harness = await ModelHarness.StartAsync(settings: settings);
        await harness.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: null));
        var grain = harness.Grains.GetGrain<IModelControlGrain>(Model);
        await SendExternalBatchAsync(harness);
        await harness.WaitForObservationsAsync(Model, 30);
        var answer = grain.AreStoredAsync([new RecordKey("gateway", 1)], HeldFor);

        // Orleans deactivates only once no request runs: the grain ends the wait itself when its model is deleted, and
        // the answer says the record is inert (a model that does not exist stores nothing more).
        Assert.True(await harness.Service.DeleteModelAsync(Model));
        Assert.Equal(new[] { true }, await answer);
    }

    [Fact]
    public async Task FailedModel_ItsMessagesStayQueued_AndAreAppliedAfterTheRestore()
    {
        var (settings, queue) = Settings(commitInterval: TimeSpan.FromSeconds(1));
        settings["Streams:AzureQueue:VisibilityTimeout"] = "00:00:30";
        await using (var h = await ModelHarness.StartAsync(settings: settings))
        {
            await h.Service.PutModelAsync(Model, ModelHarness.Gmm(snapshotEvery: 100));
            await h.Service.AppendAsync(Model, ModelHarness.Rows(200, 2, seed: 1));
            await h.WaitForObservationsAsync(Model, 200);
            await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the rows are stored and their message deleted");
        }

        // The model's stored state becomes unreadable (its snapshot history stays sound).
        var states = new BlobContainerClient(azurite.ConnectionString, settings["Storage:Azure:ContainerName"]);
        await foreach (var blob in states.GetBlobsAsync())
        {
            await states.GetBlobClient(blob.Name).UploadAsync(BinaryData.FromBytes([.. Enumerable.Range(0, 64).Select(i => (byte)(i * 37))]), overwrite: true);
        }

        await using (var h = await ModelHarness.StartAsync(settings: settings))
        {
            // An external producer's batch reaches the failed model: not applied, and not deleted either.
            await SendExternalBatchAsync(h);
            Assert.NotNull((await h.Service.GetModelAsync(Model)).Status.Failure);
            await Task.Delay(TimeSpan.FromSeconds(3)); // several settle rounds (every 500 ms) after its delivery
            Assert.True(await MessagesAsync(queue) >= 1, "a failed model's message was deleted although nothing stored it");

            // The restore makes the model healthy; the message reappears within the visibility timeout and is applied once.
            var newest = (await h.Service.ListSnapshotsAsync(Model))[^1];
            Assert.Equal(200, newest.Observations);
            Assert.Null((await h.Service.RestoreSnapshotAsync(Model, newest.Version)).Failure);
            await h.WaitForObservationsAsync(Model, 230);
            await WaitUntilAsync(async () => await MessagesAsync(queue) == 0, "the applied batch is stored and its message deleted");
            Assert.Equal(230, (await h.Service.GetStateAsync(Model)).Observations);
        }
    }

    private (Dictionary<string, string?> Settings, QueueClient Queue) Settings(TimeSpan commitInterval)
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..12];
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "AzureStorage",
            ["Streams:Provider"] = "AzureQueue",
            ["AzureStorage:ConnectionString"] = azurite.ConnectionString,
            ["Storage:Azure:ContainerName"] = name + "-state",
            ["Storage:Azure:HistoryContainerName"] = name + "-history",
            ["Storage:Azure:RegistryTableName"] = name,
            ["Streams:AzureQueue:QueuePrefix"] = name,
            ["Streams:AzureQueue:QueueCount"] = "1",
            ["Streams:AzureQueue:CommitInterval"] = commitInterval.ToString(),
            ["Streams:AzureQueue:PollPeriod"] = "00:00:00.050",
        };
        return (settings, new QueueClient(azurite.ConnectionString, name + "-0"));
    }

    /// <summary>An external producer's batch of 30 rows (producer "gateway", sequence 1), straight onto the model's stream.</summary>
    private static Task SendExternalBatchAsync(ModelHarness harness) =>
        harness.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, Model))
            .OnNextAsync(new ObservationBatch { ProducerId = "gateway", Sequence = 1, Values = ModelHarness.Rows(30, 2, 5).Values.ToArray(), Columns = 2 });

    /// <summary>Messages in the queue, visible or not (Azure counts a read, undeleted message too).</summary>
    private static async Task<int> MessagesAsync(QueueClient queue) => (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within 60 s: {what}");
            await Task.Delay(100);
        }
    }
}
