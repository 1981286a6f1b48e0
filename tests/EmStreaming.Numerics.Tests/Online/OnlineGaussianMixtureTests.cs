using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

public sealed class OnlineGaussianMixtureTests
{
    private static OnlineGaussianMixture Feed(OnlineGmmOptions options, double[] rows, int dimension, int batch, int from = 0, int? to = null, OnlineGaussianMixture? model = null)
    {
        model ??= OnlineGaussianMixture.Create(options, dimension);
        var n = to ?? (rows.Length / dimension);
        for (var i = from; i < n; i += batch)
        {
            var m = Math.Min(batch, n - i);
            model.Update(rows.AsSpan(i * dimension, m * dimension));
        }

        return model;
    }

    [Fact]
    public void Update_Stationary200k_HeldOutLogLikWithinHundredthOfBatchFitAndMeansWithin005()
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        const int n = 200_000;
        var train = truth.Sample(n, seed: 11);
        var test = new DataMatrix(truth.Sample(20_000, seed: 12), 20_000, 2);
        var online = Feed(new OnlineGmmOptions { Components = 3, Seed = 5 }, train, 2, batch: 64);

        var batch = GaussianMixtureEM.Fit(new DataMatrix(train, n, 2), new GmmFitOptions { Components = 3, Restarts = 2, Seed = 5 }).Model;
        var gap = batch.Score(test) - online.Model.Score(test);
        Assert.InRange(gap, -0.01, 0.01);
        Assert.InRange(ComponentMatching.MaxMeanError(truth.Means, online.Model.Means, 3, 2), 0.0, 0.05);
    }

    [Fact]
    public void Update_MeansJump_RecoversWithin5000RowsToTrueLogLikWithoutMerging()
    {
        var before = SyntheticMixture.ThreeComponents2D();
        var after = before.Shifted([1.5, -1.0]);
        const int jump = 20_000;
        const int window = 1_000;
        var rows = before.Sample(jump, seed: 21).Concat(after.Sample(5_000, seed: 22)).ToArray();
        var model = Feed(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(StepSizeSchedule.DefaultHalfLife), Seed = 1 }, rows, 2, batch: 64, to: jump);

        // Prequential: each batch is scored before it is learned; compare the last window before jump + 5,000 with the
        // log-density of the same rows under the true new parameters (paired, so sampling noise mostly cancels).
        var scores = new double[64];
        var online = 0.0;
        for (var i = jump; i < jump + 5_000; i += 64)
        {
            var m = Math.Min(64, jump + 5_000 - i);
            model.Update(rows.AsSpan(i * 2, m * 2), scores);
            for (var r = 0; r < m; r++)
            {
                if (i + r >= jump + 5_000 - window)
                {
                    online -= scores[r];
                }
            }
        }

        var truthLogDensity = new double[window];
        after.ToModel().ScoreSamples(new DataMatrix(rows[((jump + 5_000 - window) * 2)..], window, 2), truthLogDensity);
        var gap = (truthLogDensity.Sum() - online) / window;
        Assert.InRange(gap, -0.05, 0.05);

        var means = model.Model.Means;
        var match = ComponentMatching.Match(after.Means, means, 3, 2);
        Assert.Equal(3, match.Distinct().Count());
        Assert.InRange(ComponentMatching.MaxMeanError(after.Means, means, 3, 2), 0.0, 0.3);
    }

    [Fact]
    public void Blend_AlphaOneFrozenEStep_ChunkedEqualsOneShot()
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var frozen = truth.ToModel().Parameters;
        var rows = truth.Sample(1_000, seed: 31);
        rows[7] = double.NaN;
        rows[100] = double.NaN;
        var schedule = StepSizeSchedule.Decaying(alpha: 1.0, offset: 0.0);

        var oneShot = Accumulate(frozen, rows, 0, 1_000);
        var s = oneShot.CreateEmpty();
        var next = oneShot.CreateEmpty();
        long seen = 0;
        var sizes = new[] { 1, 64, 3, 200, 1, 31, 700 };
        foreach (var m in sizes)
        {
            var batch = Accumulate(frozen, rows, (int)seen, m);
            OnlineGmmRecursion.Blend(s, batch, m, schedule.BatchStep(seen, m), next);
            (s, next) = (next, s);
            seen += m;
        }

        Assert.Equal(1_000, seen);
        oneShot.Scale(1.0 / 1_000);
        // Same sums in a different order: equal to the last few ulps (relative 1e-12).
        AssertClose(oneShot.S0, s.S0);
        AssertClose(oneShot.S1, s.S1);
        AssertClose(oneShot.S2, s.S2);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void SaveState_MidStream_RestoredRunIsBitIdentical(CovarianceType type)
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var rows = truth.Sample(3_000, seed: 41);
        for (var i = 5; i < rows.Length; i += 97)
        {
            rows[i] = double.NaN;
        }

        var options = new OnlineGmmOptions
        {
            Components = 3,
            Covariance = type,
            WarmUpObservations = 300,
            StepSize = StepSizeSchedule.Decaying(0.6, 10, 0.001, averagingStart: 1_000),
            Seed = 9,
        };

        // Snapshots while warming up (row 150) and mid-stream (row 1,700, past the averaging cut-off).
        foreach (var cut in new[] { 150, 1_700 })
        {
            var straight = Feed(options, rows, 2, batch: 50);
            var first = Feed(options, rows, 2, batch: 50, to: cut);
            var restored = OnlineGaussianMixture.Restore(first.SaveState());
            Feed(options, rows, 2, batch: 50, from: cut, model: restored);

            Assert.Equal(straight.SaveState(), restored.SaveState());
            Assert.Equal(straight.Observations, restored.Observations);
            Assert.Equal(
                straight.Model.Covariances.ToArray().Select(BitConverter.DoubleToUInt64Bits),
                restored.Model.Covariances.ToArray().Select(BitConverter.DoubleToUInt64Bits));
        }
    }

    [Fact]
    public void Update_WhileWarmingUp_QueriesSaySo()
    {
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2, WarmUpObservations = 100 }, 2);
        var rows = SyntheticMixture.ThreeComponents2D().Sample(100, seed: 1);
        var scores = new double[60];
        var result = model.Update(rows.AsSpan(0, 120), scores);

        Assert.True(result.WarmingUp);
        Assert.True(double.IsNaN(result.MeanLogLikelihood));
        Assert.All(scores, s => Assert.True(double.IsNaN(s)));
        Assert.Equal(40, model.WarmUpRemaining);
        Assert.False(model.TryGetModel(out _));
        Assert.Equal(40, Assert.Throws<ModelWarmingUpException>(() => model.Model).Remaining);
        Assert.Throws<ModelWarmingUpException>(() => model.ScoreSamples(rows.AsSpan(0, 2), new double[1]));

        result = model.Update(rows.AsSpan(120));
        Assert.False(result.WarmingUp);
        Assert.Equal(0, model.WarmUpRemaining);
        Assert.True(model.TryGetModel(out var fitted));
        Assert.Equal(1.0, fitted.Weights.ToArray().Sum(), 1e-12);
    }

    [Fact]
    public void Update_AnomalyScore_IsNegativeLogDensityBeforeLearning()
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var model = Feed(new OnlineGmmOptions { Components = 3, WarmUpObservations = 500 }, truth.Sample(1_000, seed: 2), 2, batch: 100);
        var batch = new double[] { 0.1, -0.2, 50.0, 50.0, double.NaN, 3.9 };
        var expected = new double[3];
        model.ScoreSamples(batch, expected);
        var scores = new double[3];
        var result = model.Update(batch, scores);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(-expected[i], scores[i]);
        }

        Assert.Equal(expected.Average(), result.MeanLogLikelihood, 1e-12);
        Assert.True(scores[1] > scores[0] + 100, "a far outlier must score far above a typical row");
    }

    [Fact]
    public void ScoreSamples_CompleteRowsInSeveralTiles_MatchTheBatchModel()
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var model = Feed(new OnlineGmmOptions { Components = 3, WarmUpObservations = 500 }, truth.Sample(1_000, seed: 2), 2, batch: 100);
        var rows = truth.Sample(600, seed: 3);
        var online = new double[600];
        var batchModel = new double[600];

        model.ScoreSamples(rows, online);
        model.Model.ScoreSamples(new DataMatrix(rows, 600, 2), batchModel);

        // Same parameters, different kernels (tiles of up to 256 rows vs the batch workspace): equal to rounding.
        for (var i = 0; i < 600; i++)
        {
            Assert.Equal(batchModel[i], online[i], 1e-9 * Math.Max(1, Math.Abs(batchModel[i])));
        }
    }

    [Fact]
    public void Update_CompleteBatch_AnomalyScoresAreNegativeScoreSamples()
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var model = Feed(new OnlineGmmOptions { Components = 3, WarmUpObservations = 500 }, truth.Sample(1_000, seed: 2), 2, batch: 100);
        var batch = truth.Sample(64, seed: 4);
        var expected = new double[64];
        model.ScoreSamples(batch, expected);
        var scores = new double[64];

        model.Update(batch, scores);

        for (var i = 0; i < 64; i++)
        {
            Assert.Equal(-expected[i], scores[i]);
        }
    }

    [Theory]
    [InlineData(new[] { 1.0, 2.0, double.NaN, double.NaN }, "row 1 has no observed value")]
    [InlineData(new[] { 1.0, double.PositiveInfinity }, "row 0 column 1 is infinite")]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, "positive multiple of the dimension 2")]
    public void Update_BadRow_RejectedWithMessageAndStateUnchanged(double[] batch, string message)
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var model = Feed(new OnlineGmmOptions { Components = 3, WarmUpObservations = 200 }, truth.Sample(400, seed: 3), 2, batch: 50);
        var before = model.SaveState();
        var e = Assert.Throws<ArgumentException>(() => model.Update(batch));
        Assert.Contains(message, e.Message);
        Assert.Equal(before, model.SaveState());
    }

    /// <summary>Rows of a two-component 2-D mixture with column 1 missing from the first <paramref name="blind"/> rows.</summary>
    private static double[] ColumnOneMissingFirst(int n, int blind, int seed)
    {
        var truth = new SyntheticMixture([0.5, 0.5], [0, 100, 8, 130], [1, 0, 0, 4, 1, 0, 0, 4], 2, 2);
        var rows = truth.Sample(n, seed);
        for (var i = 0; i < blind; i++)
        {
            rows[(i * 2) + 1] = double.NaN;
        }

        return rows;
    }

    [Fact]
    public void Update_WarmUpColumnNeverObserved_WaitsKeepingTheNewestRowsThenFitsOnceObserved()
    {
        // Column 1 is missing from the first 259 rows, past the 100-row warm-up. The batch that completed the warm-up used to be
        // refused (an ArgumentException, nothing changed), and so was every later one until a batch alone held the column: in
        // the model grain, a record whose middle batch was refused was skipped after its earlier batches were learned. Now every
        // batch is taken: the full buffer slides (newest 100 rows) and the fit waits for two observed values of the column.
        var rows = ColumnOneMissingFirst(400, 259, seed: 5);
        var options = new OnlineGmmOptions { Components = 2, WarmUpObservations = 100, Seed = 9 };
        var model = OnlineGaussianMixture.Create(options, 2);
        for (var i = 0; i < 240; i += 20)
        {
            var result = model.Update(rows.AsSpan(i * 2, 40));
            Assert.True(result.WarmingUp);
        }

        Assert.True(model.IsWarmingUp);
        Assert.Equal(1, model.WaitingForColumn);
        Assert.Equal(1, model.WarmUpRemaining);
        Assert.Equal(240, model.Observations);

        // Rows 240..259 hold one observed value of column 1 (row 259): a mean but no spread, still waiting.
        model.Update(rows.AsSpan(240 * 2, 40));
        Assert.True(model.IsWarmingUp);
        Assert.Equal(1, model.WaitingForColumn);

        // Rows 260..279 complete the column: the fit runs on the newest 100 buffered rows plus this batch, exactly as a fresh
        // estimator fitting those 120 rows in one batch.
        var fit = model.Update(rows.AsSpan(260 * 2, 40));
        Assert.False(fit.WarmingUp);
        Assert.False(model.IsWarmingUp);
        Assert.Equal(-1, model.WaitingForColumn);
        Assert.Equal(0, model.WarmUpRemaining);
        Assert.Equal(280, model.Observations);
        var fresh = OnlineGaussianMixture.Create(options, 2);
        fresh.Update(rows.AsSpan(160 * 2, 120 * 2));
        Assert.Equal(fresh.Model.Means.ToArray(), model.Model.Means.ToArray());
        Assert.Equal(fresh.Model.Covariances.ToArray(), model.Model.Covariances.ToArray());
        Assert.InRange(model.Model.Means[1], 95, 135);
        Assert.InRange(model.Model.Means[3], 95, 135);

        Feed(options, rows, 2, batch: 20, from: 280, model: model);
        Assert.Equal(400, model.Observations);
        Assert.Equal(6, model.Batches); // learned after the fit: rows 280..399
    }

    [Fact]
    public void SaveState_FullSlidingWarmUpBuffer_RestoresAndContinuesBitIdentically()
    {
        // A state saved while the full warm-up buffer waits for a column (one observed value so far) restores, and the restored
        // estimator fits at the same row with the same bits. Before, such a buffer could not exist: its batch was refused.
        var rows = ColumnOneMissingFirst(300, 251, seed: 6);
        var options = new OnlineGmmOptions { Components = 2, WarmUpObservations = 100, Seed = 2 };
        var model = Feed(options, rows, 2, batch: 10, to: 252);
        Assert.Equal(1, model.WaitingForColumn);

        var restored = OnlineGaussianMixture.Restore(model.SaveState());

        Assert.True(restored.IsWarmingUp);
        Assert.Equal(1, restored.WaitingForColumn);
        Assert.Equal(model.WarmUpRemaining, restored.WarmUpRemaining);
        Assert.Equal(252, restored.Observations);
        Assert.Equal(model.SaveState(), restored.SaveState());
        Feed(options, rows, 2, batch: 10, from: 252, model: model);
        Feed(options, rows, 2, batch: 10, from: 252, model: restored);
        Assert.False(restored.IsWarmingUp);
        Assert.Equal(model.SaveState(), restored.SaveState());
    }

    [Fact]
    public void Update_StarvedComponent_IsReseededAtPoorlyExplainedRows()
    {
        // Two clusters; then the one at (6, 0) stops and a small new one appears far away at (0, 30). EM alone leaves the
        // (6, 0) component starving and lets the (0, 0) one stretch over the newcomers; re-seeding must move the starved
        // component onto the poorly explained far rows.
        var a = new SyntheticMixture([0.5, 0.5], [0, 0, 6, 0], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2);
        var b = new SyntheticMixture([0.95, 0.05], [0, 0, 0, 30], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2);
        var rows = a.Sample(2_000, seed: 4).Concat(b.Sample(6_000, seed: 5)).ToArray();
        var options = new OnlineGmmOptions { Components = 2, WarmUpObservations = 500, StepSize = StepSizeSchedule.FromHalfLife(200), ReseedWeight = 0.01 };
        var model = Feed(options, rows, 2, batch: 32);

        Assert.True(model.Reseeds >= 1, "the starved component must have been re-seeded");
        // With a 200-row half-life the 5 % cluster is estimated from ~30 effective rows (standard error ≈ 0.2 per
        // coordinate); without re-seeding the nearest estimate would be ≈ 30 away, so 1.0 separates the two outcomes.
        Assert.InRange(ComponentMatching.MaxMeanError(b.Means, model.Model.Means, 2, 2), 0.0, 1.0);
        Assert.Equal(0.05, model.Model.Weights.ToArray().Min(), 0.02);
    }

    private static GmmSufficientStatistics Accumulate(GmmParameters frozen, double[] rows, int from, int count)
    {
        var stats = new GmmSufficientStatistics(frozen.Components, frozen.Dimension, frozen.Type);
        var resp = new double[frozen.Components];
        var scratch = new double[GmmParameters.RowScratchLength(frozen.Dimension)];
        for (var i = from; i < from + count; i++)
        {
            var x = rows.AsSpan(i * 2, 2);
            frozen.LogDensitiesRow(x, resp, scratch);
            var max = resp.Max();
            var sum = 0.0;
            for (var k = 0; k < resp.Length; k++)
            {
                resp[k] = Math.Exp(resp[k] - max) * frozen.Weights[k];
                sum += resp[k];
            }

            for (var k = 0; k < resp.Length; k++)
            {
                resp[k] /= sum;
            }

            stats.AccumulateRow(x, resp, frozen, scratch);
        }

        return stats;
    }

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-12 * Math.Max(1.0, Math.Abs(expected[i])));
        }
    }
}
