using System.Diagnostics;

namespace EmStreaming.Cli.Tests.Client;

/// <summary>
/// The real server, <c>emstream serve</c>, run in this process on free loopback ports with its own data directory, for client
/// commands whose answers only a real server should give; stopped (as by Ctrl+C) and its directory deleted at dispose.
/// </summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(120);
    private readonly CancellationTokenSource _stop = new();
    private readonly StringWriter _output = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("emstream-test-").FullName;
    private Task<int>? _run;

    public string Url { get; private set; } = "";

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<InProcessServer> StartAsync()
    {
        var server = new InProcessServer();
        var ports = EmStreaming.Testing.LoopbackPorts.Free(3);
        server.Url = $"http://127.0.0.1:{ports[0]}";
        string[] args = ["serve", "--urls", server.Url, "--data-dir", server._directory, $"--Orleans:SiloPort={ports[1]}", $"--Orleans:GatewayPort={ports[2]}"];
        var writer = TextWriter.Synchronized(server._output);
        server._run = Task.Run(() => EmStreamCli.Run(args, writer, writer, cancellation: server._stop.Token));
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (server._run.IsCompleted)
            {
                throw new InvalidOperationException($"emstream serve exited with {await server._run}: {server._output}");
            }

            try
            {
                if ((await server.Http.GetAsync($"{server.Url}/readyz")).IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (clock.Elapsed > StartDeadline)
            {
                await server.DisposeAsync();
                throw new TimeoutException($"emstream serve did not get ready in {StartDeadline}: {server._output}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run.WaitAsync(StartDeadline);
        }

        _stop.Dispose();
        Http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
