using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>The column-major fast path must compute what the GMM core's per-row kernels compute.</summary>
public sealed class OnlineBatchKernelTests
{
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    public void LogJointAndAccumulate_RandomBatch_MatchPerRowKernels(CovarianceType type)
    {
        const int k = 4;
        const int d = 5;
        const int m = 37;
        var truth = SyntheticMixture.Random(k, d, seed: 3);
        var rows = truth.Sample(m, seed: 4);
        var p = GaussianMixtureEM.Fit(new DataMatrix(truth.Sample(2_000, seed: 5), 2_000, d), new GmmFitOptions { Components = k, Covariance = type, Seed = 1 }).Model.Parameters;

        var kernel = new OnlineBatchKernel(k, d);
        kernel.Load(rows, m);
        var joint = new double[k * m];
        kernel.LogJoint(p, m, joint);

        var origin = new double[] { 0.5, -1, 2, 0, 3 };
        var expected = new GmmSufficientStatistics(k, d, type, origin);
        var actual = new GmmSufficientStatistics(k, d, type, origin);
        var logd = new double[k];
        var resp = new double[k * m];
        var scratch = new double[GmmParameters.RowScratchLength(d)];
        for (var i = 0; i < m; i++)
        {
            p.LogDensitiesRow(rows.AsSpan(i * d, d), logd, scratch);
            var r = new double[k];
            for (var c = 0; c < k; c++)
            {
                Assert.Equal(logd[c] + p.LogWeights[c], joint[(c * m) + i], 1e-10);
                r[c] = (c + 1.0) / (i + 2.0);
                resp[(c * m) + i] = r[c];
            }

            expected.AccumulateRow(rows.AsSpan(i * d, d), r, p, scratch);
        }

        kernel.Accumulate(resp, m, actual);
        foreach (var (e, a) in new[] { (expected.S0.ToArray(), actual.S0.ToArray()), (expected.S1.ToArray(), actual.S1.ToArray()), (expected.S2.ToArray(), actual.S2.ToArray()) })
        {
            for (var i = 0; i < e.Length; i++)
            {
                Assert.Equal(e[i], a[i], 1e-10 * Math.Max(1, Math.Abs(e[i])));
            }
        }
    }
}
