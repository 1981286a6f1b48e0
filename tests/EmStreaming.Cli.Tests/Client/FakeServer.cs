using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmStreaming.Cli.Tests.Client;

/// <summary>
/// A loopback HTTP/1.1 server that answers every request with what <c>respond</c> returns for its method and path (one
/// request per connection), and records the requests: for client commands against servers that misbehave.
/// </summary>
internal sealed class FakeServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, string, string> _respond;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="respond">The raw HTTP response (status line, headers, blank line, body) for a method and path.</param>
    public FakeServer(Func<string, string, string> respond)
    {
        _respond = respond;
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>"METHOD path" of each request received.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>A complete response with a Content-Length.</summary>
    public static string Answer(int status, string contentType, string body) =>
        $"HTTP/1.1 {status} X\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer, _stop.Token) == 1)
                {
                    head.Append((char)buffer[0]);
                }

                var lines = head.ToString().Split("\r\n");
                var length = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    .Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
                var body = new byte[length];
                for (var read = 0; read < length;)
                {
                    var n = await stream.ReadAsync(body.AsMemory(read), _stop.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                var parts = lines[0].Split(' ');
                var (method, path) = (parts[0], parts.Length > 1 ? parts[1] : "");
                Requests.Enqueue($"{method} {path}");
                var answer = Encoding.UTF8.GetBytes(_respond(method, path));
                await stream.WriteAsync(answer, _stop.Token);
                await stream.FlushAsync(_stop.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
            }
        }
    }
}
