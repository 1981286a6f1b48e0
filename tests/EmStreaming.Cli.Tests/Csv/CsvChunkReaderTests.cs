using EmStreaming.Cli.Csv;

namespace EmStreaming.Cli.Tests.Csv;

public sealed class CsvChunkReaderTests
{
    /// <summary>Files that exercise every rule of the loader: missing values, labels, quotes, blank lines, and each kind of error.</summary>
    public static TheoryData<string> Files() =>
    [
        "a,b,c\n1,,3\nNA,2,na\n4,5,6\n",
        "a,species,b\n1,setosa,2\n3,virginica,4\n5,setosa,6\n",
        "a,b\nNA,1\n2,3\n\n4,NA\n5,6\n",
        "label,v,w\n\"first\nline, \"\"quoted\"\"\",\"1.5\",2\nplain,3,\"4\"\n",
        "a;b\n1;2\n3;4\n",
        "x,y\n1,2\n\n3,abc\n5,6\n",
        "x,y\n1,2\n3,4\n,NA\n7,8\n",
        "a,b\n1,2\n3,4\nx,5\n",
        "a,b\n1,2\n3\n",
        "a,b\n1,2\n3,\"4\n5,6\n",
        "a\n1\n2\nInfinity\n",
        "a,b\n",
        "name\nx\n",
    ];

    [Theory]
    [MemberData(nameof(Files))]
    public void ReadChunks_AnyChunkSize_SameRowsAndErrorAsLoad(string text)
    {
        using var file = new CliRunner.TempFile(content: text);
        double[]? expected = null;
        string? expectedError = null;
        try
        {
            expected = CsvLoader.Load(file.Path, null, null, CancellationToken.None).Data.Values.ToArray();
        }
        catch (CliException e)
        {
            expectedError = e.Message;
        }

        foreach (var chunkRows in new[] { 1, 2, 3, 4096 })
        {
            var (values, error) = ReadAll(file.Path, chunkRows);
            Assert.Equal(expectedError, error);
            if (expected is not null)
            {
                Assert.Equal(expected, values);
            }
        }
    }

    [Fact]
    public void ReadChunks_BadRowAfterGoodOnes_HandsOutEveryRowBeforeItThenTheError()
    {
        var text = "x,y\n" + string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i},{i % 7}\n")) + "1000,abc\n1001,1\n";
        using var file = new CliRunner.TempFile(content: text);
        foreach (var chunkRows in new[] { 1, 7, 4096 })
        {
            var (values, error) = ReadAll(file.Path, chunkRows);
            Assert.Equal(2000, values.Count);
            Assert.Equal(999.0, values[1998]);
            Assert.Contains("row 1001 (line 1002), column 'y': 'abc' is not a number", error);
        }
    }

    [Fact]
    public void Plan_NumbersInEveryColumn_StopsBeforeTheEndAndSelectsAll()
    {
        // The bad row at the end is past what the plan reads: it is the single pass that reports it.
        using var file = new CliRunner.TempFile(content: "a,b\nNA,1\n2,3\n4,\n5,x\n");
        var schema = CsvLoader.Plan(file.Path, null, null, CancellationToken.None);
        Assert.Equal([0, 1], schema.Columns);
        var (values, error) = ReadAll(file.Path, 2);
        Assert.Equal(6, values.Count);
        Assert.Contains("row 4 (line 5), column 'b'", error);
    }

    [Fact]
    public void Dispose_BeforeTheFileIsRead_StopsTheReader()
    {
        var text = "x\n" + string.Concat(Enumerable.Range(0, 100_000).Select(i => $"{i}\n"));
        using var file = new CliRunner.TempFile(content: text);
        var schema = CsvLoader.Plan(file.Path, null, null, CancellationToken.None);
        var reader = new CsvChunkReader(schema, chunkRows: 16, depth: 2, CancellationToken.None);
        Assert.True(reader.TryTake(out var first));
        Assert.Equal(16, first.Rows);
        reader.Dispose(); // returns only once the reader thread, blocked on a full pool, has stopped
        Assert.Equal(16, reader.RowsTaken);
    }

    [Fact]
    public void TryTake_Cancelled_Throws()
    {
        var text = "x\n" + string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i}\n"));
        using var file = new CliRunner.TempFile(content: text);
        using var cancellation = new CancellationTokenSource();
        var schema = CsvLoader.Plan(file.Path, null, null, CancellationToken.None);
        using var reader = new CsvChunkReader(schema, chunkRows: 8, depth: 2, cancellation.Token);
        cancellation.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            while (reader.TryTake(out var chunk))
            {
                reader.Return(chunk);
            }
        });
    }

    private static (List<double> Values, string? Error) ReadAll(string path, int chunkRows)
    {
        var values = new List<double>();
        try
        {
            var schema = CsvLoader.Plan(path, null, null, CancellationToken.None);
            using var reader = new CsvChunkReader(schema, chunkRows, depth: 2, CancellationToken.None);
            while (reader.TryTake(out var chunk))
            {
                Assert.InRange(chunk.Rows, 1, chunkRows);
                values.AddRange(chunk.Filled.ToArray());
                reader.Return(chunk);
            }

            return (values, null);
        }
        catch (CliException e)
        {
            return (values, e.Message);
        }
    }
}
