using EmStreaming.Grains.Models;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>Refit adoption that cannot be fooled, drift events and health through the service's state machine (issue 11).</summary>
public sealed class ModelCoreRefitTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Feeds rows in records of <paramref name="record"/> rows, one simulated second apart; refits run synchronously.</summary>
    private static List<ModelEvent> Feed(ModelCore core, DataMatrix rows, int record = 100, bool runRefits = true, Func<RefitJob, double[]>? refit = null)
    {
        var events = new List<ModelEvent>();
        var d = rows.Columns;
        for (var i = 0; i < rows.Rows; i += record)
        {
            var n = Math.Min(record, rows.Rows - i);
            var batch = new DataMatrix(rows.Values.Slice(i * d, n * d).ToArray(), n, d);
            var time = T0.AddSeconds(core.Observations / (double)record);
            var (e, job) = core.Apply(Obs(core.Generation, batch, time), "m");
            events.AddRange(e ?? []);
            if (job is not null && runRefits)
            {
                var parameters = (refit ?? (j => RefitCodec.Run(j, default)))(job);
                events.AddRange(core.Apply(Result(core.Generation, job.Sequence, parameters, time), "m").Events ?? []);
            }
        }

        return events;
    }

    private static DataMatrix Mixture(int n, int seed, double shiftX = 0, double shiftY = 0, double zeroShare = 0, double duplicate = 0)
    {
        var rng = new Random(seed);
        double[] means = [0, 0, 4, 4, -4, 3];
        var values = new double[n * 2];
        for (var i = 0; i < n; i++)
        {
            if (rng.NextDouble() < zeroShare)
            {
                // An exact duplicate row, as the exact-zero returns of a quiet market.
                values[i * 2] = duplicate;
                values[(i * 2) + 1] = duplicate;
                continue;
            }

            var k = rng.Next(3);
            values[i * 2] = means[k * 2] + shiftX + Gaussian(rng);
            values[(i * 2) + 1] = means[(k * 2) + 1] + shiftY + (0.7 * Gaussian(rng));
        }

        return new DataMatrix(values, n, 2);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static ModelDefinition Gmm(int window = 2_000, long? refitEvery = 5_000, double? halfLife = 2_000) => new()
    {
        Kind = ModelKind.Gmm, Dimension = 2, Components = 3, Seed = 3, HalfLife = halfLife,
        Refit = new RefitPolicy { Window = window, EveryObservations = refitEvery, Restarts = 2 },
    };

    [Fact]
    public void RequestRefit_GmmWindow_FitsAllButEveryFifthRow()
    {
        var core = new ModelCore(Gmm(window: 2_000, refitEvery: 3_000), 1);
        Feed(core, Mixture(3_000, 1), runRefits: false);
        Assert.True(core.RefitInFlight);
        var job = core.ResumeRefit()!;
        var window = core.CopyWindow();
        Assert.Equal(2_000 - (2_000 / ModelCore.HeldOutEvery), job.Window.Rows);
        // Observations 1,000..2,999 are in the window; those numbered 4 mod 5 are held out, the others fitted in order.
        var expected = Enumerable.Range(0, 2_000).Where(i => (1_000 + i) % 5 != 4).SelectMany(i => window.Row(i).ToArray()).ToArray();
        Assert.Equal(expected, job.Window.Values.ToArray());
    }

    [Fact]
    public void RequestRefit_HmmWindow_FitsAllButTheNewestFifth()
    {
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1, Refit = new RefitPolicy { Window = 2_000, EveryObservations = 3_000, Restarts = 1 },
        };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 0.0], [1e-4, 9e-4], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(3_000, 2), runRefits: false);
        var job = core.ResumeRefit()!;
        Assert.Equal(2_000 - ModelCore.HeldOutRows(2_000), job.Window.Rows);
        Assert.Equal(core.CopyWindow().Values[..(job.Window.Rows * 1)].ToArray(), job.Window.Values.ToArray());
    }

    [Fact]
    public void ApplyRefitResult_CandidateCollapsedOnExactDuplicates_RejectedWithReasonAndWarned()
    {
        // A fifth of the rows are exact (−10, −10) duplicates (the exact-zero returns of a quiet market, away from the rest).
        // Batch EM without a relative floor collapses the fourth component on them: the collapsed candidate explains the window,
        // held-out rows included, better than any honest fit (the likelihood is unbounded there), so only the degeneracy check
        // can refuse it. The online model's own component there is held at the relative floor, and the health warns about it.
        var core = new ModelCore(Gmm(refitEvery: null) with { Components = 4 }, 1);
        Feed(core, Mixture(5_000, 2, zeroShare: 0.2, duplicate: -10));
        var job = core.Apply(Request(1, T0), "m").Refit!;
        var collapsed = GaussianMixtureEM.Fit(job.Window, new GmmFitOptions { Components = 4, Seed = 1, RelativeRegCovar = 0, Restarts = 3 }).Model;
        Assert.Contains(collapsed.Covariances.ToArray(), v => v < 1e-5);

        var e = Assert.Single(core.Apply(Result(1, job.Sequence, RefitCodec.FromGmm(collapsed), T0), "m").Events!);

        Assert.Equal(ModelEventType.RefitRejected, e.Type);
        Assert.Contains("degenerate", e.Message);
        Assert.True(e.After > e.Before, $"it scored better on the held-out rows ({e.After} vs {e.Before}): the rejection is the degeneracy check's");
        Assert.Equal(0, core.Refits);
        Assert.Equal(e.Message, core.Health.LastRefitRejection);
        Assert.Contains(core.Health.Warnings, w => w.Contains("variance below"));
        Assert.All(core.Gmm!.Model.Covariances.ToArray().Where((_, i) => i % 4 is 0 or 3), v => Assert.True(v > 1e-4, $"variance {v}"));
    }

    [Fact]
    public void ApplyRefitResult_Hmm_AdoptionKeepsTheScheduleAndTheFilter()
    {
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1,
            Refit = new RefitPolicy { Window = 3_000, EveryObservations = null, Restarts = 1 },
        };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 0.0], [1e-4, 9e-4], 2, 1, CovarianceType.Full);
        var rows = truth.Sample(8_000, 5);
        var core = new ModelCore(definition, 1);
        Feed(core, rows);
        var steps = core.Hmm!.StatisticsCount;
        var step = core.Hmm.LastStepSize;

        var job = core.Apply(Request(1, T0), "m").Refit!;
        var events = core.Apply(Result(1, job.Sequence, RefitCodec.Run(job, default), T0), "m").Events!;

        var e = Assert.Single(events);
        Assert.Equal(ModelEventType.RefitAdopted, e.Type);
        Assert.Equal(steps, core.Hmm.StatisticsCount);
        Feed(core, truth.Sample(200, 6));
        // The next steps continue the schedule (γ_n ≈ n^−0.8 ≈ 7e-4 here), instead of restarting near 1.
        Assert.InRange(core.Hmm.LastStepSize, 0, step * 1.01);
        var variances = core.Hmm.Model!.Covariances.ToArray().Order().ToArray();
        Assert.Equal(1e-4, variances[0], 2e-5);
        Assert.Equal(9e-4, variances[1], 2e-4);
    }

    [Fact]
    public void ApplyRefitResult_HmmCandidateWithItsStatesSwapped_AdoptedUnderTheModelsLabels()
    {
        // A refit's Baum–Welch restarts number the states in their own order. Adopted as they come, "regime 0" (calm here)
        // would become the volatile one at that refit, for the live regime, the events and every client reading labels.
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1, RegimeConfidence = 0.8,
            Refit = new RefitPolicy { Window = 3_000, EveryObservations = null, Restarts = 1 },
        };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 0.0], [1e-4, 9e-4], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(8_000, 5));
        var variances = core.Hmm!.Model!.Covariances.ToArray();
        var regime = core.Regime;
        Assert.True(variances[0] * 3 < variances[1] || variances[1] * 3 < variances[0], $"the states are not told apart: {variances[0]} and {variances[1]}");

        var job = core.Apply(Request(1, T0), "m").Refit!;
        var fitted = RefitCodec.ToHmm(definition, RefitCodec.Run(job, default));
        var swapped = LabelMatching.Reorder(fitted.AlignTo(core.Hmm.Model!), [1, 0]);
        var e = Assert.Single(core.Apply(Result(1, job.Sequence, RefitCodec.FromHmm(swapped), T0), "m").Events!);

        Assert.Equal(ModelEventType.RefitAdopted, e.Type);
        var after = core.Hmm.Model!.Covariances.ToArray();
        Assert.Equal(variances[0], after[0], variances[0] * 0.1);
        Assert.Equal(variances[1], after[1], variances[1] * 0.1);
        Assert.Equal(regime, core.Regime);
    }

    [Fact]
    public void ApplyRefitResult_GmmCandidateInAnotherOrder_AdoptedUnderTheModelsLabels()
    {
        // Decaying steps lag behind a shift that the refit's window holds: the refit wins on the held-out rows and is adopted.
        var core = new ModelCore(Gmm(refitEvery: null, halfLife: null), 1);
        Feed(core, Mixture(6_000, seed: 4));
        var means = core.Gmm!.Model.Means.ToArray();
        Feed(core, Mixture(2_000, seed: 5, shiftX: 1.0));

        var job = core.Apply(Request(1, T0), "m").Refit!;
        var inOrder = RefitCodec.ToGmm(job.Definition, RefitCodec.Run(job, default)).AlignTo(core.Gmm.Model);
        for (var k = 0; k < 3; k++)
        {
            // The matched labels name the same clusters, moved by the shift (the clusters are 4 to 8 apart).
            Assert.Equal(means[2 * k] + 1.0, inOrder.Means[2 * k], 0.4);
            Assert.Equal(means[(2 * k) + 1], inOrder.Means[(2 * k) + 1], 0.4);
        }

        var rotated = LabelMatching.Reorder(inOrder, [1, 2, 0]);
        var e = Assert.Single(core.Apply(Result(1, job.Sequence, RefitCodec.FromGmm(rotated), T0), "m").Events!);

        Assert.True(e.Type == ModelEventType.RefitAdopted, e.Message);
        var after = core.Gmm.Model.Means.ToArray();
        for (var i = 0; i < means.Length; i++)
        {
            Assert.Equal(inOrder.Means[i], after[i], 0.05); // a swapped label would be off by 4 to 8
        }
    }

    [Theory]
    [InlineData(ModelKind.Hmm)]
    [InlineData(ModelKind.Gmm)]
    public void RefitRun_WindowWithAGlitch_TheCandidateHasNoComponentOnIt(ModelKind kind)
    {
        // One reading of 1e6 in the refit's window: a fit gives it a component (state) of its own, which the degeneracy check
        // then refuses, so no refit could be adopted while the glitch stays in the window (5,000 rows here).
        var definition = new ModelDefinition
        {
            Kind = kind, Dimension = 1, Components = 2, Seed = 1,
            Refit = new RefitPolicy { Window = 5_000, EveryObservations = null, Restarts = 2 },
        };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 4.0], [1.0, 1.0], 2, 1, CovarianceType.Full);
        var rows = truth.Sample(8_000, 5).Values.ToArray();
        rows[5_500] = 1e6;
        var core = new ModelCore(definition, 1);
        Feed(core, new DataMatrix(rows, 8_000, 1));

        var job = core.Apply(Request(1, T0), "m").Refit!;
        var parameters = RefitCodec.Run(job, default);
        var means = kind == ModelKind.Hmm ? RefitCodec.ToHmm(definition, parameters).Means.ToArray() : RefitCodec.ToGmm(definition, parameters).Means.ToArray();

        Assert.All(means, m => Assert.InRange(m, -2, 6));
        var e = Assert.Single(core.Apply(Result(1, job.Sequence, parameters, T0), "m").Events!);
        Assert.DoesNotContain("degenerate", e.Message ?? "", StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ModelKind.Gmm, 1e3)]
    [InlineData(ModelKind.Gmm, 1e6)]
    [InlineData(ModelKind.Hmm, 1e3)]
    [InlineData(ModelKind.Hmm, 1e6)]
    public void ApplyRefitResult_GlitchAmongTheHeldOutRows_JudgedAsWithoutIt(ModelKind kind, double glitch)
    {
        // One reading among the held-out rows decided the judgement alone: both models scored −473 to −505 nats/row (10³) or
        // about −5·10⁸ (10⁶) on them, and whichever was wider where the glitch lay won by 4 to 30 nats/row (10³) or by 4·10⁶ to
        // 3·10⁷ (10⁶): the GMM's refit, adopted on the clean stream, was rejected; the HMM's, rejected there, was adopted. The fit already
        // moves glitches to the edge of the rest (RefitCodec); the judge now sees the rows the same way.
        RefitEvent(kind, 0, out var clean);
        RefitEvent(kind, glitch, out var glitched);

        // Both scores on the data's scale, as on the clean stream (the glitch still moves the online model a bounded amount,
        // and sits in the held-out rows at the edge of the rest), and the gap between them as small as it is there: the
        // decision is the data's, not the glitch's (the clean decision itself rests on 10⁻⁴ to 10⁻³ nats/row here).
        Assert.InRange(glitched.Before!.Value, clean.Before!.Value - 0.05, clean.Before!.Value + 0.05);
        Assert.InRange(glitched.After!.Value, clean.After!.Value - 0.05, clean.After!.Value + 0.05);
        Assert.InRange(glitched.After!.Value - glitched.Before!.Value, -0.01, 0.01);

        static void RefitEvent(ModelKind kind, double glitch, out ModelEvent e)
        {
            var definition = new ModelDefinition
            {
                Kind = kind, Dimension = 1, Components = 2, Seed = 1,
                Refit = new RefitPolicy { Window = 5_000, EveryObservations = null, Restarts = 2 },
            };
            var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 4.0], [1.0, 1.0], 2, 1, CovarianceType.Full);
            var rows = truth.Sample(8_000, 5).Values.ToArray();
            if (glitch != 0)
            {
                rows[7_994] = glitch; // observation 7,994: held out by a GMM (every fifth) and by an HMM (the newest fifth)
            }

            var core = new ModelCore(definition, 1);
            Feed(core, new DataMatrix(rows, 8_000, 1));
            var job = core.Apply(Request(1, T0), "m").Refit!;
            e = Assert.Single(core.Apply(Result(1, job.Sequence, RefitCodec.Run(job, default), T0), "m").Events!);
        }
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void RefitRun_WarmStartFarFromTheWindow_TheRestartsStillGiveTheRefit(ModelKind kind)
    {
        // A jump of 1e8 σ: EM from the model at the old place yields no positive definite covariance, and that failure used to
        // fail the whole refit although the restarts beside it fit the window.
        var definition = new ModelDefinition
        {
            Kind = kind, Dimension = 2, Components = 3, Seed = 1, Refit = new RefitPolicy { Window = 2_000, EveryObservations = null, Restarts = 2 },
        };
        var truth = GaussianMixture.Create([0.3, 0.3, 0.4], [0, 0, 4, 4, -4, 3], [1, 0, 0, 0.5, 1, 0, 0, 0.5, 1, 0, 0, 0.5], 3, 2, CovarianceType.Full);
        var old = truth.Sample(2_000, 1);
        var window = new DataMatrix(truth.Sample(2_000, 12).Values.ToArray().Select((v, i) => i % 2 == 0 ? v - 1e8 : v + 1e8).ToArray(), 2_000, 2);
        RefitJob job;
        if (kind == ModelKind.Gmm)
        {
            var current = GaussianMixtureEM.Fit(old, new GmmFitOptions { Components = 3, Seed = 1 }).Model;
            Assert.ThrowsAny<InvalidOperationException>(() => GaussianMixtureEM.Fit(window, new GmmFitOptions { Components = 3, Seed = 2, WarmStart = current, MaxDegreeOfParallelism = 1 }));
            job = new RefitJob(1, 1, definition, window, current, null);
        }
        else
        {
            var current = GaussianHmmEM.Fit(old, new HmmFitOptions { States = 3, Seed = 1 }).Model;
            Assert.ThrowsAny<InvalidOperationException>(() => GaussianHmmEM.Fit(window, new HmmFitOptions { States = 3, Seed = 2, WarmStart = current, MaxDegreeOfParallelism = 1 }));
            job = new RefitJob(1, 1, definition, window, null, current);
        }

        var parameters = RefitCodec.Run(job, default);

        var score = kind == ModelKind.Gmm ? RefitCodec.ToGmm(definition, parameters).Score(window) : RefitCodec.ToHmm(definition, parameters).Score(window);
        Assert.True(score > -4, $"{score:F3} nats/row on the window");
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void ApplyRefitResult_HeldOutRowWhoseDensityUnderflows_JudgedOnTheOthersAndTheRefitEnds(ModelKind kind)
    {
        // Data at a scale of 1e-60 and one held-out reading of 1e100: its density underflows under both models, the held-out
        // score threw ("the log-likelihood is not finite"), the result record was skipped, and the refit stayed in flight for
        // good: the model never refitted again.
        var definition = new ModelDefinition
        {
            Kind = kind, Dimension = 2, Components = 2, Seed = 1, WarmUp = 300,
            Refit = new RefitPolicy { Window = 1_000, EveryObservations = null, Restarts = 1 },
        };
        var rng = new DeterministicRandom(3);
        var values = new double[2_000 * 2];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = rng.NextGaussian() * 1e-60 + (i / 2 % 2 == 0 ? 0 : 5e-60);
        }

        values[2 * 1_994] = 1e100; // observation 1,994: held out by a GMM (every fifth) and by an HMM (the newest fifth)
        var core = new ModelCore(definition, 1);
        Feed(core, new DataMatrix(values, 2_000, 2));
        var job = core.Apply(Request(1, T0), "m").Refit!;

        var events = core.Apply(Result(1, job.Sequence, RefitCodec.Run(job, default), T0), "m").Events!;

        var e = Assert.Single(events);
        Assert.True(e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected);
        Assert.False(core.RefitInFlight);
        Assert.True(double.IsFinite(e.Before!.Value) && double.IsFinite(e.After!.Value), $"{e.Before} and {e.After}");
    }

    [Fact]
    public void Apply_AllMeansJumpHalfLife2000_DriftEventAndBackWithin005NatsWithin5000Rows()
    {
        var core = new ModelCore(Gmm(), 1);
        Feed(core, Mixture(20_000, 7));
        var events = Feed(core, Mixture(5_000, 8, shiftX: 6, shiftY: -5));

        var drift = Assert.Single(events, e => e.Type == ModelEventType.Drift);
        Assert.InRange(drift.Observations, 20_001, 20_500);
        Assert.Equal(1, core.Health.Drifts);
        var held = Mixture(20_000, 9, shiftX: 6, shiftY: -5);
        var truth = GaussianMixture.Create(
            [1 / 3.0, 1 / 3.0, 1 / 3.0], [6, -5, 10, -1, 2, -2], [1, 0, 0, 0.49, 1, 0, 0, 0.49, 1, 0, 0, 0.49], 3, 2, CovarianceType.Full);
        var gap = truth.Score(held) - core.Gmm!.Model.Score(held);
        Assert.True(gap < 0.05, $"gap {gap:F4} nats/row 5,000 rows after the jump");
    }

    /// <summary>
    /// A machine that stays longer than the refit window in some of its modes: the window's rows all come from two of the
    /// three. A refit of three components on them split one mode in two, was adopted (its held-out rows come from the same
    /// window), and the model forgot the third mode. The refit now improves what the window shows (its two halves merged) and
    /// keeps the component whose mode the window does not show as it was.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Apply_ModesArriveInRunsLongerThanTheWindow_RefitKeepsTheModesTheWindowDoesNotShow(int seed)
    {
        var core = new ModelCore(Gmm(window: 2_000, refitEvery: 8_000, halfLife: null) with { Seed = (ulong)seed }, 1);
        Feed(core, Mixture(5_000, seed));

        // 4,000 rows of the (0, 0) and (4, 4) modes only: the refit at 8,000 fits a window of them only. Before, seed 2's refit
        // was adopted and left no component near (-4, 3); seeds 1 and 3 were refused as degenerate.
        var rng = new Random(seed + 10);
        var run = new double[8_000];
        for (var i = 0; i < 4_000; i++)
        {
            var at = rng.Next(2) * 4.0;
            run[i * 2] = at + Gaussian(rng);
            run[(i * 2) + 1] = at + (0.7 * Gaussian(rng));
        }

        var events = Feed(core, new DataMatrix(run, 4_000, 2));
        var refit = Assert.Single(events, e => e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected);

        // Every mode still has a component within 0.5 of its mean.
        var means = core.Gmm!.Model.Means.ToArray();
        foreach (var (x, y) in new[] { (0.0, 0.0), (4.0, 4.0), (-4.0, 3.0) })
        {
            var nearest = Enumerable.Range(0, 3).Min(k => Math.Sqrt(Math.Pow(means[k * 2] - x, 2) + Math.Pow(means[(k * 2) + 1] - y, 2)));
            Assert.True(nearest < 0.5, $"no component near ({x}, {y}): means [{string.Join(", ", means.Select(v => v.ToString("F2")))}]; {refit.Type}: {refit.Message}");
        }
    }

    /// <summary>One calm regime (sd 0.5) alone, and one volatile (sd 3): runs of a single regime.</summary>
    private static readonly GaussianHmm Calm = GaussianHmm.Create([1.0], [1.0], [0.0], [0.25], 1, 1, CovarianceType.Full);

    private static readonly GaussianHmm Stormy = GaussianHmm.Create([1.0], [1.0], [0.0], [9.0], 1, 1, CovarianceType.Full);

    /// <summary>An HMM refitted on a window of 5,000 rows every 5,000 rows.</summary>
    private static ModelDefinition RefitEvery5000(int dimension, int states, int seed) => new()
    {
        Kind = ModelKind.Hmm, Dimension = dimension, Components = states, Seed = (ulong)seed,
        Refit = new RefitPolicy { Window = 5_000, EveryObservations = 5_000, Restarts = 2 },
    };

    /// <summary>
    /// A market calm for longer than the refit window: the window's rows are all calm. A refit of two states on them split the
    /// calm regime in two, scored a little better on held-out rows of the same window, was adopted, and the model forgot the
    /// volatile regime: −9.5 and −8.3 nats/row on data like its own (seeds 1 and 2), against −1.65 and −1.53 for the truth,
    /// and 2,000 volatile rows later it still had no state of variance above 0.4. The refit now keeps the state whose regime
    /// the window does not show, with the transitions into it.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Apply_RegimesLastLongerThanTheWindow_RefitKeepsTheRegimeTheWindowDoesNotShow(int seed)
    {
        var definition = RefitEvery5000(1, 2, seed);
        var truth = GaussianHmm.Create([0.5, 0.5], [0.995, 0.005, 0.005, 0.995], [0.0, 0.0], [0.25, 9.0], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(20_000, (ulong)seed));

        // 12,000 calm rows: the refits at 25,000 and 30,000 see calm windows only.
        var events = Feed(core, Calm.Sample(12_000, (ulong)seed + 10));

        var refits = events.Where(e => e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected).ToList();
        Assert.Equal(2, refits.Count);
        var held = truth.Sample(20_000, (ulong)seed + 99);
        var gap = truth.Score(held) - core.Hmm!.Model!.Score(held);
        var describe = string.Join("; ", refits.Select(e => $"{e.Observations} {e.Type}: {e.Message}"));
        Assert.True(gap < 0.02, $"{gap:F4} nats/row from the truth on data like its own; {describe}");
        var variances = core.Hmm.Model.Covariances.ToArray();
        var volatileState = variances[0] > variances[1] ? 0 : 1;
        Assert.InRange(variances[volatileState], 7.0, 11.0);
        Assert.InRange(variances[1 - volatileState], 0.2, 0.3);

        // The volatile regime returns: the filter moves to its state.
        Feed(core, Stormy.Sample(300, (ulong)seed + 20));
        Assert.Equal(volatileState, core.Regime);
    }

    /// <summary>
    /// Three regimes in two columns; for 12,000 rows the machine switches between two of them only. The refits on those
    /// windows keep the third state as it was, with its transitions: adopted with the window's E-step statistics instead, the
    /// next rows gave the kept state of seed 2 the pooled statistics of the rest (mean (−2.5, 1.8) and a row of transitions
    /// 0.16, 0.09, 0.75), 0.065 nats/row from the truth.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(9)]
    public void Apply_TwoOfThreeRegimesForLongerThanTheWindow_RefitKeepsTheThirdWithItsTransitions(int seed)
    {
        var definition = RefitEvery5000(2, 3, seed);
        double[] means = [0, 0, 3, 3, -3, 2];
        double[] covariances = [1, 0.3, 0.3, 1, 0.5, 0, 0, 0.5, 2, -0.5, -0.5, 1];
        var truth = GaussianHmm.Create(
            [1 / 3.0, 1 / 3.0, 1 / 3.0], [0.99, 0.005, 0.005, 0.005, 0.99, 0.005, 0.01, 0.01, 0.98], means, covariances, 3, 2, CovarianceType.Full);
        var two = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], means[..4], covariances[..8], 2, 2, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(20_000, (ulong)seed));

        var events = Feed(core, two.Sample(12_000, (ulong)seed + 10));

        var model = core.Hmm!.Model!;
        var describe = string.Join("; ", events.Where(e => e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected).Select(e => $"{e.Observations} {e.Type}: {e.Message}"));
        Assert.Contains("kept as they were", describe);
        var held = truth.Sample(20_000, (ulong)seed + 99);
        var gap = truth.Score(held) - model.Score(held);
        Assert.True(gap < 0.01, $"{gap:F4} nats/row from the truth on data like its own; {describe}");
        var third = Enumerable.Range(0, 3).MinBy(k => Math.Abs(model.Means[k * 2] + 3) + Math.Abs(model.Means[(k * 2) + 1] - 2));
        Assert.True(Math.Abs(model.Means[third * 2] + 3) < 0.2 && Math.Abs(model.Means[(third * 2) + 1] - 2) < 0.2, $"the third regime's state is at ({model.Means[third * 2]:F2}, {model.Means[(third * 2) + 1]:F2})");
        Assert.InRange(model.Transitions[(third * 3) + third], 0.95, 1.0);
    }

    /// <summary>
    /// A market calm from the start: the warm-up and 20,000 rows show calm only, and the model's two states both sit on it.
    /// Then a volatile regime arrives. The drift alarm's refit held out the newest fifth of the window, which held every
    /// volatile row, so its candidate was fitted on calm rows alone and refused (−7.0 vs −6.7 nats/row); the online steps
    /// grew a volatile state slowly (variance 1.5 after 10,000 volatile rows), until the next refit by count, 50,000 rows
    /// later. It now fits the first half of the rows since the alarm and is judged on the rest.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Apply_RegimeNeverSeenBeforeArrives_TheDriftRefitLearnsIt(int seed)
    {
        var definition = new ModelDefinition { Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = (ulong)seed };
        var core = new ModelCore(definition, 1);
        Feed(core, Calm.Sample(20_000, (ulong)seed));

        var events = Feed(core, Stormy.Sample(2_000, (ulong)seed + 10));

        var drift = Assert.Single(events, e => e.Type == ModelEventType.Drift);
        var refit = Assert.Single(events, e => e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected);
        Assert.True(refit.Type == ModelEventType.RefitAdopted, $"{refit.Observations}: {refit.Message}");
        Assert.InRange(refit.Observations, drift.Observations + (2 * ModelCore.HeldOutAfterDrift), drift.Observations + 1_000);
        var variances = core.Hmm!.Model!.Covariances.ToArray();
        var wide = variances[0] > variances[1] ? 0 : 1;
        Assert.InRange(variances[wide], 7.0, 11.0);
        Assert.InRange(variances[1 - wide], 0.2, 0.3);
        Assert.Equal(wide, core.Regime);
    }

    /// <summary>
    /// Every level of a three-regime stream jumps by (5, −5). The drift refit fitted the whole window, nearly all of it from
    /// before the jump, so its three states could not explain the rows after it: adopted at −7.7 nats/row where the truth
    /// scores −2.6, and 30,000 rows later the model was still 2.1 to 3.0 nats/row from the truth (the next refit by count
    /// was 50,000 rows away). The drift refit now fits the rows after the alarm (the states they do not show kept, none here:
    /// every regime moved) and is judged on the newest of them.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Apply_EveryRegimeMoves_TheDriftRefitFollowsThem(int seed)
    {
        var definition = new ModelDefinition { Kind = ModelKind.Hmm, Dimension = 2, Components = 3, Seed = (ulong)seed };
        double[] transitions = [0.98, 0.01, 0.01, 0.01, 0.98, 0.01, 0.02, 0.02, 0.96];
        double[] means = [0, 0, 3, 3, -3, 2];
        double[] covariances = [1, 0.3, 0.3, 1, 0.5, 0, 0, 0.5, 2, -0.5, -0.5, 1];
        var truth = GaussianHmm.Create([1 / 3.0, 1 / 3.0, 1 / 3.0], transitions, means, covariances, 3, 2, CovarianceType.Full);
        var moved = GaussianHmm.Create(
            [1 / 3.0, 1 / 3.0, 1 / 3.0], transitions, [.. means.Select((m, i) => m + (i % 2 == 0 ? 5 : -5))], covariances, 3, 2, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(20_000, (ulong)seed));

        var events = Feed(core, moved.Sample(6_000, (ulong)seed + 5));

        var held = moved.Sample(20_000, (ulong)seed + 99);
        var gap = moved.Score(held) - core.Hmm!.Model!.Score(held);
        var describe = string.Join("; ", events.Where(e => e.Type is not ModelEventType.RegimeChanged).Select(e => $"{e.Observations} {e.Type}: {e.Message}"));
        Assert.True(gap < 0.05, $"{gap:F4} nats/row from the moved truth 6,000 rows after the jump; {describe}");
    }

    [Fact]
    public void Restore_DriftRefitInFlight_AppliesItsResultAsTheUninterruptedModelDoes()
    {
        // The drift refit fits the rows after the alarm only; a silo that restarts while it runs must judge and adopt its
        // result on the same rows (the first fitted row is in the state since version 4).
        var definition = new ModelDefinition { Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 4 };
        var core = new ModelCore(definition, 1);
        Feed(core, Calm.Sample(20_000, 4));
        Feed(core, Stormy.Sample(1_000, 5), runRefits: false);
        Assert.True(core.RefitInFlight);
        var job = core.ResumeRefit()!;
        var parameters = RefitCodec.Run(job, default);

        var restored = ModelCore.Restore(definition, core.Save());
        var resumed = restored.ResumeRefit()!;
        var a = core.Apply(Result(1, job.Sequence, parameters, T0), "m").Events!.Single();
        var b = restored.Apply(Result(1, resumed.Sequence, parameters, T0), "m").Events!.Single();

        Assert.Equal(job.Window.Values.ToArray(), resumed.Window.Values.ToArray());
        Assert.Equal(ModelEventType.RefitAdopted, a.Type);
        Assert.Equal((a.Type, a.Before, a.After, a.Message), (b.Type, b.Before, b.After, b.Message));
        Assert.Equal(core.Save(), restored.Save());
    }

    [Fact]
    public void Apply_HmmMeansJump_DriftEventThenARefitJudgedOnPostChangeRows()
    {
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1, HalfLife = 4_000,
            Refit = new RefitPolicy { Window = 3_000, EveryObservations = null, Restarts = 1 },
        };
        var before = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.0, 0.0], [1e-4, 9e-4], 2, 1, CovarianceType.Full);
        var after = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.03, 0.97], [0.1, -0.1], [1e-4, 9e-4], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, before.Sample(6_000, 3));
        Assert.Equal(0, core.Health.Drifts);

        var events = Feed(core, after.Sample(2_000, 4));

        var drift = Assert.Single(events, e => e.Type == ModelEventType.Drift);
        Assert.InRange(drift.Observations, 6_001, 6_300);
        // The refit follows once enough post-change rows arrived to fit it on them and judge it on the newest 200 (adopted or
        // refused with a reason).
        var refit = Assert.Single(events, e => e.Type is ModelEventType.RefitAdopted or ModelEventType.RefitRejected);
        Assert.True(refit.Observations >= drift.Observations + ModelCore.HeldOutAfterDrift);
        Assert.False(string.IsNullOrEmpty(refit.Message));
    }

    [Fact]
    public void ApplyRefitResult_AnyCandidate_AdoptedOnlyWhenBetterOnHeldOutRowsAndNotDegenerate()
    {
        // Property: whatever the candidate (an honest refit, one with a component shrunk by 1e-3..1e-8, moved far away or
        // given almost no weight), it is adopted exactly when it scores better on the held-out rows and passes the degeneracy
        // check on the rows it was fitted on; a refusal always says why, and a refusal changes no parameter.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from shrink in Gen.Elements(1.0, 1e-3, 1e-8)
            from move in Gen.Elements(0.0, 30.0)
            from weight in Gen.Elements(0.3, 1e-4)
            select (seed, shrink, move, weight));
        Prop.ForAll(cases, c =>
        {
            var core = new ModelCore(Gmm(window: 1_000, refitEvery: null), 1);
            Feed(core, Mixture(3_000, c.seed));
            var job = core.Apply(Request(1, T0), "m").Refit!;
            var honest = RefitCodec.ToGmm(core.Definition, RefitCodec.Run(job, default));
            var weights = honest.Weights.ToArray();
            var means = honest.Means.ToArray();
            var covariances = honest.Covariances.ToArray();
            for (var i = 0; i < 4; i++)
            {
                covariances[i] *= c.shrink;
            }

            means[0] += c.move;
            weights[0] = c.weight;
            var total = weights.Sum();
            var candidate = GaussianMixture.Create(weights.Select(w => w / total).ToArray(), means, covariances, 3, 2, CovarianceType.Full);
            var before = core.Gmm!.Model.Means.ToArray();

            var e = core.Apply(Result(1, job.Sequence, RefitCodec.FromGmm(candidate), T0), "m").Events!.Single();

            var degenerate = Degeneracy.Check(candidate, job.Window) is not null;
            var adopted = e.Type == ModelEventType.RefitAdopted;
            return adopted == (!degenerate && e.After > e.Before)
                && !string.IsNullOrEmpty(e.Message)
                && (adopted || core.Gmm.Model.Means.SequenceEqual(before));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(20));
    }

    [Fact]
    public void Health_AfterRefitsAndRows_ReportsGapRateAndNoWarnings()
    {
        var core = new ModelCore(Gmm(refitEvery: 3_000), 1);
        Feed(core, Mixture(10_000, 11));
        var health = core.Health;
        Assert.NotNull(health.RefitGap);
        Assert.InRange(health.RefitGap!.Value, -0.05, 0.05); // a stationary stream: the online model is as good as a refit
        Assert.Empty(health.Warnings);
        Assert.Equal(100, health.ObservationsPerSecond!.Value, 1e-9); // 100 rows per simulated second

        var restored = ModelCore.Restore(core.Definition, core.Save());
        Assert.Equal(core.Save(), restored.Save());
        Assert.Equal(health.RefitGap, restored.Health.RefitGap);
    }

    private static long _sequence;

    /// <summary>Two sticky regimes: column 0 near 1000 / 1010, column 1 near 500 / 520 (unit variances).</summary>
    private static readonly GaussianHmm TwoColumnRegimes =
        GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [1000, 500, 1010, 520], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full);

    private static DataMatrix WithoutColumn(DataMatrix rows, int column)
    {
        var values = rows.Values.ToArray();
        for (var i = column; i < values.Length; i += rows.Columns)
        {
            values[i] = double.NaN;
        }

        return new DataMatrix(values, rows.Rows, rows.Columns);
    }

    [Fact]
    public void Apply_StationaryCalmAndVolatileHmm_NoDriftEvents()
    {
        // A market that switches between calm (sd 0.5) and volatile (sd 3) and never changes otherwise. The drift test used the
        // raw loss −log p, which sits higher all through a volatile spell: a model with the HTTP defaults reported 15 drifts in
        // 40,000 rows of such a stream, each with a refit (here: 13 in 30,000, all through the stream). It tests the rows'
        // surprise now (loss minus its expectation).
        var definition = new ModelDefinition { Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1 };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [0.0, 0.0], [0.25, 9.0], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);

        var events = Feed(core, truth.Sample(30_000, 11));

        // Right after the 1,000-row warm-up the online estimate is still settling, and a drift there (with the refit it asks
        // for) is the model being wrong, which a refit mends; once settled, a stream that does not change raises none.
        var drifts = events.Where(e => e.Type == ModelEventType.Drift).Select(e => e.Observations).ToList();
        Assert.True(drifts.All(o => o <= 5_000), $"drifts at {string.Join(", ", drifts)}");
        Assert.True(drifts.Count <= 2, $"drifts at {string.Join(", ", drifts)}");
    }

    [Fact]
    public void Restore_StateVersion2_KeepsTheModelAndCounts_StartsAFreshDriftDetector()
    {
        var definition = new ModelDefinition { Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Seed = 1 };
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [0.0, 0.0], [0.25, 9.0], 2, 1, CovarianceType.Full);
        var core = new ModelCore(definition, 1);
        Feed(core, truth.Sample(3_000, 12));
        var state = core.Save();
        Assert.Equal(4, state[0]);
        state = state[..^sizeof(long)]; // version 4 appended the drift refit's first fitted observation
        state[0] = 2; // the layout is otherwise unchanged; only what the stored detector learned differs

        var restored = ModelCore.Restore(definition, state);

        Assert.Equal(core.Observations, restored.Observations);
        Assert.Equal(core.Hmm!.Model!.Transitions.ToArray(), restored.Hmm!.Model!.Transitions.ToArray());
        Assert.Equal(core.Health.Drifts, restored.Health.Drifts);
        Assert.NotEqual(core.Save(), restored.Save()); // the version-4 state carries its detector; the restored one starts afresh
    }

    private static ModelDefinition TwoColumnHmm(int window) => new()
    {
        Kind = ModelKind.Hmm, Dimension = 2, Components = 2, Seed = 1, Refit = new RefitPolicy { Window = window, EveryObservations = null, Restarts = 1 },
    };

    [Fact]
    public void ApplyObservations_HmmBufferWithAColumnNeverObserved_WaitsCountingEveryRowOnceAndSaysWhy()
    {
        // Column 1 is missing from the first 1,200 rows, past the HMM's 1,000-row buffer. Its buffer fit used to run at row
        // 1,000 anyway and invent μ = 0, σ² = 1 for the column. Now the model stays warming up, says why, counts every row
        // once (the core's count and the estimator's agree), and fits as soon as the column is observed.
        var rows = TwoColumnRegimes.Sample(1_300, 3);
        var core = new ModelCore(TwoColumnHmm(2_000), 1);
        var blind = WithoutColumn(new DataMatrix(rows.Values[..(1_200 * 2)].ToArray(), 1_200, 2), 1);

        Feed(core, blind, runRefits: false);

        Assert.True(core.WarmingUp);
        Assert.True(core.WarmUpRemaining >= 1);
        Assert.Equal(1_200, core.Observations);
        Assert.Equal(1_200, core.Hmm!.Observations);
        Assert.Contains(core.Health.Warnings, w => w.Contains("column 1 has fewer than 2 observed values"));

        var events = Feed(core, new DataMatrix(rows.Values[(1_200 * 2)..].ToArray(), 100, 2), runRefits: false);

        Assert.Contains(events, e => e.Type == ModelEventType.Ready);
        Assert.False(core.WarmingUp);
        Assert.Equal(1_300, core.Observations);
        Assert.Equal(1_300, core.Hmm.Observations);
        Assert.Equal(1_000 + 98, core.Hmm.StatisticsCount); // the buffer replayed once, then the rows after the second observed one
        Assert.DoesNotContain(core.Health.Warnings, w => w.Contains("observed value"));
        var model = core.Hmm.Model!;
        Assert.All([model.Means[1], model.Means[3]], m => Assert.InRange(m, 490, 530));
    }

    [Fact]
    public void ApplyRefitResult_HmmWindowWithAColumnNeverObserved_RefitFailsAndTheModelKeepsItsColumn()
    {
        // The window of an HMM whose column 1 stopped arriving: the refit used to "estimate" that column anyway (its restart
        // from k-means at μ = 0, σ² = 1, the warm start at the old values unchecked), and the held-out rows, missing the column
        // too, could not tell. Baum–Welch now refuses it; the grain records the refit as failed (an empty result).
        var rows = TwoColumnRegimes.Sample(3_000, 4);
        var core = new ModelCore(TwoColumnHmm(1_000), 1);
        Feed(core, new DataMatrix(rows.Values[..(1_500 * 2)].ToArray(), 1_500, 2));
        Feed(core, WithoutColumn(new DataMatrix(rows.Values[(1_500 * 2)..].ToArray(), 1_500, 2), 1));
        var before = core.Hmm!.Model!.Means.ToArray();

        var job = core.Apply(Request(1, T0), "m").Refit!;
        var failure = Assert.Throws<ArgumentException>(() => RefitCodec.Run(job, default));
        Assert.Contains("column 1 has no observed value", failure.Message);
        var e = Assert.Single(core.Apply(Result(1, job.Sequence, [], T0), "m").Events!);

        Assert.Equal(ModelEventType.RefitRejected, e.Type);
        Assert.Equal("the refit failed", e.Message);
        Assert.Equal(0, core.Refits);
        Assert.Equal(before[1], core.Hmm.Model!.Means[1]);
        Assert.Equal(before[3], core.Hmm.Model!.Means[3]);
    }

    [Fact]
    public void ApplyObservations_GmmRecordWithAColumnNeverObserved_CountsEveryRowOnceWarnsThenReadyAcrossARestart()
    {
        // One record of 700 rows without column 1, applied in batches of 64: the batch that completed the 500-row warm-up used to
        // be refused by the online GMM, so the grain skipped the record after its first 448 rows were already in the estimator
        // (the core counted none of them, and the rest were lost). Now every row is counted once by the core and the estimator,
        // the model warms up past its size saying why, a restart restores the waiting state, and the model is ready once the
        // column arrives.
        var rows = Mixture(1_000, 12);
        var core = new ModelCore(Gmm(refitEvery: null), 1);
        var blind = WithoutColumn(new DataMatrix(rows.Values[..(700 * 2)].ToArray(), 700, 2), 1);

        Assert.Empty(Feed(core, blind, record: 700, runRefits: false));

        Assert.True(core.WarmingUp);
        Assert.Equal(1, core.WarmUpRemaining);
        Assert.Equal(700, core.Observations);
        Assert.Equal(700, core.Gmm!.Observations);
        Assert.Equal(700, core.WindowCount);
        Assert.Contains(core.Health.Warnings, w => w.Contains("column 1 has fewer than 2 observed values"));

        var restarted = ModelCore.Restore(core.Definition, core.Save());
        Assert.True(restarted.WarmingUp);
        Assert.Equal(700, restarted.Gmm!.Observations);

        var rest = new DataMatrix(rows.Values[(700 * 2)..].ToArray(), 300, 2);
        var events = Feed(core, rest, runRefits: false);
        var eventsAfterRestart = Feed(restarted, rest, runRefits: false);

        foreach (var (c, e) in new[] { (core, events), (restarted, eventsAfterRestart) })
        {
            Assert.Single(e, x => x.Type == ModelEventType.Ready);
            Assert.False(c.WarmingUp);
            Assert.Equal(1_000, c.Observations);
            Assert.Equal(1_000, c.Gmm!.Observations);
            Assert.DoesNotContain(c.Health.Warnings, w => w.Contains("observed value"));
        }

        Assert.Equal(core.Gmm.Model.Means.ToArray(), restarted.Gmm.Model.Means.ToArray());
    }

    private static ModelStreamRecord Obs(long generation, DataMatrix rows, DateTimeOffset at) =>
        ModelStreamRecord.Observations("p", Interlocked.Increment(ref _sequence), generation, rows, at);

    private static ModelStreamRecord Request(long generation, DateTimeOffset at) =>
        ModelStreamRecord.RefitRequest(ModelGrain.ControlProducer, Interlocked.Increment(ref _sequence), generation, at);

    private static ModelStreamRecord Result(long generation, long refitSequence, double[] parameters, DateTimeOffset at) =>
        ModelStreamRecord.RefitResult(ModelGrain.ControlProducer, Interlocked.Increment(ref _sequence), generation, refitSequence, parameters, at);
}
