using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Models;

public sealed class OrderingTests
{
    [Fact]
    public async Task AppendAsync_ManyModelsOverFewerQueuesConcurrently_EachModelAppliesItsBatchesInProducedOrderOnce()
    {
        const int keys = 24, batches = 30, rows = 10;
        // 24 model streams over 4 queues: queues interleave several models, which is what the test is about.
        await using var h = await ModelHarness.StartAsync(settings: new Dictionary<string, string?> { ["Streams:Queues"] = "4" });
        var ids = Enumerable.Range(0, keys).Select(k => $"order-{k}").ToArray();
        foreach (var id in ids)
        {
            await h.Service.PutModelAsync(id, ModelHarness.Gmm());
        }

        await Task.WhenAll(ids.Select((id, k) => Task.Run(async () =>
        {
            for (var b = 0; b < batches; b++)
            {
                var data = ModelHarness.Rows(rows, 2, (k * 1_000) + b);
                var values = data.Values.ToArray();
                values[0] = b; // the batch number travels in the first value
                await h.Service.AppendAsync(id, new DataMatrix(values, rows, 2));
            }
        })));
        foreach (var id in ids)
        {
            await h.WaitForObservationsAsync(id, batches * rows);
        }

        var applied = h.Recorder.Applied.Where(a => a.Record.Kind == ModelRecordKind.Observations).GroupBy(a => a.Model).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(keys, applied.Count);
        foreach (var (_, list) in applied)
        {
            Assert.Equal(Enumerable.Range(0, batches), list.Select(a => (int)a.Record.ReadValues()![0]));
            Assert.Equal(Enumerable.Range(1, batches).Select(i => (long)i), list.Select(a => a.Record.Sequence));
        }
    }
}
