using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using EmStreaming.Benchmarks.AzureStorage;
using EmStreaming.Numerics.Text;

namespace EmStreaming.Benchmarks.Ingest;

/// <summary>
/// Reading the numbers of one observations request body as the server's JSON reader does: the body azure-cluster posts
/// (1,000 rows × 4 values written with up to 3 decimals, ≈ 26 KB), every number token turned into a double. Baseline:
/// Utf8JsonReader.TryGetDouble for each token (what RowsReader did); against it the exact plain-decimal fast path with the
/// reader as fallback (what it does now). One operation = one body.
/// Run: dotnet run -c Release --project tests/EmStreaming.Benchmarks -- --filter '*JsonNumber*'
/// </summary>
[MemoryDiagnoser]
public class JsonNumberBenchmark
{
    private byte[] _body = [];

    [GlobalSetup]
    public void Setup() => _body = Encoding.UTF8.GetBytes(ClusterThroughput.Body(0, 1_000, 4));

    [Benchmark(Baseline = true)]
    public double ReaderTryGetDouble()
    {
        var reader = new Utf8JsonReader(_body);
        var sum = 0.0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var v))
            {
                sum += v;
            }
        }

        return sum;
    }

    [Benchmark]
    public double PlainDecimalThenReader()
    {
        var reader = new Utf8JsonReader(_body);
        var sum = 0.0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.Number
                && ((!reader.HasValueSequence && PlainDecimal.TryParse(reader.ValueSpan, out var v)) || reader.TryGetDouble(out v)))
            {
                sum += v;
            }
        }

        return sum;
    }
}
