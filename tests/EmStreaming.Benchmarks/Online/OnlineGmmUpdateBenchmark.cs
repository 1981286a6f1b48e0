using BenchmarkDotNet.Attributes;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Benchmarks.Online;

/// <summary>
/// Online GMM update throughput, issue 3's speed bar: K = 8, d = 8, full covariance, mini-batches of 64 rows; one
/// operation = one observation (a batch is 64 operations), so "Allocated" per operation × 64 is the allocation per batch.
/// Run: dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*OnlineGmmUpdate*'
/// </summary>
[MemoryDiagnoser]
public class OnlineGmmUpdateBenchmark
{
    private const int K = 8;
    private const int D = 8;
    private const int BatchSize = 64;
    private const int Batches = 256;

    private double[] _rows = [];
    private OnlineGaussianMixture _model = null!;
    private int _next;

    [Params(CovarianceType.Full)]
    public CovarianceType Covariance { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rows = OnlineBenchmarkData.Sample(K, D, BatchSize * Batches, seed: 7);
        _model = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = K, Covariance = Covariance, WarmUpObservations = 2_000, Seed = 7 }, D);
        for (var b = 0; b < Batches; b++)
        {
            _model.Update(Batch(b));
        }
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public double UpdateBatchOf64()
    {
        var result = _model.Update(Batch(_next));
        _next = (_next + 1) % Batches;
        return result.MeanLogLikelihood;
    }

    private ReadOnlySpan<double> Batch(int b) => _rows.AsSpan(b * BatchSize * D, BatchSize * D);
}
