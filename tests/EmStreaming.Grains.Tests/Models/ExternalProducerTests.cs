using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ExternalProducerTests
{
    [Fact]
    public async Task ObservationBatch_FromAnyOrleansProducer_AppliedOnceEvenWhenSentTwiceAndBadRowsSkipped()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("ext", ModelHarness.Gmm());
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "ext")); // in the silo's process the stream's type is object

        for (var sequence = 1; sequence <= 3; sequence++)
        {
            var rows = ModelHarness.Rows(40, 2, sequence);
            await stream.OnNextAsync(new ObservationBatch { ProducerId = "plant-gateway-7", Sequence = sequence, Values = rows.Values.ToArray(), Columns = 2 });
        }

        // The same batch again (a producer retry): skipped by its sequence.
        var again = ModelHarness.Rows(40, 2, 2);
        await stream.OnNextAsync(new ObservationBatch { ProducerId = "plant-gateway-7", Sequence = 2, Values = again.Values.ToArray(), Columns = 2 });
        // A batch of the wrong width: skipped as a whole (reported as a failed event), the model goes on.
        await stream.OnNextAsync(new ObservationBatch { ProducerId = "plant-gateway-7", Sequence = 4, Values = [1, 2, 3], Columns = 3 });
        // Rows the service would reject are dropped, the rest of the batch applied.
        await stream.OnNextAsync(new ObservationBatch
        {
            ProducerId = "plant-gateway-7", Sequence = 5, Values = [1, 2, double.PositiveInfinity, 0, double.NaN, double.NaN, 3, double.NaN], Columns = 2,
        });
        await h.Service.AppendAsync("ext", ModelHarness.Rows(8, 2, 9));

        var state = await h.WaitForObservationsAsync("ext", 130);
        await Task.Delay(200);
        Assert.Equal(130, (await h.Service.GetStateAsync("ext")).Observations);
        Assert.Equal(130, state.Observations);
        var recent = await h.Service.GetRecentAsync("ext", 10);
        Assert.Equal([1.0, 2.0], recent.Rows.Row(0).ToArray());
        Assert.Equal(3.0, recent.Rows.Row(1)[0]);
    }
}
