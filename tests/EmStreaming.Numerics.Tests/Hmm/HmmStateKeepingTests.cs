using EmStreaming.Numerics.Hmm;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>A refit that keeps the states whose regimes its window does not show (<see cref="HmmStateKeeping"/>).</summary>
public sealed class HmmStateKeepingTests
{
    [Fact]
    public void Stationary_AnyChain_IsAFixedPointOfTheTransitions()
    {
        // Random rows, some of them almost absorbing (stay 1 − 10⁻⁹): π·A = π and Σπ = 1.
        var chains = Arb.From(
            from k in Gen.Choose(1, 6)
            from seed in Gen.Choose(0, 1_000_000)
            from sticky in Gen.Elements(0.0, 1e-3, 1e-9)
            select (k, seed, sticky));
        Prop.ForAll(chains, c =>
        {
            // Random rows; with a stickiness s, the diagonal is 1 − s and s is spread over the rest of the row.
            var rng = new Random(c.seed);
            var a = new double[c.k * c.k];
            for (var i = 0; i < c.k; i++)
            {
                var row = a.AsSpan(i * c.k, c.k);
                for (var j = 0; j < c.k; j++)
                {
                    row[j] = c.sticky > 0 && i == j ? 0 : 0.05 + rng.NextDouble();
                }

                var sum = row.ToArray().Sum();
                var scale = c.sticky > 0 && c.k > 1 ? c.sticky : 1.0;
                for (var j = 0; j < c.k; j++)
                {
                    row[j] = row[j] / sum * scale;
                }

                if (c.sticky > 0 && c.k > 1)
                {
                    row[i] = 1 - c.sticky;
                }
                else if (c.k == 1)
                {
                    row[0] = 1;
                }
            }

            var pi = HmmStateKeeping.Stationary(a, c.k);
            var worst = 0.0;
            for (var j = 0; j < c.k; j++)
            {
                var next = 0.0;
                for (var i = 0; i < c.k; i++)
                {
                    next += pi[i] * a[(i * c.k) + j];
                }

                worst = Math.Max(worst, Math.Abs(next - pi[j]));
            }

            return Math.Abs(pi.Sum() - 1) < 1e-9 && pi.All(p => p >= 0) && worst < 1e-9;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Fact]
    public void Stationary_TwoStateChain_IsTheClosedForm()
    {
        // π = (b, a) / (a + b) for leave probabilities a and b.
        var pi = HmmStateKeeping.Stationary([0.995, 0.005, 0.02, 0.98], 2);
        Assert.Equal(0.8, pi[0], 1e-12);
        Assert.Equal(0.2, pi[1], 1e-12);
    }

    /// <summary>One calm regime (sd 0.5) alone, and one volatile (sd 3).</summary>
    private static readonly GaussianHmm Calm = GaussianHmm.Create([1.0], [1.0], [0.0], [0.25], 1, 1, CovarianceType.Full);

    private static readonly GaussianHmm Stormy = GaussianHmm.Create([1.0], [1.0], [0.0], [9.0], 1, 1, CovarianceType.Full);

    private static readonly GaussianHmm ThreeRegimes = GaussianHmm.Create(
        [0.2, 0.3, 0.5], [0.99, 0.006, 0.004, 0.005, 0.99, 0.005, 0.02, 0.01, 0.97],
        [0, 0, 3, 3, -3, 2], [1, 0.3, 0.3, 1, 0.5, 0, 0, 0.5, 2, -0.5, -0.5, 1], 3, 2, CovarianceType.Full);

    [Fact]
    public void Absent_RowsOfTwoRegimes_NameTheThird()
    {
        var two = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], ThreeRegimes.Means[..4], ThreeRegimes.Covariances[..8], 2, 2, CovarianceType.Full);

        Assert.Equal([2], HmmStateKeeping.Absent(ThreeRegimes, two.Sample(4_000, 1)));
        Assert.Empty(HmmStateKeeping.Absent(ThreeRegimes, ThreeRegimes.Sample(4_000, 2)));
    }

