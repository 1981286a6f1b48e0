using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Tests.Hmm;

namespace EmStreaming.Numerics.Tests;

public sealed class LabelMatchingTests
{
    [Fact]
    public void MinimumCostAssignment_RandomMatrices_CostEqualsTheBruteForceMinimum()
    {
        var rng = new Random(11);
        for (var trial = 0; trial < 300; trial++)
        {
            var k = 1 + (trial % 7);
            var cost = new double[k * k];
            for (var i = 0; i < cost.Length; i++)
            {
                // Ties (small integers) and spreads of many orders of magnitude both occur.
                cost[i] = trial % 3 == 0 ? rng.Next(4) : Math.Exp(rng.NextDouble() * 20) * (rng.NextDouble() < 0.1 ? 0 : 1);
            }

            var assignment = LabelMatching.MinimumCostAssignment(cost, k);

            Assert.Equal(Enumerable.Range(0, k), assignment.Order());
            var total = Enumerable.Range(0, k).Sum(i => cost[(i * k) + assignment[i]]);
            var best = Permutations(k).Min(p => Enumerable.Range(0, k).Sum(i => cost[(i * k) + p[i]]));
            Assert.True(Math.Abs(total - best) <= 1e-9 * Math.Max(1, best), $"trial {trial}: {total} against the minimum {best}");
        }
    }

