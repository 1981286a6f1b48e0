using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>Applying a record is all-or-accounted: the rows the estimator refuses are reported, and the counts match the estimator.</summary>
public sealed class ApplyFailureTests
{
    [Fact]
    public void Apply_GmmRefusesALaterBatch_CountsMatchTheEstimatorAndTheRestIsReported()
    {
        // batchSize 1: each row is one estimator batch. A row with no observed value (the service rejects one at the API; a
        // record written by another producer could hold one) makes the estimator refuse the second batch (ArgumentException,
        // the estimator unchanged) after it took the first. (This used 1e160, whose squares overflowed the statistics; any
        // finite value is learned now, bounded: docs/models-stay-right.md §17.)
        var core = new ModelCore(ModelHarness.Gmm() with { BatchSize = 1 }, 1);
        core.Apply(ModelStreamRecord.Observations("p", 1, 1, ModelHarness.Rows(1_000, 2, 1), DateTimeOffset.UnixEpoch), "m");
        var rows = new DataMatrix([1, 2, double.NaN, double.NaN, 3, 4], 3, 2);

        var (events, _) = core.Apply(ModelStreamRecord.Observations("p", 2, 1, rows, DateTimeOffset.UnixEpoch), "m");

        Assert.Equal(1_001, core.Observations);
        Assert.Equal(core.Gmm!.Observations, core.Observations);
        var failed = Assert.Single(events!, e => e.Type == ModelEventType.Failed);
        Assert.Contains("rows 2-3 of 3", failed.Message);
        Assert.Contains("no observed value", failed.Message);
    }

    [Fact]
    public void Apply_GmmRefusesTheFirstBatch_NothingCountedAndTheModelStillLearns()
    {
        var core = new ModelCore(ModelHarness.Gmm() with { BatchSize = 2 }, 1);
        core.Apply(ModelStreamRecord.Observations("p", 1, 1, ModelHarness.Rows(1_000, 2, 1), DateTimeOffset.UnixEpoch), "m");

        var (events, _) = core.Apply(ModelStreamRecord.Observations("p", 2, 1, new DataMatrix([double.NaN, double.NaN, 3, 4], 2, 2), DateTimeOffset.UnixEpoch), "m");
        core.Apply(ModelStreamRecord.Observations("p", 3, 1, ModelHarness.Rows(5, 2, 2), DateTimeOffset.UnixEpoch), "m");

        Assert.Contains(events!, e => e.Type == ModelEventType.Failed && e.Message!.Contains("rows 1-2 of 2", StringComparison.Ordinal));
        Assert.Equal(1_005, core.Observations);
        Assert.Equal(core.Gmm!.Observations, core.Observations);
    }

    /// <summary>
    /// A record the estimator refuses part way: the grain's applied-observations metric and its snapshot-every-N trigger count
    /// the rows the model took (1 of 3), not the record's row count. Counted whole, the trigger fires at the first fence (1,004
    /// rows counted against 1,003 applied) and the metric runs ahead of the model's own count.
    /// </summary>
    [Fact]
    public async Task ApplyInTheGrain_RecordRefusedPartWay_MetricsAndSnapshotTriggerCountOnlyTheRowsApplied()
    {
        await using var h = await ModelHarness.StartAsync();
        using var applied = new AppliedObservationsMeter(h);

        await h.Service.PutModelAsync("pf", ModelHarness.Gmm(snapshotEvery: 1_004) with { BatchSize = 1 });
        await h.Service.AppendAsync("pf", ModelHarness.Rows(1_000, 2, 1));
        await h.WaitForObservationsAsync("pf", 1_000);
        var generation = (await h.Registry.GetAsync("pf", CancellationToken.None))!.Generation;
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "pf"));
        // A row with no observed value: the estimator takes the first row and refuses the other two.
        await stream.OnNextAsync(ModelStreamRecord.Observations("ext", 1, generation, new DataMatrix([1, 2, double.NaN, double.NaN, 3, 4], 3, 2), DateTimeOffset.UtcNow));
        // Two fences: the second is applied in a later turn than the first, whose snapshot (if due) is written by then.
        await h.Service.AppendAsync("pf", ModelHarness.Rows(1, 2, 2));
        await h.Service.AppendAsync("pf", ModelHarness.Rows(1, 2, 3));
        await Wait.UntilAsync(() => h.Recorder.Applied.Count(a => a.Model == "pf" && a.Record.RowCount == 1) == 2, "the two fences");

        Assert.Equal(1_003, (await h.Service.GetStateAsync("pf")).Observations);
        Assert.Equal(1_003, applied.Total);
        Assert.DoesNotContain(await h.Service.ListSnapshotsAsync("pf"), s => s.Reason == nameof(SnapshotReason.Policy));
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void Apply_RowWhoseDensityUnderflows_AppliedAndFlaggedWithTheLargestScore(ModelKind kind)
    {
        // 1e170 is so far out that its squared distance overflows: density 0, score +∞. Such a batch's mean is −∞, and the
        // batch's rows were not judged at all, that row least of all; an HMM skipped the row's judgement the same way.
        var definition = ModelHarness.Gmm() with { Kind = kind, AnomalyThreshold = 1_000 };
        var core = new ModelCore(definition, 1);
        core.Apply(ModelStreamRecord.Observations("p", 1, 1, ModelHarness.Rows(2_000, 2, 1), DateTimeOffset.UnixEpoch), "m");
        var values = ModelHarness.Rows(50, 2, 2).Values.ToArray();
        values[21] = 1e170;

        var (events, _) = core.Apply(ModelStreamRecord.Observations("p", 2, 1, new DataMatrix(values, 50, 2), DateTimeOffset.UnixEpoch), "m");

        Assert.Equal(2_050, core.Observations);
        var anomaly = Assert.Single(events!, e => e.Type == ModelEventType.Anomaly);
        Assert.Equal(double.PositiveInfinity, anomaly.Score);
        Assert.Equal(1e170, anomaly.Row![1]);
        Assert.DoesNotContain(events!, e => e.Type == ModelEventType.Failed);
    }
}

