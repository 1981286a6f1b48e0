using BenchmarkDotNet.Attributes;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Benchmarks.Online;

/// <summary>
/// What a definition's <c>anomalyTailProbability</c> adds to the online update, and what <c>predict</c> pays per row: the
/// mixture tail (K = 8, d = 8, full covariance) of complete rows and of rows with one value missing. One operation = one row.
/// Run: dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*TailProbability*'
/// </summary>
[MemoryDiagnoser]
public class TailProbabilityBenchmark
{
    private const int K = 8;
    private const int D = 8;
    private const int Rows = 4_096;

    private double[] _complete = [];
    private double[] _missing = [];
    private GaussianMixture _model = null!;
    private MixtureTail _tail = null!;

    [GlobalSetup]
    public void Setup()
    {
        _complete = OnlineBenchmarkData.Sample(K, D, Rows, seed: 7);
        var online = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = K, WarmUpObservations = 2_000, Seed = 7 }, D);
        online.Update(_complete);
        _model = online.Model;
        _tail = MixtureTail.Of(_model);
        _missing = (double[])_complete.Clone();
        var random = new Random(3);
        for (var i = 0; i < Rows; i++)
        {
            _missing[(i * D) + random.Next(D)] = double.NaN;
        }
    }

    /// <summary>What the update path adds per mini-batch of 64 rows: the factorization of the mixture before it learns.</summary>
    [Benchmark(OperationsPerInvoke = 64)]
    public int FactorPerMiniBatchOf64() => MixtureTail.Of(_model).Components;

    [Benchmark(OperationsPerInvoke = Rows)]
    public double CompleteRows() => Sum(_complete);

    [Benchmark(OperationsPerInvoke = Rows)]
    public double OneValueMissing() => Sum(_missing);

    /// <summary>The live path: is each row below an anomaly threshold of 1e-4 (the sum stops once it is passed)?</summary>
    [Benchmark(OperationsPerInvoke = Rows)]
    public double CompleteRowsAgainstAThreshold() => Sum(_complete, 1e-4);

    private double Sum(double[] rows, double stopAt = double.PositiveInfinity)
    {
        var sum = 0.0;
        for (var i = 0; i < Rows; i++)
        {
            sum += _tail.Probability(rows.AsSpan(i * D, D), _model.Weights, stopAt);
        }

        return sum;
    }
}
