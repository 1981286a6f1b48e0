using System.Globalization;

namespace EmStreaming.Cli.Tests.Commands;

public sealed class ImputeCommandTests
{
    [Fact]
    public void Impute_FillsOnlyMissingFields_AndKeepsOtherColumns()
    {
        var lines = File.ReadAllLines(CliRunner.DataFile("iris.csv"));
        // Remove petal_length of rows 1 and 60 and sepal_width of row 120 (1-based data rows).
        var edited = lines.ToArray();
        string Blank(string line, int column)
        {
            var f = line.Split(',');
            f[column] = column == 1 ? "NA" : string.Empty;
            return string.Join(',', f);
        }

        edited[1] = Blank(edited[1], 2);
        edited[60] = Blank(edited[60], 2);
        edited[120] = Blank(edited[120], 1);
        using var input = new CliRunner.TempFile(content: string.Join('\n', edited) + "\n");
        using var output = new CliRunner.TempFile();
        var (code, _, error) = CliRunner.Run("impute", input.Path, "--components", "3", "--seed", "1", "--output", output.Path);
        Assert.True(code == 0, error);
        var result = File.ReadAllLines(output.Path);
        Assert.Equal(lines.Length, result.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            if (i is 1 or 60 or 120)
            {
                continue;
            }

            Assert.Equal(lines[i], result[i]);
        }

        double Field(string line, int c) => double.Parse(line.Split(',')[c], CultureInfo.InvariantCulture);
        // A setosa petal is about 1.5 cm long, a versicolor one about 4.3 cm: the imputation must know which.
        Assert.InRange(Field(result[1], 2), 1.0, 2.0);
        Assert.InRange(Field(result[60], 2), 3.0, 5.5);
        Assert.InRange(Field(result[120], 1), 2.0, 4.0);
        Assert.Equal("setosa", result[1].Split(',')[4]);
    }

    [Fact]
    public void Impute_QuotedLabelsWithCommasQuotesAndLineBreaks_WrittenBackAsRfc4180()
    {
        var text = "name,x,y\n\"a, \"\"quoted\"\"\",1,2\n\"two\nlines\",3,\n plain,5,6\n\"c\",1.5,2.5\n";
        using var input = new CliRunner.TempFile(content: text);
        var (code, output, error) = CliRunner.Run("impute", input.Path, "--components", "1", "--seed", "1");
        Assert.True(code == 0, error);
        var lines = output.Replace("\r\n", "\n").Split('\n');
        Assert.Equal("name,x,y", lines[0]);
        Assert.Equal("\"a, \"\"quoted\"\"\",1,2", lines[1]);
        Assert.Equal("\"two", lines[2]);
        Assert.StartsWith("lines\",3,", lines[3]);
        var imputed = double.Parse(lines[3].Split(',')[2], CultureInfo.InvariantCulture);
        Assert.InRange(imputed, 2.0, 6.0);
        Assert.Equal(" plain,5,6", lines[4]);
        Assert.Equal("c,1.5,2.5", lines[5]);
    }

    [Fact]
    public void Impute_OutputIsTheInputFile_CompletesItInsteadOfTruncatingIt()
    {
        // The rewrite reads the input again while writing: opening --output first used to empty the input, then fail.
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n3,\n5,6\n7,8\n2,3\n");
        var (code, _, error) = CliRunner.Run("impute", file.Path, "--components", "1", "--output", file.Path);
        Assert.True(code == 0, error);
        var lines = File.ReadAllLines(file.Path);
        Assert.Equal(6, lines.Length);
        Assert.Equal("a,b", lines[0]);
        Assert.Equal("1,2", lines[1]);
        Assert.StartsWith("3,", lines[2]);
        Assert.NotEqual("3,", lines[2]);
    }

    [Fact]
    public void Impute_RowWithNothingObserved_IsWrittenBackWithTheMixtureMean_NotRefused()
    {
        // Two clusters; line 4 has both fields empty, line 7 both NA, and the label column is kept as text.
        var text = "label,x,y\na,0,0\nb,0.2,0.1\nc,,\nd,10,10\ne,10.2,9.9\nf,NA,NA\ng,0.1,-0.1\nh,9.8,10.1\ni,,0.05\n";
        using var input = new CliRunner.TempFile(content: text);
        var (code, output, error) = CliRunner.Run("impute", input.Path, "--components", "2", "--seed", "1");
        Assert.True(code == 0, error);
        Assert.Contains("2 rows have no observed value", error);
        var lines = output.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');
        Assert.Equal(10, lines.Length);
        double Field(string line, int c) => double.Parse(line.Split(',')[c], CultureInfo.InvariantCulture);
        // The mixture's mean: about half the rows in each cluster, so near (5, 5) in both columns.
        foreach (var i in new[] { 3, 6 })
        {
            Assert.StartsWith(((char)('a' + i - 1)).ToString() + ",", lines[i]);
            Assert.InRange(Field(lines[i], 1), 3.0, 7.0);
            Assert.InRange(Field(lines[i], 2), 3.0, 7.0);
            Assert.Equal(Field(lines[3], 1), Field(lines[6], 1));
        }

        // A row with one observed value is conditioned on it: y = 0.05 is the first cluster.
        Assert.InRange(Field(lines[9], 1), -1.0, 1.0);
        Assert.Equal("a,0,0", lines[1]);
    }

