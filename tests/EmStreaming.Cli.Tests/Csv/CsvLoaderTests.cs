using EmStreaming.Cli.Csv;

namespace EmStreaming.Cli.Tests.Csv;

public sealed class CsvLoaderTests
{
    private static CsvData Load(string text, IReadOnlyList<string>? columns = null)
    {
        using var file = new CliRunner.TempFile(content: text);
        return CsvLoader.Load(file.Path, columns, null, CancellationToken.None);
    }

    private static string Error(string text, IReadOnlyList<string>? columns = null) =>
        Assert.Throws<CliException>(() => Load(text, columns)).Message;

    [Fact]
    public void Load_EmptyFieldsAndNA_AreMissing()
    {
        var m = Load("a,b,c\n1,,3\nNA,2,na\n").Data;
        Assert.Equal(2, m.Rows);
        Assert.Equal(3, m.Columns);
        Assert.Equal(1.0, m[0, 0]);
        Assert.True(double.IsNaN(m[0, 1]));
        Assert.True(double.IsNaN(m[1, 0]));
        Assert.Equal(2.0, m[1, 1]);
        Assert.True(double.IsNaN(m[1, 2]));
    }

    [Fact]
    public void Load_TextInSelectedColumn_ErrorNamesRowLineAndColumn()
    {
        var e = Error("x,y\n1,2\n\n3,abc\n", ["x", "y"]);
        Assert.Contains("row 2 (line 4)", e);
        Assert.Contains("'y'", e);
        Assert.Contains("abc", e);
    }

    [Fact]
    public void Load_RowWithNothingObserved_IsRejectedByRow()
    {
        var e = Error("x,y\n1,2\n,NA\n");
        Assert.Contains("row 2", e);
        Assert.Contains("no observed value", e);
    }

    [Fact]
    public void Load_Default_LeavesOutLabelColumns()
    {
        var csv = Load("a,species,b\n1,setosa,2\n3,virginica,4\n");
        Assert.Equal([0, 2], csv.Columns);
        Assert.Equal(["a", "b"], csv.ColumnNames);
    }

    [Fact]
    public void Load_ColumnMixingNumbersAndText_IsAnErrorNotALabel()
    {
        var e = Error("a,b\n1,2\nx,3\n");
        Assert.Contains("row 2 (line 3), column 'a': 'x' is not a number", e);
    }

    [Fact]
    public void Load_UnknownName_ErrorListsColumns()
    {
        var e = Error("a,b\n1,2\n", ["c"]);
        Assert.Contains("'c'", e);
        Assert.Contains("a, b", e);
    }

    [Fact]
    public void Load_QuotedFields_SeparatorsQuotesAndLineBreaksStayInOneField()
    {
        // A multi-line quoted label, a quoted number and a doubled quote: one row each, as RFC 4180 says.
        var csv = Load("label,v,w\n\"first\nline, \"\"quoted\"\"\",\"1.5\",2\nplain,3,\"4\"\n");
        Assert.Equal(["v", "w"], csv.ColumnNames);
        Assert.Equal(2, csv.Data.Rows);
        Assert.Equal(1.5, csv.Data[0, 0]);
        Assert.Equal(4.0, csv.Data[1, 1]);
    }

    [Fact]
    public void Load_QuotedCommaInNumericColumn_IsOneFieldThatIsNotANumber()
    {
        var e = Error("a,b\n\"1,5\",2\n", ["a", "b"]);
        Assert.Contains("column 'a': '1,5' is not a number", e);
    }

    /// <summary>The fast float parser alone would read these as numbers (15, infinity): the strict rules decide.</summary>
    [Theory]
    [InlineData("1,5", "is not a number")]
    [InlineData("inf", "is not a number")]
    [InlineData("1e400", "infinite")]
    public void Load_TextTheFastParserWouldAccept_FollowsTheStrictRules(string field, string expected) =>
        Assert.Contains(expected, Error($"a,b\n\"{field}\",2\n", ["a", "b"]));

    [Fact]
    public void Load_UnterminatedQuote_IsAnErrorNamingTheLine()
    {
        var e = Error("a,b\n1,2\n3,\"4\n5,6\n");
        Assert.Contains("line 3", e);
        Assert.Contains("unterminated", e);
    }

    [Fact]
    public void Load_RaggedRow_ErrorNamesLine()
    {
        var e = Error("a,b\n1,2\n3\n");
        Assert.Contains("line 3 has 1 fields but the header has 2", e);
    }

    [Fact]
    public void Load_Infinity_IsRejected()
    {
        Assert.Contains("infinite", Error("a\n1\nInfinity\n"));
    }

    [Fact]
    public void Load_SemicolonHeader_UsesSemicolons()
    {
        var csv = Load("a;b\n1;2\n");
        Assert.Equal(';', csv.Separator);
        Assert.Equal(2.0, csv.Data[0, 1]);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a,b\n", "no data rows")]
    [InlineData("a,,b\n1,2,3\n", "column 2 of the header row has no name")]
    [InlineData("a,a\n1,2\n", "'a' twice")]
    [InlineData("name\nx\n", "no numeric column")]
    public void Load_BadShape_ErrorSaysWhy(string text, string expected) =>
        Assert.Contains(expected, Error(text));

    [Fact]
    public void Load_BigFile_ReportsProgressOfBothPasses()
    {
        var text = "a,b\n" + string.Concat(Enumerable.Range(0, 70_000).Select(i => $"{i},{i % 7}\n"));
        using var file = new CliRunner.TempFile(content: text);
        var reports = new List<CsvProgress>();
        var csv = CsvLoader.Load(file.Path, null, new Recorder(reports), CancellationToken.None);
        Assert.Equal(70_000, csv.Data.Rows);
        Assert.Contains(reports, r => r.Phase == "scanning" && r.Rows == 65_536);
        Assert.Contains(reports, r => r.Phase == "loading" && r.Total == 70_000);
    }

    private sealed class Recorder(List<CsvProgress> reports) : IProgress<CsvProgress>
    {
        public void Report(CsvProgress value) => reports.Add(value);
    }
}
