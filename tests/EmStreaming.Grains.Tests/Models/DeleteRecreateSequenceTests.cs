using EmStreaming.Grains.Models;
using EmStreaming.Grains.Service;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class DeleteRecreateSequenceTests
{
    /// <summary>
    /// A record this process appended before a DELETE reaches the grain again after it (a stream lagging behind, or an Azure
    /// Queue message redelivered after its visibility timeout): it is inert for the new generation, but it still marks its
    /// (producer, sequence) in the windows the DELETE cleared. The service must not number the re-created model's appends from
    /// 1 again: one that reused that sequence would be skipped as its duplicate, an acknowledged append never applied (and,
    /// on Azure Queues, its message deleted as stored).
    /// </summary>
    [Fact]
    public async Task DeleteThenRecreate_RecordOfTheOldGenerationDeliveredAgain_DoesNotSwallowAnAppendOfTheNewOne()
    {
        await using var h = await ModelHarness.StartAsync();
        var producer = ((ModelService)h.Service).ProducerId;
        await h.Service.PutModelAsync("dr", ModelHarness.Gmm());
        for (var i = 0; i < 2; i++)
        {
            await h.Service.AppendAsync("dr", ModelHarness.Rows(10, 2, i)); // sequences 1, 2 of generation 1
        }

        await h.WaitForObservationsAsync("dr", 20);
        var oldGeneration = (await h.Registry.GetAsync("dr", CancellationToken.None))!.Generation;

        Assert.True(await h.Service.DeleteModelAsync("dr"));
        await h.Service.PutModelAsync("dr", ModelHarness.Gmm());
        var newGeneration = (await h.Registry.GetAsync("dr", CancellationToken.None))!.Generation;
        Assert.NotEqual(oldGeneration, newGeneration);

        // This process's sequence 2 of the old generation, delivered again after the DELETE.
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "dr"));
        await stream.OnNextAsync(ModelStreamRecord.Observations(producer, 2, oldGeneration, ModelHarness.Rows(10, 2, 1), DateTimeOffset.UtcNow));
        await Wait.UntilAsync(
            () => h.Recorder.Applied.Count(a => a.Model == "dr" && a.Record.Generation == oldGeneration && a.Record.Sequence == 2) == 2,
            "the old generation's record delivered again");

        var sequences = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var result = await h.Service.AppendAsync("dr", ModelHarness.Rows(20, 2, 10 + i));
            Assert.Equal(20, result.Accepted);
            sequences.Add(result.FirstPosition!.Value);
        }

        // The stream is in order: once the last append is applied, every earlier one that is going to be applied has been.
        await Wait.UntilAsync(
            () => h.Recorder.Applied.Any(a => a.Model == "dr" && a.Record.Generation == newGeneration && a.Record.Sequence == sequences[^1]),
            "the last append of the new generation");
        var applied = h.Recorder.Applied.Where(a => a.Model == "dr" && a.Record.Generation == newGeneration).Select(a => a.Record.Sequence).Order().ToArray();
        Assert.Equal(sequences, applied);
        Assert.Equal(60, (await h.Service.GetStateAsync("dr")).Observations);
        // The old record's rows are not counted applied for the new generation: the service subtracts the grain's count from
        // the rows it appended to the new generation (60), and 10 more would hide 10 pending rows while some are outstanding.
        var progress = await h.Grains.GetGrain<IModelControlGrain>("dr").GetProgressAsync(producer);
        Assert.Equal((60L, newGeneration), (progress.ProducerRows, progress.Generation));
    }

    /// <summary>
    /// The grain counted a record's whole row count in its metrics and toward its next snapshot, also when the model took none
    /// of it (an older generation's inert record) or only part (an estimator refusal part way): the applied-observations
    /// metric then ran ahead of the model's own count.
    /// </summary>
    [Fact]
    public async Task RecordOfTheOldGeneration_IsNotCountedInTheAppliedObservationsMetric()
    {
        await using var h = await ModelHarness.StartAsync();
        using var applied = new AppliedObservationsMeter(h);

        var producer = ((ModelService)h.Service).ProducerId;
        await h.Service.PutModelAsync("dm", ModelHarness.Gmm());
        await h.Service.AppendAsync("dm", ModelHarness.Rows(10, 2, 0));
        await h.WaitForObservationsAsync("dm", 10);
        var oldGeneration = (await h.Registry.GetAsync("dm", CancellationToken.None))!.Generation;
        Assert.True(await h.Service.DeleteModelAsync("dm"));
        await h.Service.PutModelAsync("dm", ModelHarness.Gmm());

        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "dm"));
        await stream.OnNextAsync(ModelStreamRecord.Observations(producer, 1_000, oldGeneration, ModelHarness.Rows(30, 2, 1), DateTimeOffset.UtcNow));
        await Wait.UntilAsync(
            () => h.Recorder.Applied.Any(a => a.Model == "dm" && a.Record.Generation == oldGeneration && a.Record.Sequence == 1_000),
            "the old generation's record");
        await h.Service.AppendAsync("dm", ModelHarness.Rows(7, 2, 2));
        await h.WaitForObservationsAsync("dm", 7);

        Assert.Equal(7, (await h.Service.GetStateAsync("dm")).Observations);
        Assert.Equal(10 + 7, applied.Total);
    }
}
