namespace EmStreaming.Cli.Tests;

/// <summary>Inputs a careless or hostile user gives every command: each is exit 2 with one line saying what is wrong.</summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("emstream-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static void OneLineNoStackTrace(string error)
    {
        Assert.DoesNotContain("   at ", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("file", "fit", "{dir}", "-k", "1")]
    [InlineData("file", "impute", "{dir}")]
    [InlineData("file", "stream", "{dir}", "-k", "1")]
    [InlineData("file", "predict", "{model}", "{dir}")]
    [InlineData("model file", "predict", "{dir}", "{csv}")]
    [InlineData("file", "replay", "{dir}", "--model", "m", "--server", "http://127.0.0.1:1")]
    [InlineData("--resume-state: state file", "stream", "{csv}", "--resume-state", "{dir}")]
    public void Command_ADirectoryWhereAFileIsRead_SaysItIsADirectory(string kind, params string[] args)
    {
        // It was "file not found" (or, for --resume-state, "access denied"): misleading when the path is right there.
        var csv = Path.Combine(_directory, "data.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,7\n");
        var model = Path.Combine(_directory, "model.json");
        Assert.Equal(0, CliRunner.Run("fit", csv, "-k", "1", "--save", model).ExitCode);
        var dir = Directory.CreateDirectory(Path.Combine(_directory, "a-directory.csv")).FullName;

        var (code, _, error) = CliRunner.Run([.. args.Select(a => a.Replace("{dir}", dir).Replace("{csv}", csv).Replace("{model}", model))]);

        Assert.True(code == 2, error);
        Assert.Contains($"{kind} {dir} is a directory, not a file", error);
        OneLineNoStackTrace(error);
    }

    [Theory]
    // Past the online estimators' limits the options' validation named settings the user never typed.
    [InlineData("--components must be below 1000 for stream (was 1000)", "stream", "{csv}", "-k", "1000")]
    [InlineData("--states must be at most 1000 for stream (was 1001)", "stream", "{csv}", "--model", "hmm", "--states", "1001")]
    // A number that does not fit named the .NET type: 'System.Nullable`1[System.Int32]'.
    [InlineData("Cannot parse argument '99999999999' for option '--components' as a whole number from -2147483648 to 2147483647", "fit", "{csv}", "-k", "99999999999")]
    [InlineData("Cannot parse argument '-1' for option '--seed' as a whole number from 0 to 18446744073709551615", "fit", "{csv}", "-k", "1", "--seed", "-1")]
    [InlineData("Cannot parse argument 'x' for option '--timeout' as a number", "watch", "--timeout", "x")]
    // The core's ArgumentException printed " (Parameter 'data')" after the sentence; the check before fitting names the file.
    [InlineData("{csv}: 3 rows, fewer than the 4 components --components 4 asks for (a component needs at least one row)", "fit", "{csv}", "-k", "4")]
    // Sizes the options took without a bound: an OverflowException's and an OutOfMemoryException's stack traces (exit 1).
    [InlineData("--chunk-rows must be between 1 and 1048576", "stream", "{csv}", "-k", "1", "--chunk-rows", "2147483647")]
    [InlineData("--batch-size must be between 1 and 10000", "stream", "{csv}", "-k", "1", "--batch-size", "2147483647")]
    public void Command_ValueBeyondWhatItTakes_OneLineInTheUsersTerms(string expected, params string[] args)
    {
        var csv = Path.Combine(_directory, "data.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,7\n");

        var (code, _, error) = CliRunner.Run([.. args.Select(a => a.Replace("{csv}", csv))]);

        Assert.True(code == 2, error);
        Assert.StartsWith($"error: {expected.Replace("{csv}", csv)}", error);
        Assert.DoesNotContain("(Parameter '", error);
        Assert.DoesNotContain("System.", error);
        Assert.DoesNotContain("Actual value", error);
    }

    [Theory]
    [InlineData("fit", "{csv}", "-k", "1", "--max-iter", "2147483647")]
    [InlineData("fit", "{csv}", "--model", "hmm", "--states", "1", "--max-iter", "2147483647")]
    public void Fit_MaxIterAsLargeAsItGoes_IsABoundNotASize_FitsAndConverges(params string[] args)
    {
        // The iteration trace was allocated with MaxIterations as its capacity: an OutOfMemoryException (gmm) and an
        // overflow of MaxIterations + 1 (hmm) before a single iteration.
        var csv = Path.Combine(_directory, "data.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,7\n2,2\n4,5\n");

        var (code, output, error) = CliRunner.Run([.. args.Select(a => a.Replace("{csv}", csv)), "--json"]);

        Assert.True(code == 0, error);
        Assert.Contains("\"converged\":true", output.Replace(" ", ""));
    }
}