    [Fact]
    public void Keep_CandidateSplitsOneRegime_HalvesMergeUnderTheCurrentLabelsAndTheKeptStateIsUnchanged()
    {
        // The window showed regimes 0 and 1 only; its fit split regime 1 (at (3, 3)) in two halves along x, and numbered its
        // states in another order. The result: regime 0 and the merged halves under labels 0 and 1, state 2 exactly as it was,
        // and the current probability of entering it from each.
        var candidate = GaussianHmm.Create(
            [0.3, 0.3, 0.4], [0.98, 0.01, 0.01, 0.01, 0.98, 0.01, 0.005, 0.005, 0.99],
            [3.5, 3, 2.5, 3, 0, 0], [0.25, 0, 0, 0.5, 0.25, 0, 0, 0.5, 1, 0.3, 0.3, 1], 3, 2, CovarianceType.Full);
        var two = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], ThreeRegimes.Means[..4], ThreeRegimes.Covariances[..8], 2, 2, CovarianceType.Full);
        var fitted = two.Sample(4_000, 3);

        var kept = HmmStateKeeping.Keep(ThreeRegimes, candidate, fitted, [2], maxCostPerWeight: 0.5)!;

        Assert.NotNull(kept);
        Assert.Equal(ThreeRegimes.Means[4..].ToArray(), kept.Means[4..].ToArray());
        Assert.Equal(ThreeRegimes.Covariances[8..].ToArray(), kept.Covariances[8..].ToArray());
        Assert.Equal(ThreeRegimes.Transitions[6..].ToArray(), kept.Transitions[6..].ToArray());
        Assert.Equal(0, kept.Means[0], 1e-9);
        Assert.Equal(3, kept.Means[2], 0.1); // the halves' weighted mean
        Assert.Equal(3, kept.Means[3], 1e-9);
        Assert.True(kept.FullCovariance(1)[0] > 0.4, $"merged variance along x {kept.FullCovariance(1)[0]}: the halves' spread is in it");
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(ThreeRegimes.Transitions[(i * 3) + 2], kept.Transitions[(i * 3) + 2], 1e-12);
            Assert.Equal(1.0, kept.Transitions.Slice(i * 3, 3).ToArray().Sum(), 1e-12);
        }

        // Regime 0 stays where the candidate put it: 0.99 of its row (scaled by what entering state 2 takes).
        Assert.Equal(0.99 * (1 - ThreeRegimes.Transitions[2]), kept.Transitions[0], 1e-9);
    }

    [Fact]
    public void Keep_WindowShowsANewRegime_NullSoTheCandidateIsJudgedAsItIs()
    {
        // The window shows regime 0 and a new regime at (3, −3), which state 0 explains best of the three; its fit split the
        // new one in two. States 1 and 2 are absent, and state 0's rows are half foreign to it (3 nats per column more
        // surprising than its own on average); making room would merge distinct regimes: nothing is kept.
        var moved = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [0, 0, 3, -3], [1, 0.3, 0.3, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full);
        var rows = moved.Sample(4_000, 4);
        var candidate = GaussianHmm.Create(
            [0.3, 0.3, 0.4], [0.98, 0.01, 0.01, 0.01, 0.98, 0.01, 0.005, 0.005, 0.99],
            [0, 0, 3.5, -3, 2.5, -3], [1, 0.3, 0.3, 1, 0.25, 0, 0, 1, 0.25, 0, 0, 1], 3, 2, CovarianceType.Full);
        var absent = HmmStateKeeping.Absent(ThreeRegimes, rows);

        Assert.Equal([0, 1, 2], absent);
        Assert.Null(HmmStateKeeping.Keep(ThreeRegimes, candidate, rows, absent, maxCostPerWeight: 0.5));
    }

    [Fact]
    public void Keep_TwoCopiesOfOneRegimeAndANewRegime_CopiesMergeAndTheNewRegimeTakesTheFreedLabel()
    {
        // A warm-up that saw only calm rows leaves two copies of calm, switching at random. Then a volatile regime arrives and
        // the refit's two states split it. Both copies are foreign to these rows (a calm state scores volatile rows about 23
        // nats more surprising than its own): they merge into one kept calm state, the halves into one volatile state, and
        // the two switch rarely (once per the rows fitted), where the copies' transitions said 0.5.
        var copies = GaussianHmm.Create([0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.0, 0.01], [0.25, 0.26], 2, 1, CovarianceType.Full);
        var rows = Stormy.Sample(200, 5);
        var halves = GaussianHmm.Create([0.5, 0.5], [0.7, 0.3, 0.3, 0.7], [0.0, 0.0], [6.0, 12.0], 2, 1, CovarianceType.Full);
        var absent = HmmStateKeeping.Absent(copies, rows);

        var kept = HmmStateKeeping.Keep(copies, halves, rows, absent, maxCostPerWeight: 0.5);

        Assert.Equal([0, 1], absent);
        Assert.NotNull(kept);
        var variances = kept.Covariances.ToArray();
        var wide = variances[0] > variances[1] ? 0 : 1;
        Assert.InRange(variances[1 - wide], 0.25, 0.26);
        Assert.InRange(variances[wide], 8.0, 10.0);
        Assert.Equal(1 - (1.0 / 200), kept.Transitions[((1 - wide) * 2) + (1 - wide)], 1e-9);
        Assert.True(kept.Transitions[(wide * 2) + wide] > 0.99, $"the volatile state stays with {kept.Transitions[(wide * 2) + wide]}");
    }

    [Fact]
    public void Absent_StatesSwitchingAtRandom_TheStateNoCandidateStateIsNearestToIsAbsent()
    {
        // A model whose warm-up saw volatile rows only, then learned a calm state online, switching at random (0.5). The
        // volatile rows after an alarm spread over both states, so by shares neither is absent; the refit's two states both
        // sit on the volatile regime, nearest to state 1: state 0 (calm) is absent, and the refit keeps it.
        var current = GaussianHmm.Create([0.5, 0.5], [0.53, 0.47, 0.35, 0.65], [0.0, 0.0], [0.4, 6.85], 2, 1, CovarianceType.Full);
        var rows = Stormy.Sample(233, 6);
        var halves = GaussianHmm.Create([0.5, 0.5], [0.39, 0.61, 0.53, 0.47], [0.0, 0.0], [5.4, 5.8], 2, 1, CovarianceType.Full);

        Assert.Empty(HmmStateKeeping.Absent(current, rows));
        Assert.Equal([0], HmmStateKeeping.Absent(current, rows, halves));
        var kept = HmmStateKeeping.Keep(current, halves, rows, [0], maxCostPerWeight: 0.5)!;
        Assert.Equal(0.4, kept.Covariances[0], 1e-12);
        Assert.InRange(kept.Covariances[1], 5.4, 5.8);
    }

    [Fact]
    public void Absent_RowsMuchNarrowerThanTheState_AreForeignToIt()
    {
        // Two copies of a volatile state (sd 3) and calm rows (sd 0.5) inside both: 0.486 nats per column less surprising
        // than the states' own rows, a regime 36 times narrower.
        var copies = GaussianHmm.Create([0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.0, 0.01], [9.0, 9.5], 2, 1, CovarianceType.Full);

        Assert.Equal([0, 1], HmmStateKeeping.Absent(copies, Calm.Sample(300, 7)));
        Assert.Empty(HmmStateKeeping.Absent(copies, Stormy.Sample(300, 8)));
    }
}
