using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Benchmarks.Online;

/// <summary>
/// The measurements behind the online GMM defaults (docs/benchmarks.md, "Online GMM"): accuracy, not speed, so a plain
/// seeded run rather than a BenchmarkDotNet suite. Prints one table per question:
/// A. step-size exponent α, offset n0 and Polyak–Ruppert cut-off on stationary data;
/// B. half-life on a stream whose means jump (recovery time vs. steady-state noise);
/// C. warm-up size;
/// D. cold start of a larger model: warm-up restarts × warm-up size (merged components after the first fit).
/// Gaps are in nats per row: held-out mean log-likelihood of the true mixture minus the estimate's (≥ 0 up to noise).
/// </summary>
public static class OnlineGmmDefaultsExperiment
{
    private static readonly int[] Seeds = [1, 2, 3];

    public static void Run(TextWriter output)
    {
        output.WriteLine("A. stationary, K=4 d=3 full, batches of 64: gap to truth after 10k / 50k rows (mean of 3 seeds)");
        var truth = Mixture(4, 3, seed: 100);
        var holdOut = Sample(truth, 20_000, 999);
        var truthScore = truth.Score(holdOut);
        foreach (var alpha in new[] { 0.55, 0.6, 0.7, 0.8, 1.0 })
        {
            foreach (var n0 in new[] { 0.0, 1_000.0 })
            {
                foreach (var cut in new[] { StepSizeSchedule.NoAveraging, 5_000L })
                {
                    var schedule = StepSizeSchedule.Decaying(alpha, n0, 0, cut);
                    var g10 = 0.0;
                    var g50 = 0.0;
                    foreach (var seed in Seeds)
                    {
                        var rows = Sample(truth, 50_000, seed);
                        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 4, StepSize = schedule, Seed = (ulong)seed }, 3);
                        Feed(model, rows.Values, 3, 0, 10_000);
                        g10 += truthScore - model.Model.Score(holdOut);
                        Feed(model, rows.Values, 3, 10_000, 50_000);
                        g50 += truthScore - model.Model.Score(holdOut);
                    }

                    output.WriteLine($"  alpha={alpha,-4} n0={n0,-5} avgFrom={cut,-6} gap10k={g10 / Seeds.Length:F4} gap50k={g50 / Seeds.Length:F4}");
                }
            }
        }

        output.WriteLine("B. drift: K=3 d=2, all means jump by (1.5, -1) after 20k rows; rows after the jump until the prequential");
        output.WriteLine("   gap (500-row window, vs. the true new mixture) is < 0.05, and the steady gap over the 5k rows before the jump");
        var before = Mixture(3, 2, seed: 200);
        foreach (var h in new[] { 100.0, 250.0, 500.0, 1_000.0, 2_000.0 })
        {
            var recover = 0.0;
            var steady = 0.0;
            foreach (var seed in Seeds)
            {
                var (r, s) = Drift(before, StepSizeSchedule.FromHalfLife(h), seed);
                recover += r;
                steady += s;
            }

            output.WriteLine($"  halfLife={h,-5} recoveryRows={recover / Seeds.Length,7:F0} steadyGap={steady / Seeds.Length:F4}");
        }

        output.WriteLine("C. warm-up size: K=8 d=8 full, default schedule: gap to truth after 20k rows, and max matched mean error");
        var big = Mixture(8, 8, seed: 300);
        var bigHoldOut = Sample(big, 10_000, 998);
        var bigTruth = big.Score(bigHoldOut);
        foreach (var warm in new[] { 100, 250, 500, 1_000, 2_000 })
        {
            var gap = 0.0;
            var worst = 0.0;
            foreach (var seed in Seeds)
            {
                var rows = Sample(big, 20_000, seed);
                var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 8, WarmUpObservations = warm, Seed = (ulong)seed }, 8);
                Feed(model, rows.Values, 8, 0, 20_000);
                gap += bigTruth - model.Model.Score(bigHoldOut);
                worst = Math.Max(worst, MaxMeanError(big.Means, model.Model.Means, 8, 8));
            }

            output.WriteLine($"  warmUp={warm,-5} gap20k={gap / Seeds.Length:F4} worstMeanError={worst:F3}");
        }

        ColdStart(output);
    }

    /// <summary>
    /// D. K = 8, d = 8 full, default schedule, 20 seeds, on the mixture of C and on one whose means are 0.7 times as far
    /// apart: for each warm-up size and number of cold-start restarts, the mean gap to the truth after 20k rows, how many
    /// seeds end with a merged component (a true mean whose greedily matched estimate is more than 1.0 away), the worst
    /// matched mean error, and the mean time of the cold-start fit (wall clock, so load-dependent).
    /// </summary>
    public static void ColdStart(TextWriter output)
    {
        output.WriteLine("D. cold start: K=8 d=8 full, default schedule, 20 seeds: gap after 20k rows, seeds with a merged component,");
        output.WriteLine("   worst matched mean error, mean cold-start fit time");
        var seeds = Enumerable.Range(1, 20).ToArray();
        foreach (var (name, truth) in new[] { ("C", Mixture(8, 8, seed: 300)), ("close", Scale(Mixture(8, 8, seed: 301), 0.7)) })
        {
            var holdOut = Sample(truth, 10_000, 998);
            var truthScore = truth.Score(holdOut);
            foreach (var warm in new[] { 2_000, 0 })
            {
                foreach (var restarts in new[] { 1, 3, 5, 10 })
                {
                    var gap = 0.0;
                    var worst = 0.0;
                    var merged = 0;
                    var fitTime = TimeSpan.Zero;
                    foreach (var seed in seeds)
                    {
                        var values = Sample(truth, 20_000, seed).Values;
                        var options = new OnlineGmmOptions { Components = 8, WarmUpObservations = warm, WarmUpRestarts = restarts, Seed = (ulong)seed };
                        var model = OnlineGaussianMixture.Create(options, 8);
                        for (var i = 0; i < 20_000; i += 64)
                        {
                            var warming = model.IsWarmingUp;
                            var started = System.Diagnostics.Stopwatch.GetTimestamp();
                            model.Update(values.Slice(i * 8, Math.Min(64, 20_000 - i) * 8));
                            if (warming && !model.IsWarmingUp)
                            {
                                fitTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
                            }
                        }

                        gap += truthScore - model.Model.Score(holdOut);
                        var error = MaxMeanError(truth.Means, model.Model.Means, 8, 8);
                        worst = Math.Max(worst, error);
                        merged += error > 1.0 ? 1 : 0;
                    }

                    var size = warm == 0 ? $"auto({new OnlineGmmOptions { Components = 8 }.EffectiveWarmUp(8)})" : warm.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    output.WriteLine($"  mixture={name,-5} warmUp={size,-10} restarts={restarts,-3} gap20k={gap / seeds.Length:F4} merged={merged,2}/{seeds.Length} worstMeanError={worst:F3} fit={fitTime.TotalMilliseconds / seeds.Length:F0} ms");
                }
            }
        }
    }

    private static GaussianMixture Scale(GaussianMixture g, double factor)
    {
        var mu = g.Means.ToArray();
        for (var i = 0; i < mu.Length; i++)
        {
            mu[i] *= factor;
        }

        return GaussianMixture.Create(g.Weights, mu, g.Covariances, g.Components, g.Dimension, g.CovarianceType);
    }

    private static (double RecoveryRows, double SteadyGap) Drift(GaussianMixture before, StepSizeSchedule schedule, int seed)
    {
        const int jump = 20_000;
        var shifted = Shift(before, [1.5, -1.0]);
        var a = Sample(before, jump, seed);
        var b = Sample(shifted, 10_000, seed + 50);
        var model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, StepSize = schedule, Seed = (ulong)seed }, 2);
        var scores = new double[64];
        var trueBefore = new double[jump];
        before.ScoreSamples(a, trueBefore);
        var steady = 0.0;
        for (var i = 0; i < jump; i += 64)
        {
            var m = Math.Min(64, jump - i);
            model.Update(a.Values.Slice(i * 2, m * 2), scores);
            for (var r = 0; r < m && i + r >= jump - 5_000; r++)
            {
                steady += trueBefore[i + r] + scores[r];
            }
        }

        var trueAfter = new double[10_000];
        shifted.ScoreSamples(b, trueAfter);
        var window = new Queue<double>();
        var windowSum = 0.0;
        for (var i = 0; i < 10_000; i += 64)
        {
            var m = Math.Min(64, 10_000 - i);
            model.Update(b.Values.Slice(i * 2, m * 2), scores);
            for (var r = 0; r < m; r++)
            {
                var g = trueAfter[i + r] + scores[r];
                window.Enqueue(g);
                windowSum += g;
                if (window.Count > 500)
                {
                    windowSum -= window.Dequeue();
                }

                if (window.Count == 500 && windowSum / 500 < 0.05)
                {
                    return (i + r + 1 - 500, steady / 5_000);
                }
            }
        }

        return (double.PositiveInfinity, steady / 5_000);
    }

    private static void Feed(OnlineGaussianMixture model, ReadOnlySpan<double> rows, int d, int from, int to)
    {
        for (var i = from; i < to; i += 64)
        {
            model.Update(rows.Slice(i * d, Math.Min(64, to - i) * d));
        }
    }

    private static GaussianMixture Mixture(int k, int d, int seed)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, k).Select(_ => 1 + rng.NextDouble()).ToArray();
        var total = w.Sum();
        var mu = Enumerable.Range(0, k * d).Select(_ => 8 * (rng.NextDouble() - 0.5)).ToArray();
        var cov = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            for (var i = 0; i < d; i++)
            {
                cov[(c * d * d) + (i * d) + i] = 0.5 + rng.NextDouble();
            }
        }

        return GaussianMixture.Create(w.Select(v => v / total).ToArray(), mu, cov, k, d, CovarianceType.Full);
    }

    private static GaussianMixture Shift(GaussianMixture g, double[] shift)
    {
        var mu = g.Means.ToArray();
        for (var i = 0; i < mu.Length; i++)
        {
            mu[i] += shift[i % g.Dimension];
        }

        return GaussianMixture.Create(g.Weights, mu, g.Covariances, g.Components, g.Dimension, g.CovarianceType);
    }

    private static DataMatrix Sample(GaussianMixture g, int n, int seed) => g.Sample(n, (ulong)seed);

    private static double MaxMeanError(ReadOnlySpan<double> truth, ReadOnlySpan<double> est, int k, int d)
    {
        // Greedy nearest matching is enough to flag a missed or merged component in a report.
        var used = new bool[k];
        var worst = 0.0;
        for (var t = 0; t < k; t++)
        {
            var best = -1;
            var bestDist = double.PositiveInfinity;
            for (var e = 0; e < k; e++)
            {
                if (used[e])
                {
                    continue;
                }

                var s = 0.0;
                for (var j = 0; j < d; j++)
                {
                    s += Math.Pow(truth[(t * d) + j] - est[(e * d) + j], 2);
                }

                if (s < bestDist)
                {
                    bestDist = s;
                    best = e;
                }
            }

            used[best] = true;
            worst = Math.Max(worst, Math.Sqrt(bestDist));
        }

        return worst;
    }
}
