using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class LateRecordBelowWindowTests
{
    /// <summary>
    /// Azure Queues after a silo is killed: the messages its receiver had read stay invisible for the visibility timeout
    /// (2 minutes by default) while the queue's new reader delivers the newer ones, so a surviving silo's producer that appends
    /// to the model more than 1,024 times in that time (about 9 appends a second) moves its window past the stuck records. When
    /// they reappear they are below the window, taken for applied: skipped, and their messages deleted as stored
    /// (AreStoredAsync answers true), although they were acknowledged and never applied.
    /// Shown with the records delivered in that order (what the queue's new reader delivers), on the in-memory stream.
    /// </summary>
    [Fact]
    public async Task RecordDeliveredAfterMoreThanAWindowOfItsProducersLaterRecords_IsNeitherTakenForStoredNorSkipped()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("late", ModelHarness.Gmm(snapshotEvery: 100));
        var generation = (await h.Registry.GetAsync("late", CancellationToken.None))!.Generation;
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "late"));
        const string producer = "svc-surviving-silo";
        ModelStreamRecord Record(long sequence) => ModelStreamRecord.Observations(producer, sequence, generation, ModelHarness.Rows(1, 2, (int)sequence), DateTimeOffset.UtcNow);

        // Sequence 1 is held by the dead silo's receiver; 2..1201 are delivered by the queue's new reader and stored.
        for (var sequence = 2; sequence <= 1_201; sequence++)
        {
            await stream.OnNextAsync(Record(sequence));
        }

        await h.WaitForObservationsAsync("late", 1_200);
        var grain = h.Grains.GetGrain<IModelControlGrain>("late");
        await Wait.UntilAsync(async () => (await grain.AreStoredAsync([new RecordKey(producer, 1_201)], TimeSpan.Zero))[0], "the state write covering 1201");

        // Never applied: its message must not be deleted as stored...
        Assert.Equal(new[] { false }, await grain.AreStoredAsync([new RecordKey(producer, 1)], TimeSpan.Zero));

        // ...and once it reappears, it is applied.
        await stream.OnNextAsync(Record(1));
        await stream.OnNextAsync(Record(1_202));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "late" && a.Record.Sequence == 1_202), "the record after it");
        Assert.Contains(h.Recorder.Applied, a => a.Model == "late" && a.Record.Sequence == 1);
    }
}
