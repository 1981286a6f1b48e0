using System.Text;
using BenchmarkDotNet.Attributes;
using EmStreaming.Benchmarks.AzureStorage;
using EmStreaming.Server.Api;

namespace EmStreaming.Benchmarks.Ingest;

/// <summary>
/// Parsing one observations request body into rows, as the server does: the body azure-cluster posts (1,000 rows × 4
/// values written with up to 3 decimals, ≈ 26 KB). Baseline: the Utf8JsonReader parser (what RowsReader did for every body);
/// against it the shape-specific scanner it now tries first. One operation = one body, rows included.
/// Run: dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*JsonRows*'
/// </summary>
[MemoryDiagnoser]
public class JsonRowsBenchmark
{
    private byte[] _body = [];

    [GlobalSetup]
    public void Setup() => _body = Encoding.UTF8.GetBytes(ClusterThroughput.Body(0, 1_000, 4));

    [Benchmark(Baseline = true)]
    public int Reader() => RowsReader.ParseJsonWithReader(_body).Count;

    [Benchmark]
    public int Scanner() => RowsReader.ParseJson(_body).Count;
}
