using EmStreaming.Numerics.Hmm;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Service;

public sealed class ModelServiceTests
{
    [Fact]
    public async Task AppendAsync_UnknownModel_ThrowsNotFoundAndStoresNothing()
    {
        await using var h = await ModelHarness.StartAsync();
        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync("nobody", ModelHarness.Rows(5, 2, 1)));
        Assert.Null(await h.Registry.GetAsync("nobody", default));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task AppendAsync_HostileKey_ThrowsValidationNamingIdAndOtherModelsUnaffected(string id)
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("good", ModelHarness.Gmm());
        await h.Service.AppendAsync("good", ModelHarness.Rows(100, 2, 1));

        var e = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.AppendAsync(id, ModelHarness.Rows(5, 2, 1)));
        Assert.Equal("id", e.Field);
        var put = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.PutModelAsync(id, ModelHarness.Gmm()));
        Assert.Equal("id", put.Field);
        Assert.Equal(100, (await h.WaitForObservationsAsync("good", 100)).Observations);
        Assert.Single((await h.Service.ListModelsAsync(null, null, 10)).Models);
    }

    [Fact]
    public async Task AppendAsync_TenKilobyteKey_ThrowsValidationNamingId()
    {
        await using var h = await ModelHarness.StartAsync();
        var e = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.AppendAsync(new string('a', 10 * 1024), ModelHarness.Rows(5, 2, 1)));
        Assert.Equal("id", e.Field);
    }

    [Fact]
    public async Task AppendAsync_BadRows_RejectedWithIndexAndReason_RestApplied()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        var rows = new DataMatrix([1, 2, double.NaN, double.NaN, 3, double.NaN], 3, 2);

        var result = await h.Service.AppendAsync("m", rows);

        Assert.Equal(2, result.Accepted);
        var rejected = Assert.Single(result.Rejected);
        Assert.Equal(1, rejected.Index);
        Assert.Contains("no observed value", rejected.Reason);
        Assert.Equal(2, (await h.WaitForObservationsAsync("m", 2)).Observations);
        // Infinities cannot even reach a DataMatrix (the transport edge rejects them naming the row); the validator names them for raw rows.
        Assert.Throws<ArgumentException>(() => new DataMatrix([1, double.PositiveInfinity], 1, 2));
        Assert.Equal("value 1 is infinite", EmStreaming.Grains.Observations.ModelInput.Check([1, double.NegativeInfinity]));
    }

    [Fact]
    public async Task AppendAsync_WrongDimension_AllRejectedAndNothingAppended()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());

        var result = await h.Service.AppendAsync("m", ModelHarness.Rows(3, 3, 1));

        Assert.Equal(0, result.Accepted);
        Assert.Equal(3, result.Rejected.Count);
        Assert.Null(result.FirstPosition);
        Assert.Contains("dimension is 2", result.Rejected[0].Reason);
    }

    [Fact]
    public async Task AppendAsync_SameIdempotencyKeyTwice_AnsweredAsBeforeAndAppliedOnce()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        var rows = ModelHarness.Rows(30, 2, 3);

        var first = await h.Service.AppendAsync("m", rows, "k-1");
        var second = await h.Service.AppendAsync("m", rows, "k-1");
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 4));

        Assert.False(first.Replayed);
        Assert.True(second.Replayed);
        Assert.Equal(first.FirstPosition, second.FirstPosition);
        Assert.Equal(40, (await h.WaitForObservationsAsync("m", 40)).Observations);
        await Assert.ThrowsAsync<ModelConflictException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(30, 2, 5), "k-1"));
    }

    /// <summary>
    /// Two different idempotency keys whose 64-bit FNV-1a hashes are equal (found in seconds by a rho search over
    /// "key-" + 11 letters; anyone can craft such a pair for a key they can guess, such as "batch-0001") are two batches:
    /// both are applied. The grain dropped the second as a copy of the first, after its 200: an acknowledged batch lost.
    /// </summary>
    [Fact]
    public async Task AppendAsync_TwoKeysWithTheSameHash_BothBatchesApplied()
    {
        const string a = "key-I9d_M3K_5cd", b = "key-Ijz6aqY2Sdx";
        Assert.Equal(ModelStreamRecord.HashKey(a), ModelStreamRecord.HashKey(b));
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());

        var first = await h.Service.AppendAsync("m", ModelHarness.Rows(30, 2, 3), a);
        var second = await h.Service.AppendAsync("m", ModelHarness.Rows(20, 2, 4), b);
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 5));

        Assert.Equal((30, false), (first.Accepted, first.Replayed));
        Assert.Equal((20, false), (second.Accepted, second.Replayed));
        var status = await h.WaitForObservationsAsync("m", 60);
        Assert.Equal(60, status.Observations);
    }

    [Fact]
    public async Task Template_FirstAppendToMatchingId_CreatesModelWithLongestPrefix()
    {
        var templates = new Dictionary<string, string?>
        {
            ["Models:Templates:0:Prefix"] = "sensor-",
            ["Models:Templates:0:Definition:Kind"] = "Gmm",
            ["Models:Templates:0:Definition:Dimension"] = "2",
            ["Models:Templates:0:Definition:Components"] = "2",
            ["Models:Templates:1:Prefix"] = "sensor-hot-",
            ["Models:Templates:1:Definition:Kind"] = "Gmm",
            ["Models:Templates:1:Definition:Dimension"] = "2",
            ["Models:Templates:1:Definition:Components"] = "3",
        };
        await using var h = await ModelHarness.StartAsync(settings: templates);

        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.GetModelAsync("sensor-hot-1"));
        await h.Service.AppendAsync("sensor-hot-1", ModelHarness.Rows(10, 2, 1));
        await h.Service.AppendAsync("sensor-2", ModelHarness.Rows(10, 2, 1));

        Assert.Equal(3, (await h.Service.GetModelAsync("sensor-hot-1")).Definition.Components);
        Assert.Equal(2, (await h.Service.GetModelAsync("sensor-2")).Definition.Components);
        Assert.Equal(10, (await h.WaitForObservationsAsync("sensor-hot-1", 10)).Observations);
    }

    [Fact]
    public async Task PredictAsync_WarmingUp_ThrowsWarmingUpWithRemaining_ThenAnswersOnceWarm()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        await h.Service.AppendAsync("m", ModelHarness.Rows(100, 2, 1));
        await h.WaitForObservationsAsync("m", 100);

        var e = await Assert.ThrowsAsync<ModelWarmingUpException>(() => h.Service.PredictAsync("m", ModelHarness.Rows(2, 2, 9)));
        Assert.True(e.Remaining > 0);
        Assert.True((await h.Service.GetStateAsync("m")).WarmingUp);

        await h.Service.AppendAsync("m", ModelHarness.Rows(e.Remaining, 2, 2));
        var state = await h.WaitForObservationsAsync("m", 100 + e.Remaining);
        Assert.False(state.WarmingUp);
        var prediction = await h.Service.PredictAsync("m", new DataMatrix([-3, -3, 3, 3], 2, 2));
        Assert.NotEqual(prediction.Labels[0], prediction.Labels[1]);
        foreach (var p in prediction.Probabilities)
        {
            Assert.Equal(1.0, p.Sum(), 12);
        }

        var imputed = await h.Service.ImputeAsync("m", new DataMatrix([3, double.NaN], 1, 2));
        Assert.InRange(imputed[0, 1], 2.0, 4.0); // the x=3 cluster's mean of the second coordinate is 3 (unit noise)

        // A row with nothing observed is imputed too (E[x] = Σ w_k μ_k), not refused; predict still refuses it.
        var parameters = await h.Service.GetStateAsync("m");
        var both = await h.Service.ImputeAsync("m", new DataMatrix([double.NaN, double.NaN, 3, double.NaN], 2, 2));
        for (var j = 0; j < 2; j++)
        {
            var mean = Enumerable.Range(0, parameters.Weights!.Length).Sum(k => parameters.Weights[k] * parameters.Means![k][j]);
            Assert.Equal(mean, both[0, j], 9);
        }

        Assert.Equal(imputed[0, 1], both[1, 1]);
        await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.PredictAsync("m", new DataMatrix([double.NaN, double.NaN], 1, 2)));
    }

    [Fact]
    public async Task ImputeAsync_Hmm_TakesTheRowsAsASequenceThatContinuesTheStream()
    {
        // Sticky regimes at levels 0 and 4; the stream ends in the level-0 regime. A row with nothing observed between two
        // level-4 rows is in the level-4 regime: judged alone (the live prediction) it would get about 0.
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("hmm", new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 2, Components = 2, Covariance = CovarianceType.Diag, Seed = 7,
            Snapshots = new SnapshotPolicy { EveryObservations = null, Every = null },
        });
        var random = new Random(3);
        var values = new double[3_000 * 2];
        var level = 0.0;
        for (var t = 0; t < 3_000; t++)
        {
            level = t % 200 == 0 ? (t / 200 % 2 == 0 ? 0.0 : 4.0) : level;
            values[2 * t] = level + (0.5 * ModelHarness.NextGaussian(random));
            values[(2 * t) + 1] = level + (0.5 * ModelHarness.NextGaussian(random));
        }

        await h.Service.AppendAsync("hmm", new DataMatrix(values, 3_000, 2));
        Assert.False((await h.WaitForObservationsAsync("hmm", 3_000)).WarmingUp);

        var alone = await h.Service.ImputeAsync("hmm", new DataMatrix([double.NaN, double.NaN], 1, 2));
        Assert.InRange(alone[0, 0], -0.5, 0.5);
        var between = await h.Service.ImputeAsync("hmm", new DataMatrix([4.1, 3.9, double.NaN, double.NaN, 3.8, 4.2, 4.0, double.NaN], 4, 2));
        Assert.InRange(between[1, 0], 3.5, 4.5);
        Assert.InRange(between[1, 1], 3.5, 4.5);
        Assert.InRange(between[3, 1], 3.5, 4.5);
        Assert.Equal(4.1, between[0, 0]);
    }

    [Fact]
    public async Task DeleteModelAsync_RemovesDefinitionAndSnapshots_RecreatedModelStartsEmpty()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm(snapshotEvery: 50));
        await h.Service.AppendAsync("m", ModelHarness.Rows(100, 2, 1));
        await h.WaitForObservationsAsync("m", 100);
        Assert.NotEmpty(await h.Service.ListSnapshotsAsync("m"));

        Assert.True(await h.Service.DeleteModelAsync("m"));
        Assert.False(await h.Service.DeleteModelAsync("m"));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.GetStateAsync("m"));

        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        await h.Service.AppendAsync("m", ModelHarness.Rows(7, 2, 1));
        Assert.Equal(7, (await h.WaitForObservationsAsync("m", 7)).Observations);
    }

    [Fact]
    public async Task Snapshots_HistoryByVersionAndTime_DecodeParametersAsTheyWere()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm(snapshotEvery: 200));
        for (var i = 0; i < 4; i++)
        {
            await h.Service.AppendAsync("m", ModelHarness.Rows(200, 2, i));
            await h.WaitForObservationsAsync("m", 200 * (i + 1));
            await Task.Delay(20); // versions a few milliseconds apart, so "at or before a time" has one answer
        }

        var history = await h.Service.ListSnapshotsAsync("m");
        // The first version is the empty model written when the definition was created.
        Assert.Equal([0L, 200, 400, 600, 800], history.Select(s => s.Observations));
        Assert.Equal("Reset", history[0].Reason);
        Assert.Equal("Policy", history[2].Reason);
        var second = await h.Service.GetSnapshotAsync("m", history[2].Version, null);
        Assert.Equal(400, second.State.Observations);
        var byTime = await h.Service.GetSnapshotAsync("m", null, history[3].CreatedAt.AddMilliseconds(5));
        Assert.Equal(history[3].Version, byTime.Info.Version);
        Assert.Equal(600, byTime.State.Observations);
    }

    [Fact]
    public async Task AppendRowsAsync_RowsOfMixedWidth_WrongWidthRejectedWithTheirIndicesRestApplied()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());

        var result = await h.Service.AppendRowsAsync("m", [[1, 2], [1], [3, 4], [1, 2, 3], [double.NaN, double.NaN]]);

        Assert.Equal(2, result.Accepted);
        Assert.Equal([1, 3, 4], result.Rejected.Select(r => r.Index));
        Assert.Contains("dimension is 2", result.Rejected[0].Reason);
        Assert.Equal(2, (await h.WaitForObservationsAsync("m", 2)).Observations);
    }

    [Theory]
    [InlineData("")]
    [InlineData("tab\tkey")]
    public async Task AppendAsync_BadIdempotencyKey_ThrowsValidationNamingHeaderAndAppendsNothing(string key)
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        var e = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(3, 2, 1), key.Replace("\\t", "\t", StringComparison.Ordinal)));
        Assert.Equal("Idempotency-Key", e.Field);
        var tooLong = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(3, 2, 1), new string('k', 201)));
        Assert.Equal("Idempotency-Key", tooLong.Field);
        Assert.Equal(0, (await h.Service.GetStateAsync("m")).Observations);
    }

    [Fact]
    public async Task AppendAsync_GlitchReadingsAmongTheRows_CountedFlaggedAndTheModelAsWithoutThem()
    {
        // One reading of 1e50 (within the ±1e100 the service takes) in the warm-up and one after it. Before the influence bound
        // the second alone put a variance near 1e97 into a component for good (docs/models-stay-right.md §17).
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("glitched", ModelHarness.Gmm() with { AnomalyThreshold = 1_000 });
        await h.Service.PutModelAsync("clean", ModelHarness.Gmm() with { AnomalyThreshold = 1_000 });
        for (var i = 0; i < 20; i++)
        {
            var rows = ModelHarness.Rows(50, 2, i);
            await h.Service.AppendAsync("clean", rows);
            if (i is 3 or 12)
            {
                var values = rows.Values.ToArray();
                values[21] = i == 3 ? 1e50 : -1e50;
                rows = new DataMatrix(values, 50, 2);
            }

            await h.Service.AppendAsync("glitched", rows);
        }

        await Wait.UntilAsync(async () => (await h.Service.GetStateAsync("glitched")).Observations == 1_000 && (await h.Service.GetStateAsync("clean")).Observations == 1_000, "both models applied");
        var (glitched, clean) = (await h.Service.GetStateAsync("glitched"), await h.Service.GetStateAsync("clean"));
        for (var k = 0; k < 2; k++)
        {
            for (var j = 0; j < 2; j++)
            {
                Assert.Equal(clean.Means![k][j], glitched.Means![k][j], 0.1);
                for (var l = 0; l < 2; l++)
                {
                    Assert.True(Math.Abs(clean.Covariances![k][j][l] - glitched.Covariances![k][j][l]) < 0.15, $"component {k} covariance ({j}, {l}): {glitched.Covariances![k][j][l]} with the glitches, {clean.Covariances[k][j][l]} without");
                }
            }
        }

        Assert.Equal(1, (await h.Service.GetModelAsync("glitched")).Status.Anomalies); // the one after the warm-up, scored as it came
        Assert.Equal(0, (await h.Service.GetModelAsync("clean")).Status.Anomalies);
    }

    [Fact]
    public async Task GetModelAsync_AfterAppendsAcknowledged_PendingCountsUnappliedRowsDownToZero()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        for (var i = 0; i < 20; i++)
        {
            await h.Service.AppendAsync("m", ModelHarness.Rows(50, 2, i));
        }

        // Every acknowledged row is either applied or pending, at every moment.
        var status = (await h.Service.GetModelAsync("m")).Status;
        Assert.True(status.Observations + status.PendingObservations >= 1_000, $"{status.Observations} applied + {status.PendingObservations} pending < 1000");
        await Wait.UntilAsync(async () => (await h.Service.GetModelAsync("m")).Status.PendingObservations == 0, "pending 0");
        Assert.Equal(1_000, (await h.Service.GetModelAsync("m")).Status.Observations);
    }

    [Fact]
    public async Task Replace_StepSizeOrSeedChanged_StartsAFreshModel_PolicyChangeKeepsTheState()
    {
        // A halfLife, alpha or seed change used to answer 200 and do nothing: the estimator keeps its own schedule and seed.
        await using var h = await ModelHarness.StartAsync();
        var definition = ModelHarness.Gmm();
        await h.Service.PutModelAsync("m", definition);
        await h.Service.AppendAsync("m", ModelHarness.Rows(100, 2, 1));
        await h.WaitForObservationsAsync("m", 100);

        await h.Service.PutModelAsync("m", definition with { Refit = definition.Refit with { Window = 300 }, BatchSize = 20 });
        Assert.Equal(100, (await h.Service.GetStateAsync("m")).Observations);

        var observations = 100;
        foreach (var changed in new[] { definition with { HalfLife = 250 }, definition with { Alpha = 0.7 }, definition with { Seed = 8 } })
        {
            await h.Service.PutModelAsync("m", changed);
            Assert.Equal(0, (await h.Service.GetStateAsync("m")).Observations);
            await h.Service.AppendAsync("m", ModelHarness.Rows(observations, 2, 2));
            await h.WaitForObservationsAsync("m", observations);
        }
    }

    /// <summary>
    /// regimeConfidence is a policy: a replace that changes only it keeps the learned state, and from then on the reported
    /// regime follows it. At 0.8 the filter endpoint's regimes change less often than the most likely regime; without it (the
    /// default) the regime is the filter's most likely one at every row (here the live state, and every row of the filter endpoint).
    /// </summary>
    [Fact]
    public async Task RegimeConfidence_PolicyChangeKeepsTheState_AndTheReportedRegimeFollowsIt()
    {
        await using var h = await ModelHarness.StartAsync();
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [0.0, 0.0], [1.0, 9.0], 2, 1, CovarianceType.Diag);
        var rows = truth.Sample(3_000, 5);
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Covariance = CovarianceType.Diag, Seed = 1, RegimeConfidence = RegimeTracking.Recommended,
        };
        await h.Service.PutModelAsync("r", definition);
        await h.Service.AppendAsync("r", new DataMatrix(rows.Values[..(2_000)].ToArray(), 2_000, 1));
        await h.WaitForObservationsAsync("r", 2_000);

        var probe = new DataMatrix(rows.Values[2_000..].ToArray(), 1_000, 1);
        var atRecommended = await h.Service.FilterAsync("r", probe);
        await h.Service.PutModelAsync("r", definition with { RegimeConfidence = null });
        Assert.Equal(2_000, (await h.Service.GetStateAsync("r")).Observations);
        Assert.Null((await h.Service.GetModelAsync("r")).Definition.RegimeConfidence);

        var atHalf = await h.Service.FilterAsync("r", probe);
        static int Changes(int[] regimes) => regimes.Zip(regimes.Skip(1)).Count(z => z.First != z.Second);
        for (var i = 0; i < probe.Rows; i++)
        {
            var p = atHalf.Probabilities[i];
            Assert.Equal(p[1] > p[0] ? 1 : 0, atHalf.Regimes[i]);
        }

        Assert.True(Changes(atRecommended.Regimes) < Changes(atHalf.Regimes), $"{Changes(atRecommended.Regimes)} changes at 0.8, {Changes(atHalf.Regimes)} by default");

        for (var i = 0; i < 200; i++)
        {
            await h.Service.AppendAsync("r", new DataMatrix([rows.Values[2_000 + i]], 1, 1));
            var state = await h.WaitForObservationsAsync("r", 2_001 + i);
            var live = state.RegimeProbabilities!;
            Assert.Equal(live[1] > live[0] ? 1 : 0, state.Regime);
        }

        // Back to 0.8 (the state restored again under the new policy): each live regime follows the rule from the one before.
        await h.Service.PutModelAsync("r", definition);
        var previous = (await h.Service.GetStateAsync("r")).Regime!.Value;
        var held = 0;
        for (var i = 200; i < 600; i++)
        {
            await h.Service.AppendAsync("r", new DataMatrix([rows.Values[2_000 + i]], 1, 1));
            var state = await h.WaitForObservationsAsync("r", 2_001 + i);
            Assert.Equal(RegimeTracking.Next(previous, state.RegimeProbabilities!, RegimeTracking.Recommended), state.Regime);
            var live = state.RegimeProbabilities!;
            held += state.Regime != (live[1] > live[0] ? 1 : 0) ? 1 : 0;
            previous = state.Regime!.Value;
        }

        Assert.True(held > 0, "no row where the rule kept a regime the filter no longer found the most likely: the test shows nothing");
    }
}
