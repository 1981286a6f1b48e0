using System.Diagnostics;

namespace EmStreaming.Cli.Tests.Output;

/// <summary>
/// Every file a command writes goes through a temporary file: a write that fails part-way leaves the previous file intact and
/// no temporary file behind. Unix only: the full disk is a shell's file-size limit.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class OutputPathTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("emstream-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Each file a command writes: the flag, the command, its data file and the rest of its arguments (every output is over 1 KiB).</summary>
    public static TheoryData<string, string, string, string[]> Writes => new()
    {
        { "--save", "fit", "iris.csv", ["--components", "3"] },
        { "--save-state", "stream", "iris.csv", ["--components", "3"] },
        { "--viterbi", "fit", "dax-returns.csv", ["--model", "hmm", "--states", "2", "--max-iter", "3", "--json"] },
        { "--output", "impute", "iris.csv", ["--components", "1"] },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public void Write_DiskFullPartWay_KeepsThePreviousFile_NoTemporaryFileLeft(string flag, string command, string data, string[] rest)
    {
        // A full disk, simulated by the file-size limit (ulimit -f 1: writes past 1 KiB fail with EFBIG, the signal ignored);
        // every output here is larger than that. Written in place, the good file was truncated to a corrupt first KiB.
        var target = Path.Combine(_directory, "previous.out");
        var previous = "the previous, good file\n"u8.ToArray();
        File.WriteAllBytes(target, previous);

        var (code, error) = RunWithFileSizeLimit([command, CliRunner.DataFile(data), .. rest, flag, target]);

        Assert.Equal(previous, File.ReadAllBytes(target));
        Assert.Equal([target], Directory.GetFiles(_directory));
        Assert.True(code == 2, $"exit {code}: {error}");
        Assert.Contains($"{flag}: cannot write {target}", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [MemberData(nameof(Writes))]
    public void Write_NoLimit_ReplacesThePreviousFile_KeepsItsMode_NoTemporaryFileLeft(string flag, string command, string data, string[] rest)
    {
        // The control for the test above: the same commands without the limit do write, larger than the limit.
        var target = Path.Combine(_directory, "previous.out");
        File.WriteAllText(target, "the previous file\n");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var (code, _, error) = CliRunner.Run([command, CliRunner.DataFile(data), .. rest, flag, target]);

        Assert.True(code == 0, error);
        Assert.True(new FileInfo(target).Length > 1024);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(target));
        Assert.Equal([target], Directory.GetFiles(_directory));
    }

    /// <summary>Runs the built emstream in a shell whose file-size limit is 1 KiB, SIGXFSZ ignored so a write fails instead of killing it.</summary>
    private static (int Code, string Error) RunWithFileSizeLimit(string[] args)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "emstream.dll");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("trap '' XFSZ; ulimit -f 1; exec dotnet \"$@\"");
        info.ArgumentList.Add("bash");
        info.ArgumentList.Add(program);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // The runtime's write-xor-execute double mapping needs a file larger than the limit: off, or the runtime cannot start.
        info.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        _ = output.GetAwaiter().GetResult();
        return (process.ExitCode, error.GetAwaiter().GetResult());
    }

    [Theory]
    [MemberData(nameof(Writes))]
    public void Write_ThroughASymbolicLink_UpdatesItsTarget_TheLinkStays(string flag, string command, string data, string[] rest)
    {
        // A rename over the link replaced it with a regular file: the file it pointed to kept the old content.
        var real = Directory.CreateDirectory(Path.Combine(_directory, "real")).FullName;
        var target = Path.Combine(real, "model.out");
        File.WriteAllText(target, "old\n");
        var link = Path.Combine(_directory, "link.out");
        File.CreateSymbolicLink(link, target);

        var (code, _, error) = CliRunner.Run([command, CliRunner.DataFile(data), .. rest, flag, link]);

        Assert.True(code == 0, error);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.True(new FileInfo(target).Length > 1_000, "the link's target holds the new output");
        Assert.Equal([target], Directory.GetFiles(real));
    }
}
