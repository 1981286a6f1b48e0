using EmStreaming.Benchmarks.Gmm;
using EmStreaming.Numerics.Gmm;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// Local optima handled by default (issue 11): K = 8, 8-D, 100,000 rows from a mixture whose means are close (the benchmark
/// mixture's, times 0.3). One k-means++ start stops at a worse optimum for about half the seeds; the default short runs must
/// reach the best known optimum for every seed tried.
/// </summary>
public sealed class LocalOptimaTests
{
    private static DataMatrix CloseMixture(int rows)
    {
        var bench = GmmBenchmarkData.Truth();
        var means = bench.Means.ToArray().Select(v => 0.3 * v).ToArray();
        return GaussianMixture.Create(bench.Weights, means, bench.Covariances, 8, 8, CovarianceType.Full).Sample(rows, 7);
    }

    private static readonly Lazy<DataMatrix> Data = new(() => CloseMixture(100_000));

    [Fact]
    public void Fit_Defaults_ReachBestKnownOptimumForEverySeed_WhereOneStartDoesNot()
    {
        var data = Data.Value;
        var best = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 8, Restarts = 8, ShortRuns = 1, Tolerance = 1e-8, Seed = 12345 }).MeanLogLikelihood;
        var singleFailures = 0;
        for (var seed = 0UL; seed < 4; seed++)
        {
            var fit = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 8, Seed = seed });
            // 1e-3 nats/row: the stopping tolerance's reach; the other optima are ≥ 0.1 nats/row lower.
            Assert.True(fit.MeanLogLikelihood >= best - 1e-3, $"seed {seed}: {fit.MeanLogLikelihood:F5} vs best known {best:F5}");
            var single = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 8, Seed = seed, ShortRuns = 1 });
            singleFailures += single.MeanLogLikelihood < best - 1e-3 ? 1 : 0;
        }

        Assert.True(singleFailures >= 1, "one start reached the optimum for every seed: this problem does not test local optima");
    }

    [Fact]
    public void Fit_ShortRuns_SameResultWhateverTheThreadsAndSample()
    {
        // Property: short runs are part of the seeded, deterministic fit (same bits on 1 or 2 threads), for any seed and sample size.
        var data = CloseMixture(4_000);
        Prop.ForAll(Arb.From(from seed in Gen.Choose(0, 1_000_000) from rows in Gen.Elements(300, 1_500, 10_000) select (seed, rows)), c =>
        {
            var options = new GmmFitOptions { Components = 4, Seed = (ulong)c.seed, ShortRunRows = c.rows, MaxIterations = 20 };
            var one = GaussianMixtureEM.Fit(data, options with { MaxDegreeOfParallelism = 1 });
            var two = GaussianMixtureEM.Fit(data, options with { MaxDegreeOfParallelism = 2 });
            return one.MeanLogLikelihood == two.MeanLogLikelihood && one.Model.Means.SequenceEqual(two.Model.Means);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(15));
    }
}
