using System.Collections.Concurrent;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Models;

[Collection(GrainObserverCollection.Name)]
public sealed class OrderingTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public async Task AppendAsync_ManyKeysOverFewerPartitionsConcurrently_EachKeyAppliedInProducedOrder()
    {
        const int keys = 24, batches = 30, rows = 10;
        var applied = new ConcurrentDictionary<string, ConcurrentQueue<(long Position, int Batch)>>();
        ModelGrain.AppliedObserver = (key, position, payload) =>
        {
            if (key.StartsWith("order-", StringComparison.Ordinal) && payload.Span[0] == 1)
            {
                // The producer writes the batch number into the first value of each batch.
                var batch = (int)ModelRecord.ReadObservations(payload.Span).Rows.Row(0)[0];
                applied.GetOrAdd(key, _ => new ConcurrentQueue<(long, int)>()).Enqueue((position, batch));
            }
        };
        try
        {
            await using var h = await ModelHarness.StartAsync(_clock, partitions: 8);
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
                    values[0] = b;
                    await h.Service.AppendAsync(id, new DataMatrix(values, rows, 2));
                }
            })));
            foreach (var id in ids)
            {
                await h.WaitForObservationsAsync(id, batches * rows);
            }

            Assert.Equal(keys, applied.Count);
            foreach (var (key, sequence) in applied)
            {
                var list = sequence.ToArray();
                Assert.Equal(Enumerable.Range(0, batches), list.Select(e => e.Batch));
                Assert.True(list.Zip(list.Skip(1)).All(p => p.First.Position < p.Second.Position), $"positions of {key} do not increase");
            }

            // More keys than partitions: some partitions interleave several keys, which is what the test is about.
            Assert.Contains(ids.GroupBy(id => Runtime.Streams.StreamPartitioner.GetPartition(id, 8)), g => g.Count() > 1);
        }
        finally
        {
            ModelGrain.AppliedObserver = null;
        }
    }
}
