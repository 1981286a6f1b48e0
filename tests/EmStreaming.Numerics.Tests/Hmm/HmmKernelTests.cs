using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>
/// The span kernels against brute-force enumeration of every state path on short sequences, where the exact
/// answer is cheap: log-likelihood, smoothed marginals, expected transition counts, Viterbi path and the
/// online recursion with γ_n = 1/n (whose statistic is then exactly the smoothed expectation divided by n).
/// </summary>
public sealed class HmmKernelTests
{
    private const int K = 3;
    private const int N = 6;

    [Fact]
    public void ForwardBackward_ShortSequence_MatchesPathEnumeration()
    {
        var (start, a, logB) = RandomProblem(seed: 1);
        var exact = Enumerate(start, a, logB);

        var emission = new double[N * K];
        var rowMax = new double[N];
        var alpha = new double[N * K];
        var xi = new double[K * K];
        HmmForwardBackward.ShiftAndExponentiate(logB, N, K, emission, rowMax);
        var logLik = HmmForwardBackward.Forward(logB, emission, rowMax, N, K, start, a, alpha, new double[K]);
        Assert.Equal(exact.LogLikelihood, logLik, 1e-12);
        for (var i = 0; i < K; i++)
        {
            Assert.Equal(exact.Filtered[(N - 1) * K + i], alpha[(N - 1) * K + i], 1e-12);
        }

        HmmForwardBackward.Backward(emission, N, K, a, alpha, xi, new double[3 * K]);
        for (var i = 0; i < N * K; i++)
        {
            Assert.Equal(exact.Smoothed[i], alpha[i], 1e-12);
        }

        for (var i = 0; i < K * K; i++)
        {
            Assert.Equal(exact.XiSum[i], xi[i], 1e-12);
        }
    }

    [Fact]
    public void Forward_FilteredRows_MatchPrefixEnumeration()
    {
        var (start, a, logB) = RandomProblem(seed: 2);
        var emission = new double[N * K];
        var rowMax = new double[N];
        var alpha = new double[N * K];
        HmmForwardBackward.ShiftAndExponentiate(logB, N, K, emission, rowMax);
        HmmForwardBackward.Forward(logB, emission, rowMax, N, K, start, a, alpha, new double[K]);
        for (var t = 1; t <= N; t++)
        {
            var prefix = Enumerate(start, a, logB.AsSpan(0, t * K).ToArray());
            for (var i = 0; i < K; i++)
            {
                Assert.Equal(prefix.Smoothed[(t - 1) * K + i], alpha[(t - 1) * K + i], 1e-12);
            }
        }
    }

    [Fact]
    public void Decode_ShortSequence_MatchesBestEnumeratedPath()
    {
        var (start, a, logB) = RandomProblem(seed: 3);
        var exact = Enumerate(start, a, logB);
        var path = new int[N];
        var logProb = HmmViterbi.Decode(
            logB, N, K, start.Select(v => Math.Log(v)).ToArray(), a.Select(v => Math.Log(v)).ToArray(), path, new int[N * K], new double[2 * K]);
        Assert.Equal(exact.BestLogJoint, logProb, 1e-12);
        Assert.Equal(exact.BestPath, path);
    }

    [Fact]
    public void Step_StepSizeOneOverN_StatisticsEqualSmoothedExpectationOverN()
    {
        var (start, a, logB) = RandomProblem(seed: 4);
        var exact = Enumerate(start, a, logB);
        const int p = 2;
        var len = K * K + K * p;

        // psi_k(x_t) = (1, log g_k(x_t)) in the s0 | s1 layout (d = 1, no s2): any per-state statistic works; the
        // recursion must average it exactly.
        var psi = new double[K * p];
        var phi = new double[K];
        var rho = new double[K * len];
        var rhoScratch = new double[K * len];
        var stats = new double[len];
        var scratch = new double[OnlineHmmRecursion.StepScratchLength(K)];
        var expectedEmission = new double[K * p];
        var logLik = 0.0;
        for (var t = 0; t < N; t++)
        {
            for (var k = 0; k < K; k++)
            {
                psi[k] = 1.0;
                psi[K + k] = logB[t * K + k];
                expectedEmission[k] += exact.Smoothed[t * K + k];
                expectedEmission[K + k] += exact.Smoothed[t * K + k] * logB[t * K + k];
            }

            logLik += OnlineHmmRecursion.Step(
                logB.AsSpan(t * K, K), psi, start, a, t == 0, accumulate: true, 1.0 / (t + 1), phi, rho, rhoScratch, stats, scratch, K, d: 1, s2: 0);
        }

        Assert.Equal(exact.LogLikelihood, logLik, 1e-12);
        for (var i = 0; i < K * K; i++)
        {
            Assert.Equal(exact.XiSum[i] / N, stats[i], 1e-12);
        }

        for (var i = 0; i < K * p; i++)
        {
            Assert.Equal(expectedEmission[i] / N, stats[K * K + i], 1e-12);
        }
    }

