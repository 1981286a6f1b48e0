namespace EmStreaming.Numerics.Tests.Online;

/// <summary>The test helpers themselves: a wrong matcher or sampler would make the estimator bars meaningless.</summary>
public sealed class ComponentMatchingTests
{
    [Fact]
    public void Match_PermutedMeans_RecoversPermutation()
    {
        double[] truth = [0, 0, 5, 5, -5, 3, 9, -9];
        int[] perm = [2, 0, 3, 1];
        var estimated = new double[truth.Length];
        for (var t = 0; t < 4; t++)
        {
            estimated[perm[t] * 2] = truth[t * 2] + 0.01;
            estimated[(perm[t] * 2) + 1] = truth[(t * 2) + 1] - 0.01;
        }

        Assert.Equal(perm, ComponentMatching.Match(truth, estimated, 4, 2));
        Assert.Equal(Math.Sqrt(2e-4), ComponentMatching.MaxMeanError(truth, estimated, 4, 2), 1e-12);
    }

    [Fact]
    public void Sample_LargeDraw_MatchesWeightsMeansAndCovariance()
    {
        var mix = SyntheticMixture.ThreeComponents2D();
        const int n = 60_000;
        var labels = new int[n];
        var x = mix.Sample(n, seed: 3, labels);
        for (var k = 0; k < 3; k++)
        {
            var idx = Enumerable.Range(0, n).Where(i => labels[i] == k).ToArray();
            // Binomial standard error of a weight at n = 60,000 is ≤ 0.002: 0.01 is five of them.
            Assert.Equal(mix.Weights[k], idx.Length / (double)n, 0.01);
            var m0 = idx.Average(i => x[2 * i]);
            var m1 = idx.Average(i => x[(2 * i) + 1]);
            Assert.Equal(mix.Means[2 * k], m0, 0.05);
            Assert.Equal(mix.Means[(2 * k) + 1], m1, 0.05);
            var c01 = idx.Average(i => (x[2 * i] - m0) * (x[(2 * i) + 1] - m1));
            Assert.Equal(mix.Covariances[(4 * k) + 1], c01, 0.05);
        }
    }
}
