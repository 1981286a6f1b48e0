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
}
