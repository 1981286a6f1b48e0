using EmStreaming.Cli;

namespace EmStreaming.Cli.Tests;

/// <summary>Runs <c>emstream</c> in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = EmStreamCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", name);

    /// <summary>A temporary file deleted at dispose.</summary>
    public sealed class TempFile : IDisposable
    {
        public TempFile(string extension = ".csv", string? content = null)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"emstream-test-{Guid.NewGuid():N}{extension}");
            if (content is not null)
            {
                File.WriteAllText(Path, content);
            }
        }

        public string Path { get; }

        public void Dispose()
        {
            if (File.Exists(Path))
            {
                File.Delete(Path);
            }
        }
    }
}