    [Fact]
    public void Forward_ZeroTransitionMakesEmissionUnreachable_StaysFiniteAndNormalized()
    {
        // State 2 is unreachable but explains the observations far better than the others: the scaled product
        // underflows and the log-domain fallback must keep the filter a distribution.
        double[] start = [0.5, 0.5, 0.0];
        double[] a = [0.9, 0.1, 0.0, 0.1, 0.9, 0.0, 0.3, 0.3, 0.4];
        var logB = new double[N * K];
        for (var t = 0; t < N; t++)
        {
            logB[t * K] = -900.0 - t;
            logB[t * K + 1] = -905.0;
            logB[t * K + 2] = 0.0;
        }

        var emission = new double[N * K];
        var rowMax = new double[N];
        var alpha = new double[N * K];
        var xi = new double[K * K];
        HmmForwardBackward.ShiftAndExponentiate(logB, N, K, emission, rowMax);
        var logLik = HmmForwardBackward.Forward(logB, emission, rowMax, N, K, start, a, alpha, new double[K]);
        var exact = Enumerate(start, a, logB);
        Assert.Equal(exact.LogLikelihood, logLik, 1e-9);
        HmmForwardBackward.Backward(emission, N, K, a, alpha, xi, new double[3 * K]);
        for (var t = 0; t < N; t++)
        {
            Assert.Equal(1.0, alpha.AsSpan(t * K, K).ToArray().Sum(), 1e-12);
            Assert.All(alpha.AsSpan(t * K, K).ToArray(), v => Assert.True(double.IsFinite(v)));
        }

        Assert.All(xi, v => Assert.True(double.IsFinite(v)));
    }

    private static (double[] Start, double[] A, double[] LogB) RandomProblem(int seed)
    {
        var rng = new Random(seed);
        var start = Normalize(Enumerable.Range(0, K).Select(_ => 0.1 + rng.NextDouble()).ToArray(), K);
        var a = Normalize(Enumerable.Range(0, K * K).Select(_ => 0.1 + rng.NextDouble()).ToArray(), K);
        var logB = Enumerable.Range(0, N * K).Select(_ => -5.0 * rng.NextDouble() - 1.0).ToArray();
        return (start, a, logB);
    }

    private static double[] Normalize(double[] v, int k)
    {
        for (var r = 0; r < v.Length / k; r++)
        {
            var s = v.AsSpan(r * k, k).ToArray().Sum();
            for (var j = 0; j < k; j++)
            {
                v[r * k + j] /= s;
            }
        }

        return v;
    }

    private sealed record Exact(double LogLikelihood, double[] Smoothed, double[] Filtered, double[] XiSum, double BestLogJoint, int[] BestPath);

    private static Exact Enumerate(double[] start, double[] a, double[] logB)
    {
        var n = logB.Length / K;
        var total = (int)Math.Pow(K, n);
        var logJoint = new double[total];
        var path = new int[n];
        var best = double.NegativeInfinity;
        var bestPath = new int[n];
        for (var code = 0; code < total; code++)
        {
            var c = code;
            for (var t = 0; t < n; t++)
            {
                path[t] = c % K;
                c /= K;
            }

            var lj = Math.Log(start[path[0]]) + logB[path[0]];
            for (var t = 1; t < n; t++)
            {
                lj += Math.Log(a[path[t - 1] * K + path[t]]) + logB[t * K + path[t]];
            }

            logJoint[code] = lj;
            if (lj > best)
            {
                best = lj;
                path.CopyTo(bestPath, 0);
            }
        }

        var finite = logJoint.Where(double.IsFinite).ToArray();
        var max = finite.Max();
        var logLik = max + Math.Log(finite.Sum(v => Math.Exp(v - max)));
        var smoothed = new double[n * K];
        var xi = new double[K * K];
        for (var code = 0; code < total; code++)
        {
            if (!double.IsFinite(logJoint[code]))
            {
                continue;
            }

            var w = Math.Exp(logJoint[code] - logLik);
            var c = code;
            for (var t = 0; t < n; t++)
            {
                path[t] = c % K;
                c /= K;
            }

            for (var t = 0; t < n; t++)
            {
                smoothed[t * K + path[t]] += w;
                if (t > 0)
                {
                    xi[path[t - 1] * K + path[t]] += w;
                }
            }
        }

        return new Exact(logLik, smoothed, smoothed, xi, best, bestPath);
    }
}