    [Fact]
    public void Impute_NoRowObservedAtAll_IsAnInputError()
    {
        using var input = new CliRunner.TempFile(content: "x,y\n1,\n,\n");
        var (code, _, error) = CliRunner.Run("impute", input.Path, "--columns", "y", "--components", "1");
        Assert.Equal(2, code);
        Assert.Contains("nothing to fit", error);
    }

    [Fact]
    public void Impute_BadInput_LeavesNoOutputFile()
    {
        using var input = new CliRunner.TempFile(content: "a,b\n1,2\n3,x\n");
        var output = Path.Combine(Path.GetTempPath(), $"emstream-test-{Guid.NewGuid():N}.csv");
        var (code, _, error) = CliRunner.Run("impute", input.Path, "--components", "1", "--output", output);
        Assert.Equal(2, code);
        Assert.Contains("line 3", error);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $".{Path.GetFileName(output)}*"));
    }

    [Fact]
    public void Impute_TooFewEntriesToChooseTheModel_ExitsTwoNamingTheFileAndTheWayOut()
    {
        using var input = new CliRunner.TempFile(content: "a,b\n1,2\n1,\n1,1\n1,4\n,5\n");
        var (code, output, error) = CliRunner.Run("impute", input.Path);
        Assert.Equal(2, code);
        Assert.Contains($"{input.Path}: cannot choose the model for imputation", error);
        Assert.Contains("give --components", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public void Impute_ModelHmm_ARowWithNothingObservedGetsTheRegimeAroundIt()
    {
        // Blocks of 100 rows at level 0 and level 10 in turn; rows 150 and 250 (in a level-10 and a level-0 block) are empty.
        // As a sequence each gets its block's level; as independent rows (the mixture) both get the overall mean, about 5.
        var random = new Random(4);
        var text = new System.Text.StringBuilder("label,x,y\n");
        for (var t = 0; t < 400; t++)
        {
            var level = t / 100 % 2 == 0 ? 0.0 : 10.0;
            text.Append(CultureInfo.InvariantCulture, $"r{t},");
            text.Append(t is 150 or 250 ? "," : string.Create(CultureInfo.InvariantCulture, $"{level + random.NextDouble() - 0.5:F4},{level + random.NextDouble() - 0.5:F4}"));
            text.Append('\n');
        }

        using var input = new CliRunner.TempFile(content: text.ToString());
        var (code, output, error) = CliRunner.Run("impute", input.Path, "--model", "hmm", "--states", "2", "--seed", "1");
        Assert.True(code == 0, error);
        Assert.Contains("2 rows have no observed value", error);
        var lines = output.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');
        Assert.Equal(401, lines.Length);
        double Field(string line, int c) => double.Parse(line.Split(',')[c], CultureInfo.InvariantCulture);
        Assert.StartsWith("r150,", lines[151]);
        Assert.InRange(Field(lines[151], 1), 9.5, 10.5);
        Assert.InRange(Field(lines[151], 2), 9.5, 10.5);
        Assert.InRange(Field(lines[251], 1), -0.5, 0.5);
        Assert.Equal(text.ToString().Split('\n')[1], lines[1]);

        var (mixtureCode, mixture, mixtureError) = CliRunner.Run("impute", input.Path, "--components", "2", "--seed", "1");
        Assert.True(mixtureCode == 0, mixtureError);
        Assert.InRange(Field(mixture.Replace("\r\n", "\n").Split('\n')[151], 1), 4.0, 6.0);
    }

    [Theory]
    [InlineData("--model hmm --components 2", "use --states")]
    [InlineData("--states 2", "--states applies to --model hmm")]
    [InlineData("--model hmm --select-k 1..3", "--select-k applies to --model gmm")]
    [InlineData("--model hmm --covariance tied", "full or diag")]
    [InlineData("--model hmm --states 0", "--states must be at least 1")]
    [InlineData("--model markov", "not one of gmm, hmm")]
    public void Impute_ModelFlagsThatDoNotFit_ExitTwoBeforeReadingTheFile(string flags, string message)
    {
        var missing = Path.Combine(Path.GetTempPath(), $"emstream-test-{Guid.NewGuid():N}.csv");
        var (code, output, error) = CliRunner.Run(["impute", missing, .. flags.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.Equal(string.Empty, output);
    }
}
