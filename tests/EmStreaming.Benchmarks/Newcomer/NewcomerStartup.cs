using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EmStreaming.Testing;

namespace EmStreaming.Benchmarks.Newcomer;

/// <summary>
/// The newcomer's wait: from starting <c>emstream serve --demo</c> on a fresh data directory until the dashboard has
/// something live to show, i.e. the API lists all 14 demo models (12 sensors, 2 markets) and none is warming up. The
/// dashboard draws exactly what this polls; the browser test checks what it draws, without a tight time limit.
/// </summary>
internal static class NewcomerStartup
{
    private const int DemoModels = 14;

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var emstream = args.FirstOrDefault() ?? FindEmstream();
        var directory = Path.Combine(Path.GetTempPath(), "emstreaming-newcomer-" + Guid.NewGuid().ToString("N"));
        var port = LoopbackPorts.Free();
        var url = $"http://127.0.0.1:{port}";
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { emstream, "serve", "--demo", "--urls", url, "--data-dir", directory, $"--Orleans:SiloPort={LoopbackPorts.Free()}", $"--Orleans:GatewayPort={LoopbackPorts.Free()}" })
        {
            info.ArgumentList.Add(a);
        }

        output.WriteLine($"newcomer: {emstream} serve --demo on {url}; load average before: {LoadAverage()}");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var started = Stopwatch.StartNew();
        using var server = Process.Start(info)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            TimeSpan? listening = null;
            while (started.Elapsed < TimeSpan.FromMinutes(5) && !server.HasExited)
            {
                try
                {
                    var page = await http.GetFromJsonAsync<JsonElement>($"{url}/v1/models?limit=100").ConfigureAwait(false);
                    listening ??= started.Elapsed;
                    var models = page.GetProperty("models").EnumerateArray().ToArray();
                    var live = models.Count(m => !m.GetProperty("status").GetProperty("warmingUp").GetBoolean());
                    if (models.Length >= DemoModels && live >= DemoModels)
                    {
                        output.WriteLine($"API answering after {listening.Value.TotalSeconds:F1} s; all {DemoModels} demo models live after {started.Elapsed.TotalSeconds:F1} s; load average {LoadAverage()}");
                        return 0;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                await Task.Delay(100).ConfigureAwait(false);
            }

            output.WriteLine($"the demo models were not all live after {started.Elapsed.TotalSeconds:F0} s");
            return 1;
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync().ConfigureAwait(false);
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string FindEmstream()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "EmStreaming.Cli", "bin", "Release", "net10.0", "emstream.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("build src/EmStreaming.Cli in Release first, or pass the path of emstream.dll");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
