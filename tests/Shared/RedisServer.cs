using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmStreaming.Testing;

/// <summary>
/// redis-server (Debian's, installed by tests/setup.sh) on 127.0.0.1 and a free port, with no persistence (no RDB
/// snapshots, no AOF) and a temp working folder. Killed on disposal. A missing redis-server is an error, never a skip.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly LocalServerProcess _process;

    private RedisServer(LocalServerProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>redis-server on the PATH (or <c>/usr/bin/redis-server</c>).</summary>
    public static string Executable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator))
        {
            var path = Path.Combine(dir, "redis-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException(
            "redis-server is not installed (not on the PATH). Run `bash tests/setup.sh` as root (it installs Debian's redis-server).");
    }

    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var executable = Executable();
        return await LocalServerProcess.StartOnFreePortsAsync(1, ports =>
        {
            var workspace = LocalServerProcess.NewWorkspace("emstream-redis");
            string[] arguments =
            [
                "--bind", "127.0.0.1", "--port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--save", "", "--appendonly", "no", "--dir", workspace, "--daemonize", "no", "--loglevel", "warning",
            ];
            var process = LocalServerProcess.Start(executable, arguments, workspace);
            return (process, new RedisServer(process, ports[0]));
        }, (server, c) => server.AnswersPingAsync(c), TimeSpan.FromSeconds(30), "redis-server", "Address already in use", cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>True when the server answers PING with +PONG (the inline protocol, so no client library is needed here).</summary>
    public async Task<bool> AnswersPingAsync(CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
    }
}
