using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Tests.Online;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>The column-major tile kernels must compute what the per-row kernels compute, for every covariance type.</summary>
public sealed class GmmTileKernelTests
{
    [Theory]
    [InlineData(CovarianceType.Full, 5, 37)]
    [InlineData(CovarianceType.Tied, 5, 37)]
    [InlineData(CovarianceType.Diag, 5, 37)]
    [InlineData(CovarianceType.Spherical, 5, 37)]
    // The register-blocked kernels take rows four vectors, one vector, then one row at a time, and columns four at a time:
    // tiles shorter than a vector, of whole blocks, and dimensions below, at and above a group of four.
    [InlineData(CovarianceType.Full, 1, 3)]
    [InlineData(CovarianceType.Full, 4, 64)]
    [InlineData(CovarianceType.Full, 9, 21)]
    [InlineData(CovarianceType.Full, 8, 2)]
    [InlineData(CovarianceType.Tied, 9, 21)]
    [InlineData(CovarianceType.Tied, 3, 2)]
    [InlineData(CovarianceType.Diag, 9, 3)]
    [InlineData(CovarianceType.Spherical, 9, 21)]
    [InlineData(CovarianceType.Diag, 2, 64)]
    public void LogDensitiesAndAccumulate_RandomTile_MatchPerRowKernels(CovarianceType type, int d, int b)
    {
        const int k = 4;
        var stride = b + 3;
        var truth = SyntheticMixture.Random(k, d, seed: 3);
        var rows = truth.Sample(b, seed: 4);
        var p = GaussianMixtureEM.Fit(new DataMatrix(truth.Sample(2_000, seed: 5), 2_000, d), new GmmFitOptions { Components = k, Covariance = type, Seed = 1 }).Model.Parameters;
        var origin = Enumerable.Range(0, d).Select(j => new[] { 0.5, -1, 2, 0, 3 }[j % 5] + j).ToArray();

        var xt = new double[d * stride];
        var shifted = new double[k * d];
        var lk = new double[k * stride];
        var work = new double[GmmTileKernel.WorkLength(d, stride)];
        GmmTileKernel.Load(rows, origin, xt, stride);
        GmmTileKernel.ShiftMeans(p.Means, origin, shifted);
        GmmTileKernel.LogDensities(p, shifted, xt, stride, b, lk, work);

        var expected = new GmmSufficientStatistics(k, d, type, origin);
        var actual = new GmmSufficientStatistics(k, d, type, origin);
        var logd = new double[k];
        var resp = new double[k * stride];
        var scratch = new double[GmmParameters.RowScratchLength(d)];
        for (var i = 0; i < b; i++)
        {
            p.LogDensitiesRow(rows.AsSpan(i * d, d), logd, scratch);
            var r = new double[k];
            for (var c = 0; c < k; c++)
            {
                Assert.Equal(logd[c], lk[(c * stride) + i], 1e-10);
                r[c] = (c + 1.0) / (i + 2.0);
                resp[(c * stride) + i] = r[c];
            }

            expected.AccumulateRow(rows.AsSpan(i * d, d), r, p, scratch);
        }

        GmmTileKernel.Accumulate(actual, xt, resp, stride, b, work);
        foreach (var (e, a) in new[] { (expected.S0.ToArray(), actual.S0.ToArray()), (expected.S1.ToArray(), actual.S1.ToArray()), (expected.S2.ToArray(), actual.S2.ToArray()) })
        {
            for (var i = 0; i < e.Length; i++)
            {
                Assert.Equal(e[i], a[i], 1e-10 * Math.Max(1, Math.Abs(e[i])));
            }
        }
    }

