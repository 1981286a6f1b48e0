using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Parallelism;

namespace EmStreaming.Numerics.Tests.Gmm;

public sealed class KMeansSeedingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Run_SameSeedOneOrThreeWorkers_BitIdenticalCentersAndLabels(bool missing)
    {
        // 3.5 chunks of rows, so the reduction spans several chunks and the last one is partial.
        var data = Synthetic.Truth(4, 3).Sample((KMeansSeeding.ChunkRows * 7) / 2, seed: 11);
        if (missing)
        {
            data = Synthetic.RemoveAtRandom(data, 0.1, seed: 12);
        }

        var (serialCenters, serialLabels) = Seed(data, workers: 1);
        var (parallelCenters, parallelLabels) = Seed(data, workers: 3);

        Assert.Equal(serialCenters, parallelCenters);
        Assert.Equal(serialLabels, parallelLabels);
    }

    [Fact]
    public void Run_SeparatedClusters_CentersAtTheTrueMeans()
    {
        var truth = Synthetic.Truth(4, 3);
        var labels = new int[8_000];
        var data = truth.Sample(labels.Length, seed: 13);

        var (centers, _) = Seed(data, workers: 2);

        // Components are 6 apart with unit variances: each true mean has a centre within 0.1 (≈ 4 standard errors of
        // a 2,000-row mean in 3-D would be 0.09).
        for (var k = 0; k < 4; k++)
        {
            var nearest = Enumerable.Range(0, 4).Min(c => Enumerable.Range(0, 3).Sum(j => Math.Pow(centers[(c * 3) + j] - truth.Means[(k * 3) + j], 2)));
            Assert.True(Math.Sqrt(nearest) < 0.1, $"component {k}: nearest centre {Math.Sqrt(nearest):F3} away");
        }
    }

    private static (double[] Centers, int[] Labels) Seed(DataMatrix data, int workers)
    {
        using var runner = new ChunkRunner(workers);
        var rng = new DeterministicRandom(5);
        var centers = new double[4 * data.Columns];
        var labels = new int[data.Rows];
        KMeansSeeding.Run(data, 4, ref rng, KMeansSeeding.DefaultLloydIterations, centers, labels, runner);
        return (centers, labels);
    }
}
