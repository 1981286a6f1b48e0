using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>Applying a record is all-or-accounted: the rows the estimator refuses are reported, and the counts match the estimator.</summary>
public sealed class ApplyFailureTests
{
    [Fact]
    public void Apply_GmmRefusesALaterBatch_CountsMatchTheEstimatorAndTheRestIsReported()
    {
        // batchSize 1: each row is one estimator batch. 1e160 squared overflows the statistics, so the estimator refuses the
        // second batch (InvalidOperationException, the estimator unchanged) after it took the first.
        var core = new ModelCore(ModelHarness.Gmm() with { BatchSize = 1 }, 1);
        core.Apply(ModelStreamRecord.Observations("p", 1, 1, ModelHarness.Rows(1_000, 2, 1), DateTimeOffset.UnixEpoch), "m");
        var rows = new DataMatrix([1, 2, 1e160, -1e160, 3, 4], 3, 2);

        var (events, _) = core.Apply(ModelStreamRecord.Observations("p", 2, 1, rows, DateTimeOffset.UnixEpoch), "m");

        Assert.Equal(1_001, core.Observations);
        Assert.Equal(core.Gmm!.Observations, core.Observations);
        var failed = Assert.Single(events!, e => e.Type == ModelEventType.Failed);
        Assert.Contains("rows 2-3 of 3", failed.Message);
        Assert.Contains("numerically unusable", failed.Message);
    }

    [Fact]
    public void Apply_GmmRefusesTheFirstBatch_NothingCountedAndTheModelStillLearns()
    {
        var core = new ModelCore(ModelHarness.Gmm() with { BatchSize = 2 }, 1);
        core.Apply(ModelStreamRecord.Observations("p", 1, 1, ModelHarness.Rows(1_000, 2, 1), DateTimeOffset.UnixEpoch), "m");

        var (events, _) = core.Apply(ModelStreamRecord.Observations("p", 2, 1, new DataMatrix([1e160, 1, 3, 4], 2, 2), DateTimeOffset.UnixEpoch), "m");
        core.Apply(ModelStreamRecord.Observations("p", 3, 1, ModelHarness.Rows(5, 2, 2), DateTimeOffset.UnixEpoch), "m");

        Assert.Contains(events!, e => e.Type == ModelEventType.Failed && e.Message!.Contains("rows 1-2 of 2", StringComparison.Ordinal));
        Assert.Equal(1_005, core.Observations);
        Assert.Equal(core.Gmm!.Observations, core.Observations);
    }
}
