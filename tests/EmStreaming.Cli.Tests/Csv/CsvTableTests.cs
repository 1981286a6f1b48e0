using EmStreaming.Cli.Csv;

namespace EmStreaming.Cli.Tests.Csv;

public sealed class CsvTableTests
{
    private static CsvTable Parse(string text) => CsvTable.Parse(new StringReader(text), "test.csv");

    [Fact]
    public void ToMatrix_EmptyFieldsAndNA_AreMissing()
    {
        var table = Parse("a,b,c\n1,,3\nNA,2,na\n");
        var m = table.ToMatrix(table.SelectColumns(null), "test.csv");
        Assert.Equal(2, m.Rows);
        Assert.Equal(3, m.Columns);
        Assert.Equal(1.0, m[0, 0]);
        Assert.True(double.IsNaN(m[0, 1]));
        Assert.True(double.IsNaN(m[1, 0]));
        Assert.Equal(2.0, m[1, 1]);
        Assert.True(double.IsNaN(m[1, 2]));
    }

    [Fact]
    public void ToMatrix_TextInSelectedColumn_ErrorNamesRowAndColumn()
    {
        var table = Parse("x,y\n1,2\n3,abc\n");
        var e = Assert.Throws<CliException>(() => table.ToMatrix([0, 1], "test.csv"));
        Assert.Contains("row 2", e.Message);
        Assert.Contains("'y'", e.Message);
        Assert.Contains("abc", e.Message);
    }

    [Fact]
    public void ToMatrix_RowWithNothingObserved_IsRejectedByRow()
    {
        var table = Parse("x,y\n1,2\n,NA\n");
        var e = Assert.Throws<CliException>(() => table.ToMatrix([0, 1], "test.csv"));
        Assert.Contains("row 2", e.Message);
        Assert.Contains("no observed value", e.Message);
    }

    [Fact]
    public void SelectColumns_Default_LeavesOutLabelColumns()
    {
        var table = Parse("a,species,b\n1,setosa,2\n3,virginica,4\n");
        Assert.Equal([0, 2], table.SelectColumns(null));
    }

    [Fact]
    public void SelectColumns_UnknownName_ErrorListsColumns()
    {
        var table = Parse("a,b\n1,2\n");
        var e = Assert.Throws<CliException>(() => table.SelectColumns(["c"]));
        Assert.Contains("'c'", e.Message);
        Assert.Contains("a, b", e.Message);
    }

    [Fact]
    public void Parse_QuotedFields_KeepSeparatorsAndQuotes()
    {
        var table = Parse("name,v\n\"a, \"\"b\"\"\",1\n");
        Assert.Equal("a, \"b\"", table.Rows[0][0]);
        var output = new StringWriter();
        table.Write(output);
        Assert.Equal("name,v\n\"a, \"\"b\"\"\",1\n", output.ToString().Replace("\r\n", "\n"));
    }

    [Fact]
    public void Parse_RaggedRow_ErrorNamesLine()
    {
        var e = Assert.Throws<CliException>(() => Parse("a,b\n1,2\n3\n"));
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void ToMatrix_Infinity_IsRejected()
    {
        var table = Parse("a\n1\nInfinity\n");
        var e = Assert.Throws<CliException>(() => table.ToMatrix([0], "test.csv"));
        Assert.Contains("infinite", e.Message);
    }
}
