using EmStreaming.Cli;

namespace EmStreaming.Cli.Tests;

/// <summary>The exit codes the README lists, each provoked: 130 for Ctrl+C, 1 for a failure the CLI did not expect.</summary>
public sealed class ExitCodeTests
{
    [Theory]
    [InlineData("fit", "--save", "--components", "2")]
    [InlineData("stream", "--save-state", "--components", "2")]
    public void Run_CancelledByCtrlC_Exits130_LeavesThePreviousFile(string command, string flag, params string[] rest)
    {
        using var target = new CliRunner.TempFile(".out", "the previous file");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var error = new StringWriter();

        var code = EmStreamCli.Run([command, CliRunner.DataFile("faithful.csv"), .. rest, flag, target.Path], new StringWriter(), error, cancellation: cancelled.Token);

        Assert.Equal(130, code);
        Assert.Equal("cancelled", error.ToString().Trim());
        Assert.Equal("the previous file", File.ReadAllText(target.Path));
    }

    [Fact]
    public void Run_UnexpectedFailure_ExitsOneWithTheStackTraceToReport()
    {
        // A failure no command expects (here the output writer's): exit 1 as documented, not the runtime's abort (134).
        var error = new StringWriter();
        var code = EmStreamCli.Run(["fit", CliRunner.DataFile("faithful.csv"), "--components", "2", "--json"], new ThrowingWriter(), error);

        Assert.Equal(1, code);
        Assert.StartsWith("error: unexpected failure (a bug: please report it): System.InvalidOperationException: the test's writer", error.ToString());
        Assert.Contains("   at ", error.ToString());
    }

    private sealed class ThrowingWriter : StringWriter
    {
        public override void Write(char value) => throw new InvalidOperationException("the test's writer");

        public override void Write(string? value) => throw new InvalidOperationException("the test's writer");

        public override void WriteLine(string? value) => throw new InvalidOperationException("the test's writer");
    }
}