    [Fact]
    public void MinimumCostAssignment_BadInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => LabelMatching.MinimumCostAssignment([1, 2, 3], 2));
        Assert.Throws<ArgumentException>(() => LabelMatching.MinimumCostAssignment([1, double.NaN, 3, 4], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LabelMatching.MinimumCostAssignment([], 0));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void Match_Gmm_PermutedAndPerturbedCopy_RecoversThePermutation(CovarianceType type)
    {
        var rng = new Random((int)type + 5);
        for (var trial = 0; trial < 40; trial++)
        {
            const int k = 5, d = 3;
            var current = RandomMixture(rng, k, d, type);
            var order = Shuffle(rng, k);
            var candidate = Perturbed(LabelMatching.Reorder(current, order), rng, 0.05);

            var match = LabelMatching.Match(current, candidate);

            // Candidate component i is current component order[i], so the one matched to current component i is the one that came from it.
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(i, order[match[i]]);
            }

            var aligned = candidate.AlignTo(current);
            for (var i = 0; i < k * d; i++)
            {
                Assert.Equal(current.Means[i], aligned.Means[i], 0.2);
            }
        }
    }

    [Fact]
    public void Match_Gmm_SameMeanDifferentShapes_MatchedByShape()
    {
        // Two components at the same place, one narrow and one wide (a mode and its background): the means alone cannot tell them apart.
        var current = GaussianMixture.Create([0.5, 0.5], [0, 0, 0, 0], [0.1, 0, 0, 0.1, 25, 0, 0, 25], 2, 2, CovarianceType.Full);
        var candidate = GaussianMixture.Create([0.4, 0.6], [0.1, 0, -0.1, 0], [30, 0, 0, 20, 0.12, 0, 0, 0.09], 2, 2, CovarianceType.Full);

        Assert.Equal([1, 0], LabelMatching.Match(current, candidate));
        Assert.Equal([0.6, 0.4], candidate.AlignTo(current).Weights.ToArray());
    }

    [Fact]
    public void Match_UnitsChangedForBoth_SameMatching()
    {
        var rng = new Random(3);
        var current = RandomMixture(rng, 4, 2, CovarianceType.Full);
        var candidate = Perturbed(LabelMatching.Reorder(current, [2, 0, 3, 1]), rng, 0.3);

        Assert.Equal(LabelMatching.Match(current, candidate), LabelMatching.Match(Scaled(current, 1e6, -1e9), Scaled(candidate, 1e6, -1e9)));
    }

    [Fact]
    public void Reorder_Gmm_SameDensitiesResponsibilitiesPermuted()
    {
        var rng = new Random(8);
        var model = RandomMixture(rng, 4, 3, CovarianceType.Full);
        int[] order = [3, 0, 2, 1];
        var reordered = LabelMatching.Reorder(model, order);
        var values = model.Sample(200, 4).Values.ToArray();
        values[5] = double.NaN; // a missing entry
        var data = new DataMatrix(values, 200, 3);
        var before = new double[200];
        var after = new double[200];
        model.ScoreSamples(data, before);
        reordered.ScoreSamples(data, after);
        var r0 = new double[800];
        var r1 = new double[800];
        model.PredictProba(data, r0);
        reordered.PredictProba(data, r1);

        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(before[i], after[i], 1e-10);
            for (var c = 0; c < 4; c++)
            {
                Assert.Equal(r0[(i * 4) + order[c]], r1[(i * 4) + c], 1e-12);
            }
        }

        Assert.Throws<ArgumentException>(() => LabelMatching.Reorder(model, [0, 0, 1, 2]));
        Assert.Throws<ArgumentException>(() => LabelMatching.Reorder(model, [0, 1, 2]));
        Assert.Throws<ArgumentException>(() => LabelMatching.Match(model, RandomMixture(rng, 3, 3, CovarianceType.Full)));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void ReorderAndMatch_Hmm_SameLikelihoodFilterPermutedAndRecovered(CovarianceType type)
    {
        var truth = HmmTestData.Truth;
        var model = type == CovarianceType.Full
            ? truth
            : GaussianHmm.Create(HmmTestData.TrueStart, HmmTestData.TrueTransitions, HmmTestData.TrueMeans, [1.0, 0.8, 0.7, 1.0, 0.9, 0.6], 3, 2, CovarianceType.Diag);
        int[] order = [2, 0, 1];
        var reordered = LabelMatching.Reorder(model, order);
        var sequence = model.Sample(500, 9);
        var p0 = new double[1_500];
        var p1 = new double[1_500];

        Assert.Equal(model.Filter(sequence, p0), reordered.Filter(sequence, p1), 1e-9);
        for (var t = 0; t < 500; t++)
        {
            for (var s = 0; s < 3; s++)
            {
                Assert.Equal(p0[(t * 3) + order[s]], p1[(t * 3) + s], 1e-9);
            }
        }

        Assert.Equal(model.Transitions[(order[1] * 3) + order[2]], reordered.Transitions[(1 * 3) + 2]);
        var aligned = reordered.AlignTo(model);
        Assert.Equal(model.Means.ToArray(), aligned.Means.ToArray());
        Assert.Equal(model.StartProbabilities.ToArray(), aligned.StartProbabilities.ToArray());
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(model.Transitions[i], aligned.Transitions[i], 1e-15);
        }
    }

    private static GaussianMixture RandomMixture(Random rng, int k, int d, CovarianceType type)
    {
        var weights = Enumerable.Range(0, k).Select(_ => 0.5 + rng.NextDouble()).ToArray();
        var sum = weights.Sum();
        weights = weights.Select(w => w / sum).ToArray();
        var means = Enumerable.Range(0, k * d).Select(_ => rng.NextDouble() * 20 - 10).ToArray();
        double[] covariances = type switch
        {
            CovarianceType.Full => Enumerable.Range(0, k).SelectMany(_ => RandomSpd(rng, d)).ToArray(),
            CovarianceType.Tied => RandomSpd(rng, d),
            CovarianceType.Diag => Enumerable.Range(0, k * d).Select(_ => 0.2 + rng.NextDouble()).ToArray(),
            _ => Enumerable.Range(0, k).Select(_ => 0.2 + rng.NextDouble()).ToArray(),
        };
        return GaussianMixture.Create(weights, means, covariances, k, d, type);
    }

    private static double[] RandomSpd(Random rng, int d)
    {
        var a = Enumerable.Range(0, d * d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var s = new double[d * d];
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                var v = i == j ? 0.3 : 0.0;
                for (var p = 0; p < d; p++)
                {
                    v += a[(i * d) + p] * a[(j * d) + p];
                }

                s[(i * d) + j] = v;
            }
        }

        return s;
    }

    private static GaussianMixture Perturbed(GaussianMixture m, Random rng, double scale) =>
        GaussianMixture.Create(m.Weights, m.Means.ToArray().Select(v => v + (scale * (rng.NextDouble() - 0.5))).ToArray(), m.Covariances, m.Components, m.Dimension, m.CovarianceType);

    private static GaussianMixture Scaled(GaussianMixture m, double scale, double shift)
    {
        var covariances = m.Covariances.ToArray().Select(v => v * scale * scale).ToArray();
        return GaussianMixture.Create(m.Weights, m.Means.ToArray().Select(v => (v * scale) + shift).ToArray(), covariances, m.Components, m.Dimension, m.CovarianceType);
    }

    private static int[] Shuffle(Random rng, int k)
    {
        var p = Enumerable.Range(0, k).ToArray();
        rng.Shuffle(p);
        return p;
    }

    private static IEnumerable<int[]> Permutations(int k)
    {
        if (k == 1)
        {
            yield return [0];
            yield break;
        }

        foreach (var p in Permutations(k - 1))
        {
            for (var at = 0; at < k; at++)
            {
                var q = new List<int>(p);
                q.Insert(at, k - 1);
                yield return [.. q];
            }
        }
    }
}
