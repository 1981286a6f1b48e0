using BenchmarkDotNet.Attributes;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Benchmarks.Hmm;

/// <summary>
/// Issue 4 speed bars: one Baum–Welch iteration on 100,000 × 2 with 3 states (pomegranate 0.14: 0.17 s), and the
/// online HMM update (K = 3, d = 2) per observation. Run:
/// <c>dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*HmmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class HmmBenchmarks
{
    private const int N = 100_000;
    private const int Iterations = 20;

    private DataMatrix _data = null!;
    private GaussianHmm _truth = null!;
    private OnlineGaussianHmm _online = null!;
    private BaumWelch _baumWelch = null!;
    private HmmEmissions _emissions = null!;
    private double[] _start = null!;
    private double[] _transitions = null!;

    [GlobalSetup]
    public void Setup()
    {
        _truth = GaussianHmm.Create(
            [0.5, 0.3, 0.2],
            [0.97, 0.02, 0.01, 0.015, 0.97, 0.015, 0.01, 0.02, 0.97],
            [0.0, 0.0, 4.0, 0.5, 0.5, 4.0],
            [1.0, 0.3, 0.3, 0.8, 0.7, -0.2, -0.2, 1.0, 0.9, 0.0, 0.0, 0.6],
            3,
            2,
            CovarianceType.Full);
        _data = _truth.Sample(N, seed: 1);
        _online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 3, InitialModel = _truth, BurnIn = 1000 }, 2);
        for (var t = 0; t < 2000; t++)
        {
            _online.Update(_data.Row(t));
        }

        _baumWelch = new BaumWelch([_data], N, new HmmFitOptions { States = 3 });
        _emissions = _truth.Emissions.Clone();
        _start = _truth.StartProbabilities.ToArray();
        _transitions = _truth.Transitions.ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _baumWelch.Dispose();

    /// <summary>
    /// One Baum–Welch iteration on buffers a fit reuses: emission log-densities and statistics (GMM core workspace,
    /// both cores), scaled forward and backward with ξ sums, M-step. The issue-4 bar: &lt; 17 ms (10× pomegranate).
    /// </summary>
    [Benchmark]
    public double BaumWelchIteration() => _baumWelch.Iteration(_emissions, _start, _transitions);

    /// <summary>
    /// A whole public <c>GaussianHmmEM.Fit</c> warm-started at the truth with exactly 20 iterations, divided by 20:
    /// also pays the per-fit buffers (≈ 8 MB, large-object heap), the worker threads, one final scoring pass and
    /// the model copy, so it overstates the cost of an iteration.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Iterations)]
    public double WholeFitPerIteration()
    {
        var options = new HmmFitOptions { States = 3, WarmStart = _truth, MaxIterations = Iterations, Tolerance = 0 };
        return GaussianHmmEM.Fit(_data, options).MeanLogLikelihood;
    }

    /// <summary>Per observation: filter, backward kernel, O(K⁴) statistics recursion, M-step and averaging.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public double OnlineUpdateK3D2()
    {
        var s = 0.0;
        for (var t = 0; t < N; t++)
        {
            s += _online.Update(_data.Row(t));
        }

        return s;
    }
}