    [Fact]
    public void Responsibilities_RowsNearAndUnderflowed_SumToOneAndLogSumExp()
    {
        const int stride = 8;
        const int b = 3;
        double[] logWeights = [Math.Log(0.25), Math.Log(0.75)];
        // Row 0: ordinary; row 1: one component 2,000 nats behind (its responsibility clamps to ≈ 0); row 2: every
        // density underflowed to −∞.
        var lk = new double[2 * stride];
        lk[0] = -1.0;
        lk[stride] = -2.0;
        lk[1] = -5.0;
        lk[stride + 1] = -2_005.0;
        lk[2] = double.NegativeInfinity;
        lk[stride + 2] = double.NegativeInfinity;
        var lse = new double[b];
        var max = new double[b];

        GmmTileKernel.Responsibilities(logWeights, lk, stride, b, lse, max);

        var j0 = -1.0 + logWeights[0];
        var j1 = -2.0 + logWeights[1];
        var expectedLse = Math.Max(j0, j1) + Math.Log(Math.Exp(j0 - Math.Max(j0, j1)) + Math.Exp(j1 - Math.Max(j0, j1)));
        Assert.Equal(expectedLse, lse[0], 1e-14);
        Assert.Equal(Math.Exp(j0 - expectedLse), lk[0], 1e-14);
        Assert.Equal(1.0, lk[1], 1e-14);
        Assert.True(lk[stride + 1] < 1e-250);
        Assert.Equal(-5.0 + logWeights[0], lse[1], 1e-14);
        Assert.Equal(double.NegativeInfinity, lse[2]);
        Assert.Equal(0.5, lk[2]);
        Assert.Equal(0.5, lk[stride + 2]);
        for (var t = 0; t < b; t++)
        {
            Assert.Equal(1.0, lk[t] + lk[stride + t], 1e-14);
        }
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    [InlineData(7, true)]
    [InlineData(8, false)]
    [InlineData(9, true)]
    [InlineData(31, false)]
    [InlineData(64, true)]
    [InlineData(257, false)]
    public void WeightedOffsets_AnyLength_MatchesTheScalarDefinition(int n, bool accumulate)
    {
        // The fused pass covers whole vectors, pairs of them and the scalar tail: every length must give w = r·(x − a)
        // (added to w when accumulating) and the sum of those terms.
        var random = new Random(17 + n);
        var x = Enumerable.Range(0, n).Select(_ => 1e6 + (random.NextDouble() * 10)).ToArray();
        var r = Enumerable.Range(0, n).Select(_ => random.NextDouble()).ToArray();
        var w = Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
        var before = (double[])w.Clone();
        const double a = 1e6 + 5;

        var sum = GmmTileKernel.WeightedOffsets(x, a, r, w, accumulate);

        var expectedSum = 0.0;
        for (var t = 0; t < n; t++)
        {
            var u = r[t] * (x[t] - a);
            expectedSum += u;
            Assert.Equal((accumulate ? before[t] : 0) + u, w[t], 1e-12);
        }

        Assert.Equal(expectedSum, sum, 1e-9);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(11)]
    [InlineData(64)]
    public void WeightedOffsetMomentsAndDots4_AnyLength_MatchTheScalarDefinitions(int n)
    {
        const int d = 6;
        var random = new Random(29 + n);
        var xt = Enumerable.Range(0, d * n).Select(_ => 3 + random.NextDouble()).ToArray();
        var r = Enumerable.Range(0, n).Select(_ => random.NextDouble()).ToArray();
        const double a = 3.5;

        var (sum, sumX) = GmmTileKernel.WeightedOffsetMoments(xt.AsSpan(0, n), a, r);
        var (expectedSum, expectedSumX) = (0.0, 0.0);
        for (var t = 0; t < n; t++)
        {
            expectedSum += r[t] * (xt[t] - a);
            expectedSumX += r[t] * (xt[t] - a) * xt[t];
        }

        Assert.Equal(expectedSum, sum, 1e-12);
        Assert.Equal(expectedSumX, sumX, 1e-12);

        // Columns 4 and 5, then two repeats of column 5 past the tile's last column.
        var (d0, d1, d2, d3) = GmmTileKernel.Dots4(r, xt, n, 4, d);
        var expected = new[] { 4, 5, 5, 5 }.Select(j => Enumerable.Range(0, n).Sum(t => r[t] * xt[(j * n) + t])).ToArray();
        Assert.Equal(expected, new[] { d0, d1, d2, d3 }, (e, x) => Math.Abs(e - x) <= 1e-12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(23)]
    public void LogDensities_RowsEqualToTheMeanOfANearlySingularComponent_HaveMahalanobisExactlyZero(int b)
    {
        // M = L⁻¹ is about 1e100 here: M·x and M·μ must be summed the same way for their difference to vanish. A component
        // collapsed on exact duplicates is what the refit's degeneracy check has to see as such (held-out rows on it score
        // its normalizer, not −∞); the vector blocks, the single vectors and the last rows all take that path.
        const int d = 3;
        var stride = b + 1;
        double[] mu = [-10.3, 7.1, 0.2];
        double[] covariance = [1e-200, 3e-201, 0, 3e-201, 2e-200, 1e-201, 0, 1e-201, 5e-201];
        var p = GaussianMixture.Create([1.0], mu, covariance, 1, d, CovarianceType.Full).Parameters;
        double[] origin = [0.7, -0.4, 1.9];
        var rows = Enumerable.Range(0, b).SelectMany(_ => mu).ToArray();
        var xt = new double[d * stride];
        var shifted = new double[d];
        var lk = new double[stride];
        GmmTileKernel.Load(rows, origin, xt, stride);
        GmmTileKernel.ShiftMeans(p.Means, origin, shifted);
        GmmTileKernel.LogDensities(p, shifted, xt, stride, b, lk, new double[GmmTileKernel.WorkLength(d, stride)]);
        for (var t = 0; t < b; t++)
        {
            Assert.Equal(p.LogNormalizers[0], lk[t]);
        }
    }
}
