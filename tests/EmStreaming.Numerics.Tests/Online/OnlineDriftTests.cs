using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// Drift recovery (issue 11): with a half-life of 2,000 rows, forgetting alone leaves a component whose data moved away at its
/// old mean for tens of thousands of rows; the Page–Hinkley alarm and the refit on post-change rows must bring the model back
/// within 0.05 nats/row of the true new parameters within 5,000 rows of the change.
/// </summary>
public sealed class OnlineDriftTests
{
    private const int Jump = 20_000;
    private const int After = 5_000;
    private const double HalfLife = 2_000;

    public static TheoryData<string, int> Jumps => new()
    {
        { "all means shift by (6, -5)", 1 },
        { "all means shift by (6, -5)", 2 },
        { "means move to new random places", 3 },
        { "means move to new random places", 4 },
        { "components swap places and one moves far", 5 },
    };

    /// <summary>
    /// Feeds <see cref="Jump"/> rows of <paramref name="before"/> then <see cref="After"/> of <paramref name="after"/> in
    /// mini-batches of 64; returns the model's gap to the truth, in nats/row, on 20,000 held-out rows of the new mixture.
    /// </summary>
    private static double GapAfterJump(OnlineGaussianMixture model, SyntheticMixture before, SyntheticMixture after, int seed)
    {
        var rows = before.Sample(Jump, seed).Concat(after.Sample(After, seed + 100)).ToArray();
        Feed(model, rows);

        var held = new DataMatrix(after.Sample(20_000, seed + 200), 20_000, 2);
        return after.ToModel().Score(held) - model.Model.Score(held);
    }

    /// <summary>Feeds two-column rows to the model in mini-batches of 64, as a stream delivers them.</summary>
    private static void Feed(OnlineGaussianMixture model, ReadOnlySpan<double> rows)
    {
        for (var i = 0; i < rows.Length / 2; i += 64)
        {
            model.Update(rows.Slice(i * 2, Math.Min(64, (rows.Length / 2) - i) * 2));
        }
    }

