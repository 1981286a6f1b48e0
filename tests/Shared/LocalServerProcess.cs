using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EmStreaming.Testing;

/// <summary>
/// A real server program (Azurite, redis-server) started by a test on loopback: its output is kept for the error
/// message, readiness is polled, and disposal kills the whole process tree and deletes its workspace.
/// </summary>
public sealed class LocalServerProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 200;
    private const int KeptFirstLines = 60;
    private readonly Process _process;
    private readonly Queue<string> _output = new();
    private readonly List<string> _first = []; // the start-up lines: why a program stopped is often there, before a flood of follow-on errors
    private long _skipped;
    private readonly string? _workspace;

    private LocalServerProcess(Process process, string? workspace)
    {
        _process = process;
        _workspace = workspace;
    }

    /// <summary>The program's name and arguments, for messages.</summary>
    public required string CommandLine { get; init; }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    /// <summary>
    /// Starts <paramref name="fileName"/>; <paramref name="workspace"/> (if any) is deleted on disposal; <paramref name="environment"/>
    /// adds variables to the inherited environment (a variable already set there wins).
    /// </summary>
    public static LocalServerProcess Start(string fileName, IReadOnlyList<string> arguments, string? workspace, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workspace ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            if (Environment.GetEnvironmentVariable(name) is null)
            {
                info.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = info };
        var server = new LocalServerProcess(process, workspace) { CommandLine = fileName + " " + string.Join(' ', arguments) };
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {server.CommandLine}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// The first and the last lines the program printed (stdout and stderr interleaved), with a marker for the lines in
    /// between that were not kept.
    /// </summary>
    public string OutputTail
    {
        get
        {
            lock (_output)
            {
                return _skipped == 0
                    ? string.Join('\n', _first.Concat(_output))
                    : string.Join('\n', _first.Append($"[… {_skipped} lines not kept …]").Concat(_output));
            }
        }
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it returns true. Fails with the program's output when the program exits
    /// first or <paramref name="timeout"/> passes, so a test never waits on a server that will not come.
    /// </summary>
    public async Task WaitUntilReadyAsync(Func<CancellationToken, Task<bool>> probe, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                // Its last lines (e.g. "error: cannot listen") may still be on their way to the output readers.
                await _process.WaitForExitAsync().ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"{what} exited with code {_process.ExitCode} before it answered ({CommandLine}). Its output:\n{OutputTail}");
            }

            using (var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            {
                try
                {
                    if (await probe(attempt.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is SocketException or IOException or HttpRequestException or OperationCanceledException)
                {
                    // Not listening yet.
                }
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"{what} did not answer within {timeout.TotalSeconds:0} s ({CommandLine}). Its output:\n{OutputTail}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts a server on fresh free ports and returns it once <paramref name="ready"/> holds. Another program may take a
    /// port between the check and the server's bind: a start whose output then contains <paramref name="portInUse"/> is
    /// retried on new ports (three attempts in all). Any other failure disposes the server and is thrown.
    /// </summary>
    public static async Task<T> StartOnFreePortsAsync<T>(
        int portCount, Func<int[], (LocalServerProcess Process, T Server)> start, Func<T, CancellationToken, Task<bool>> ready,
        TimeSpan timeout, string what, string portInUse, CancellationToken cancellationToken)
        where T : IAsyncDisposable
    {
        const int Attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (process, server) = start(FreePorts(portCount));
            try
            {
                await process.WaitUntilReadyAsync(c => ready(server, c), timeout, what).ConfigureAwait(false);
                return server;
            }
            catch (InvalidOperationException) when (attempt < Attempts && process.OutputTail.Contains(portInUse, StringComparison.Ordinal))
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>True when something accepts a TCP connection on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsConnectionsAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// <paramref name="count"/> distinct ports free on 127.0.0.1 right now (<see cref="LoopbackPorts"/>). Another program may
    /// still take one before the server binds it: callers retry a start that failed on its port.
    /// </summary>
    public static int[] FreePorts(int count) => LoopbackPorts.Free(count);

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string NewWorkspace(string prefix)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The repository root (the folder holding EmStreaming.sln) above the running test or tool.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EmStreaming.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"EmStreaming.sln not found above {AppContext.BaseDirectory}");
    }

    /// <summary>Kills the process at once (SIGKILL on Linux: no graceful stop, nothing flushed) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _process.Dispose();
            if (_workspace is not null)
            {
                try
                {
                    Directory.Delete(_workspace, recursive: true);
                }
                catch (IOException)
                {
                    // A file still held open by the dying process: the temp folder is cleaned by the OS.
                }
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_first.Count < KeptFirstLines)
            {
                _first.Add(line);
                return;
            }

            _output.Enqueue(line);
            if (_output.Count > KeptOutputLines)
            {
                _output.Dequeue();
                _skipped++;
            }
        }
    }
}
