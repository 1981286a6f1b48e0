using BenchmarkDotNet.Attributes;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Benchmarks.Gmm;

/// <summary>
/// One EM iteration (M-step + E-step with statistics, all cores) and a whole fit, K = 8 full covariance, D = 8.
/// The iteration benchmark reuses one workspace, as a fit does: its allocations per operation must be zero.
/// </summary>
[MemoryDiagnoser]
public class GmmEmBenchmarks
{
    private DataMatrix _data = null!;
    private GmmWorkspace _workspace = null!;
    private GmmEmEngine _engine = null!;

    [Params(100_000, 1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = GmmBenchmarkData.Sample(Rows);
        _workspace = new GmmWorkspace(_data, GmmBenchmarkData.Components, CovarianceType.Full);
        _engine = new GmmEmEngine(_workspace, GmmFitOptions.DefaultRegCovar);
        _engine.Initialize(GmmInitialization.KMeansPlusPlus, seed: 1);
        _engine.Iterate();
    }

    [GlobalCleanup]
    public void Cleanup() => _workspace.Dispose();

    [Benchmark]
    public double EmIteration() => _engine.Iterate();

    [Benchmark]
    public double Fit() => GaussianMixtureEM.Fit(_data, new GmmFitOptions { Components = GmmBenchmarkData.Components, Seed = 1 }).MeanLogLikelihood;
}