    [Theory]
    [MemberData(nameof(Jumps))]
    public void Update_AllMeansJumpHalfLife2000_Within005NatsOfTruthWithin5000Rows(string kind, int seed)
    {
        var before = SyntheticMixture.ThreeComponents2D();
        var after = kind switch
        {
            "all means shift by (6, -5)" => before.Shifted([6.0, -5.0]),
            "means move to new random places" => before with { Means = SyntheticMixture.Random(3, 2, (ulong)seed, spread: 8).Means },
            _ => before with { Means = [4.0, 4.0, 0.0, 0.0, 12.0, -9.0] },
        };
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = (ulong)seed }, 2);
        var gap = GapAfterJump(model, before, after, seed);
        Assert.True(gap < 0.05, $"{kind}, seed {seed}: gap {gap:F4} nats/row after {After} rows (drifts {model.DriftsDetected}, refits {model.DriftRefits})");
        Assert.True(model.DriftsDetected >= 1);
        Assert.InRange(model.LastDriftObservation, Jump + 1, Jump + 500);
    }

    /// <summary>
    /// A jump of 1e8 or 1e9 standard deviations (a sensor re-zeroed, a reading in another offset): the statistics of the adopted
    /// refit used to be taken about the warm-up's origin, and their second moments cancelled to nothing (gap 1.9 nats/row at
    /// 1e8; at 1e9 the adoption failed and a covariance of 6e16 stayed). They are taken about the window's centre now.
    /// </summary>
    [Theory]
    [InlineData(1e8)]
    [InlineData(1e9)]
    [InlineData(-3e10)]
    public void Update_JumpOfManyStandardDeviations_Within005NatsOfTruthWithin5000Rows(double shift)
    {
        var before = SyntheticMixture.ThreeComponents2D();
        var after = before.Shifted([shift, -shift]);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = 1 }, 2);
        var gap = GapAfterJump(model, before, after, 1);
        Assert.True(gap < 0.05, $"shift {shift}: gap {gap:F4} nats/row (drifts {model.DriftsDetected}, refits {model.DriftRefits})");
        Assert.Equal(1, model.DriftRefits);
    }

    /// <summary>
    /// The same bar with a warm-up set far below the automatic one (the least a definition allows, K × (d + 1) = 9 rows, and
    /// 20): the refit after the alarm used to collect only that many post-change rows, was refused as degenerate or adopted
    /// while far off, and the model stayed 0.07 to 1.3 nats/row from the new truth. It now collects at least 10 rows per
    /// free parameter.
    /// </summary>
    [Theory]
    [InlineData(9, 1)]
    [InlineData(9, 3)]
    [InlineData(20, 2)]
    [InlineData(20, 4)]
    public void Update_SmallWarmUp_AfterAJump_Within005NatsOfTruthWithin5000Rows(int warmUp, int seed)
    {
        var before = SyntheticMixture.ThreeComponents2D();
        var after = seed % 2 == 0 ? before.Shifted([6.0, -5.0]) : before with { Means = SyntheticMixture.Random(3, 2, (ulong)seed, spread: 8).Means };
        var model = OnlineGaussianMixture.Create(
            new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = (ulong)seed, WarmUpObservations = warmUp }, 2);
        var gap = GapAfterJump(model, before, after, seed);
        Assert.True(gap < 0.05, $"warm-up {warmUp}, seed {seed}: gap {gap:F4} nats/row after {After} rows (drifts {model.DriftsDetected}, refits {model.DriftRefits})");
    }

    [Fact]
    public void Update_NoDetection_StaysFarFromTruthAfter5000Rows()
    {
        // The same jump with the detector off: the bar above is not met by forgetting alone (what the detector fixes).
        var before = SyntheticMixture.ThreeComponents2D();
        var after = before.Shifted([6.0, -5.0]);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = 1, DetectDrift = false }, 2);
        Assert.True(GapAfterJump(model, before, after, 1) > 0.05);
    }

    [Theory]
    [InlineData(0.8, 1)]
    [InlineData(0.8, 2)]
    public void Update_StationaryStream_RaisesNoAlarm(double alpha, int seed)
    {
        var truth = SyntheticMixture.Random(4, 3, (ulong)seed);
        var rows = truth.Sample(200_000, seed);
        foreach (var schedule in new[] { StepSizeSchedule.Decaying(alpha), StepSizeSchedule.FromHalfLife(500) })
        {
            var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 4, StepSize = schedule, Seed = (ulong)seed }, 3);
            for (var i = 0; i < 200_000; i += 64)
            {
                model.Update(rows.AsSpan(i * 3, 64 * 3));
            }

            Assert.Equal(0, model.DriftsDetected);
        }
    }

    [Fact]
    public void SaveState_WhileCollectingPostChangeRows_RestoredContinuesBitIdentically()
    {
        var before = SyntheticMixture.ThreeComponents2D();
        var rows = before.Sample(3_000, 1).Concat(before.Shifted([6.0, -5.0]).Sample(2_000, 2)).ToArray();
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife) }, 2);
        var i = 0;
        for (; !model.IsRecoveringFromDrift; i += 32)
        {
            Assert.True(i < 5_000 - 32, "the jump was never detected");
            model.Update(rows.AsSpan(i * 2, 64));
        }

        var copy = OnlineGaussianMixture.Restore(model.SaveState());
        Assert.Equal(model.SaveState(), copy.SaveState());
        for (; i + 32 <= 5_000; i += 32)
        {
            model.Update(rows.AsSpan(i * 2, 64));
            copy.Update(rows.AsSpan(i * 2, 64));
        }

        Assert.False(model.IsRecoveringFromDrift);
        Assert.Equal(1, model.DriftRefits);
        Assert.Equal(model.SaveState(), copy.SaveState());
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>
    /// Feeds <paramref name="loss"/>(0, 1, …) and says whether the detector alarms within 1.5 λ / (min(rise, clip) − δ) + 10
    /// rows: the expected delay of a rise of <paramref name="rise"/> spreads is λ / (min(rise, clip) − δ), and the slack covers
    /// the noise accumulated on the way (+∞: a rise past the clip, as any rise is from a reference with no spread).
    /// </summary>
    private static bool RiseCaught(PageHinkley detector, double rise, Func<int, double> loss)
    {
        var bound = (int)Math.Ceiling(1.5 * detector.Lambda / (Math.Min(rise, detector.Clip) - detector.Delta)) + 10;
        for (var t = 0; t < bound; t++)
        {
            if (detector.Add(loss(t)))
            {
                return true;
            }
        }

        return false;
    }

    [Fact]
    public void PageHinkley_StationaryNoise_NoAlarm_And_SustainedRise_AlarmWithinBound()
    {
        // Property: for any seed, noise scale and level, no alarm on 20,000 stationary rows (Gaussian or χ²-like losses);
        // after a sustained rise of Δ ≥ 2 standard deviations the alarm comes within 1.5 λ / (min(Δ, clip) − δ) + 10 rows
        // (the expected delay is λ / (min(Δ, clip) − δ); the slack covers the noise accumulated on the way).
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from level in Gen.Elements(-50.0, 0.0, 3.0)
            from rise in Gen.Elements(2.0, 4.0, 20.0, 1e6)
            from chiSquare in Gen.Elements(true, false)
            select (seed, scale, level, rise, chiSquare));
        Prop.ForAll(cases, c =>
        {
            var rng = new Random(c.seed);
            var detector = new PageHinkley();
            double Noise()
            {
                var z = Gaussian(rng);
                return c.chiSquare ? ((z * z) - 1) / Math.Sqrt(2) : z;
            }

            for (var t = 0; t < 20_000; t++)
            {
                if (detector.Add(c.level + (c.scale * Noise())))
                {
                    return false;
                }
            }

            return RiseCaught(detector, c.rise, _ => c.level + (c.scale * (c.rise + Noise())));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void PageHinkley_OneGlitchAmongTheStationaryRows_NoAlarmAndTheRiseStillCaught()
    {
        // One glitch reading's loss (10³ to 10¹⁵ standard deviations) used to enter the reference mean and spread whole: the
        // spread became about glitch / √n, every later rise standardized to about 0, and the detector was blind for good.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from glitch in Gen.Elements(1e3, 1e8, 1e15)
            from at in Gen.Choose(10, 19_000)
            from rise in Gen.Elements(2.0, 20.0)
            select (seed, scale, glitch, at, rise));
        Prop.ForAll(cases, c =>
        {
            var rng = new Random(c.seed);
            var detector = new PageHinkley();
            double Noise() => Gaussian(rng);
            for (var t = 0; t < 20_000; t++)
            {
                if (detector.Add(c.scale * (t == c.at ? c.glitch : Noise())))
                {
                    return false;
                }
            }

            return RiseCaught(detector, c.rise, _ => c.scale * (c.rise + Noise()));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void PageHinkley_OneGlitchAmongTheFirstRows_NoAlarmAndTheRiseStillCaught()
    {
        // The reference clips what it learns by its own spread, which needs rows to exist: a glitch among the first ten rows
        // after a reset (a model's first rows after its warm-up fit, or after a drift refit) entered the reference whole and
        // blinded the detector, as one anywhere did before §17. Also across a save and restore in the middle of those rows.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from glitch in Gen.Elements(1e3, 1e8, 1e15, -1e3)
            from at in Gen.Choose(0, 9)
            from savedAt in Gen.Choose(0, 12)
            from reset in Gen.Elements(true, false)
            from rise in Gen.Elements(2.0, 20.0)
            select (seed, scale, glitch, at, savedAt, reset, rise));
        Prop.ForAll(cases, c =>
        {
            var rng = new Random(c.seed);
            var detector = new PageHinkley();
            double Noise() => Gaussian(rng);
            if (c.reset)
            {
                for (var t = 0; t < 1_000; t++)
                {
                    detector.Add(c.scale * (5 + Noise()));
                }

                detector.Reset();
            }

            for (var t = 0; t < 20_000; t++)
            {
                if (t == c.savedAt)
                {
                    detector = PageHinkley.Restore(detector.Save());
                }

                if (detector.Add(c.scale * (t == c.at ? c.glitch : Noise())))
                {
                    return false;
                }
            }

            return RiseCaught(detector, c.rise, _ => c.scale * (c.rise + Noise()));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void PageHinkley_IdenticalLossesFirst_ARiseIsStillCaught()
    {
        // A reference that learned only identical losses (a stuck sensor, identical rows) has no spread. Every loss was then
        // standardized to 0 and learned clipped to zero width, so nothing could ever raise an alarm again.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from level in Gen.Elements(-50.0, 0.0, 3.0)
            from identical in Gen.Elements(200, 201, 1_000, 5_000)
            from rise in Gen.Elements(2.0, 20.0)
            select (seed, scale, level, identical, rise));
        Prop.ForAll(cases, c =>
        {
            var rng = new Random(c.seed);
            var detector = new PageHinkley();
            double Noise() => Gaussian(rng);
            for (var t = 0; t < c.identical; t++)
            {
                if (detector.Add(c.level))
                {
                    return false;
                }
            }

            // The rows a reset leaves to learning (MinimumRows) all identical, then a rise: from a reference with no spread any
            // rise is past the clip, so the expected delay is λ / (clip − δ). (A rise within the learning rows becomes the
            // reference, with any reference.)
            return RiseCaught(detector, double.PositiveInfinity, _ => c.level + (c.scale * (c.rise + Noise())));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void PageHinkley_MostLossesIdentical_NoAlarmAndARiseIsCaught()
    {
        // Rows that mostly repeat one value (a machine that is mostly off, a sensor that mostly reads 0): most losses are the
        // same and the rest higher. After ten identical ones the reference has no spread; it must learn the spread from the
        // first loss that differs, not flag every such loss as a rise past the clip, nor clip them all to zero width.
        var cases = Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from scale in Gen.Elements(1e-3, 1.0, 1e4)
            from level in Gen.Elements(-50.0, 0.0, 3.0)
            from other in Gen.Elements(0.05, 0.2, 0.5)
            select (seed, scale, level, other));
        Prop.ForAll(cases, c =>
        {
            var rng = new Random(c.seed);
            var detector = new PageHinkley();
            double Loss(int t) => t < 10 || rng.NextDouble() >= c.other
                ? c.level
                : c.level + (c.scale * (1 + (3 * Math.Abs(Gaussian(rng)))));
            for (var t = 0; t < 20_000; t++)
            {
                if (detector.Add(Loss(t)))
                {
                    return false;
                }
            }

            return RiseCaught(detector, double.PositiveInfinity, t => Loss(t + 20_000) + (20 * c.scale));
        }).QuickCheckThrowOnFailure();
    }

    public static TheoryData<int, double> StuckSensors => new()
    {
        { 1, 0 },
        { 1, 1_000 },
        { 3, 0 },
        { 3, 1_000 },
    };

    [Theory]
    [MemberData(nameof(StuckSensors))]
    public void Update_SensorStuckThenBack_TheModelIsBackWithin1024Rows(int k, double halfLife)
    {
        // 10,000 rows, then 5,000 identical rows (a stuck sensor: the detector alarms and the model refits on them), then the
        // sensor works again. Measured with the detector that could not leave a reference of identical losses: no second
        // alarm, and after 1,024 rows the model was still 0.66–1.02 (K = 1) and 1.19–1.50 (K = 3) nats/row from the data;
        // after 20,000 rows, with a decaying step, 0.40 (K = 3).
        var truth = k == 1
            ? GaussianMixture.Create([1.0], [0, 0], [1, 0.3, 0.3, 1], 1, 2, CovarianceType.Full)
            : GaussianMixture.Create([0.3, 0.3, 0.4], [0, 0, 5, 5, -5, 5], [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1], 3, 2, CovarianceType.Full);
        var model = OnlineGaussianMixture.Create(
            new OnlineGmmOptions { Components = k, Seed = 1, StepSize = halfLife > 0 ? StepSizeSchedule.FromHalfLife(halfLife) : StepSizeSchedule.Decaying() }, 2);
        Feed(model, truth.Sample(10_000, 1).Values);
        Feed(model, Enumerable.Range(0, 10_000).Select(i => i % 2 == 0 ? 1.5 : 2.5).ToArray());
        var stuckDrifts = model.DriftsDetected;
        Feed(model, truth.Sample(1_024, 3).Values);
        var held = truth.Sample(4_000, 2);
        var gap = truth.Score(held) - model.Model.Score(held);
        Assert.True(gap < 0.1, $"K={k}, half-life {halfLife}: {gap:F3} nats/row from the data 1,024 rows after the sensor came back (drifts {model.DriftsDetected}, refits {model.DriftRefits})");
        Assert.True(model.DriftsDetected > stuckDrifts, "the sensor's return raised no alarm");
    }

    [Theory]
    [InlineData(512)]
    [InlineData(515)]
    [InlineData(521)]
    public void Update_GlitchRightAfterTheWarmUpFit_TheJumpIsStillCaught(int at)
    {
        // The warm-up fit takes the first 512 rows here (the batch in which the 500-row warm-up is reached); the detector's
        // reference starts with the rows after it, and a glitch among its first ten (rows 512 to 521, 0-based) entered it
        // whole: measured with the glitch at each of these rows, the alarm came 4,756 rows after the jump and no refit was adopted.
        var before = SyntheticMixture.ThreeComponents2D();
        var after = before.Shifted([30.0, 0.0]);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = 1 }, 2);
        var rows = before.Sample(Jump, 1).Concat(after.Sample(After, 101)).ToArray();
        rows[2 * at] = 1e3;
        Feed(model, rows);

        Assert.InRange(model.LastDriftObservation, Jump + 1, Jump + 500);
        Assert.Equal(1, model.DriftRefits);
    }

    [Fact]
    public void Update_GlitchThenAJump_TheAlarmComesAsWithoutTheGlitch()
    {
        // Measured before the fix: with a reading of 10³ anywhere before the jump the alarm came 4,672 rows after it, and the
        // model spent those rows about 3 nats/row from the new data.
        var before = SyntheticMixture.ThreeComponents2D();
        var after = before.Shifted([30.0, 0.0]);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = 1 }, 2);
        var rows = before.Sample(Jump, 1).Concat(after.Sample(After, 101)).ToArray();
        rows[2 * 5_000] = 1e3;
        Feed(model, rows);

        Assert.InRange(model.LastDriftObservation, Jump + 1, Jump + 500);
        Assert.Equal(1, model.DriftRefits);
    }

    [Theory]
    [InlineData(150, 1e3)]
    [InlineData(150, 1e6)]
    [InlineData(400, 1e6)]
    [InlineData(500, 1e12)]
    public void Update_GlitchAmongThePostChangeRows_TheRecoveryStillFitsTheNewData(int after, double glitch)
    {
        // The recovery fits the rows collected after the alarm (the warm-up's 500, from about 60 rows after the jump). A
        // glitch among them got a component of its own in the k-means++ fits, and the candidates were refused as degenerate
        // or lost on the held-out rows; the batch fits elsewhere (warm-up, refits) already move glitches to the edge of the rest.
        var before = SyntheticMixture.ThreeComponents2D();
        var afterMixture = before.Shifted([6.0, -5.0]);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = StepSizeSchedule.FromHalfLife(HalfLife), Seed = 1 }, 2);
        var rows = before.Sample(Jump, 1).Concat(afterMixture.Sample(After, 101)).ToArray();
        rows[2 * (Jump + after)] = glitch;
        Feed(model, rows);

        var held = new DataMatrix(afterMixture.Sample(20_000, 201), 20_000, 2);
        var gap = afterMixture.ToModel().Score(held) - model.Model.Score(held);
        Assert.True(gap < 0.05, $"glitch {glitch} at {after} rows after the jump: gap {gap:F4} nats/row (drifts {model.DriftsDetected}, refits {model.DriftRefits})");
    }
}
