using BenchmarkDotNet.Attributes;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Benchmarks.Gmm;

/// <summary>
/// Wide data with scattered gaps: 2,000 rows × 100 columns, each value missing with probability 5 % (nearly every row has a
/// missingness pattern of its own), K = 4 full covariances. One operation = a workspace over the rows and one E-step
/// (what a fit does before its first iteration), with each pattern taking the cheaper way (precision or its own factor)
/// against every pattern factored (the only way before).
/// Run: dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*MissingPatterns*'
/// </summary>
[MemoryDiagnoser]
public class MissingPatternsBenchmark
{
    private const int Rows = 2_000;
    private const int D = 100;
    private const int K = 4;

    private DataMatrix _data = null!;
    private GmmParameters _model = null!;

    [Params(false, true)]
    public bool EveryPatternFactored { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new DeterministicRandom(17);
        var values = new double[Rows * D];
        for (var i = 0; i < Rows; i++)
        {
            var c = rng.NextInt(K);
            for (var j = 0; j < D; j++)
            {
                values[(i * D) + j] = rng.NextDouble() < 0.05 ? double.NaN : (2.0 * c) + (0.01 * j) + rng.NextGaussian();
            }
        }

        _data = new DataMatrix(values, Rows, D);
        _model = GaussianMixtureEM.Fit(_data, new GmmFitOptions { Components = K, MaxIterations = 2, ShortRuns = 1, Seed = 1 }).Model.Parameters;
    }

    [Benchmark]
    public double WorkspaceAndOneEStep()
    {
        using var workspace = new GmmWorkspace(_data, K, CovarianceType.Full, byPrecision: EveryPatternFactored ? false : null);
        return workspace.Expectation(_model, workspace.CreateStatistics());
    }
}
