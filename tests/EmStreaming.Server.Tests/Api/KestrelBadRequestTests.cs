using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EmStreaming.Server.Hosting;
using EmStreaming.Server.Tests.Support;
using Microsoft.AspNetCore.Builder;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// Requests Kestrel itself refuses before any middleware runs, sent as raw bytes to a real listening server (an HTTP
/// client would re-encode them): the answer is still problem+json naming the field.
/// </summary>
public sealed class KestrelBadRequestTests : IAsyncLifetime
{
    private readonly int _port = TestPaths.FreePort();
    private WebApplication? _app;

    public async Task InitializeAsync()
    {
        _app = EmStreamingServer.Build(new ServerLaunchOptions
        {
            Urls = $"http://127.0.0.1:{_port}",
            Args = ["--Storage:Provider=InMemory", "--Demo:Enabled=false", "--RateLimiting:Enabled=false", "--Logging:LogLevel:Default=Warning"],
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task<(int Status, string ContentType, string Body)> RawAsync(string requestLine, string accept = "text/event-stream")
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var status = int.Parse((await reader.ReadLineAsync())!.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var contentType = "";
        var length = 0;
        while (await reader.ReadLineAsync() is { Length: > 0 } header)
        {
            if (header.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))
            {
                contentType = header["Content-Type:".Length..].Trim();
            }
            else if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        var body = new char[length];
        var read = 0;
        while (read < length && await reader.ReadAsync(body.AsMemory(read)) is var n and > 0)
        {
            read += n;
        }

        return (status, contentType, new string(body, 0, read));
    }

    /// <summary>Sends <paramref name="request"/> as raw bytes on a connection of its own (it should say Connection: close) and reads the whole answer.</summary>
    private async Task<string> ExchangeAsync(string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    [Theory]
    [InlineData("GET /v1/models/a%00b HTTP/1.1", "id")]
    [InlineData("GET /v1/models/%00 HTTP/1.1", "id")]
    [InlineData("POST /v1/models/x%00/observations HTTP/1.1", "id")]
    [InlineData("GET /v1/models/x/state%00 HTTP/1.1", "path")]
    [InlineData("GET /%00 HTTP/1.1", "path")]
    [InlineData("GET /v1/models HTTP/1.1 trailing", "request")]
    [InlineData("GET /v1/models HTTP/9.9", "request")]
    public async Task RejectedByKestrel_AnswersProblemJsonNamingTheField(string requestLine, string field)
    {
        var (status, contentType, body) = await RawAsync(requestLine);
        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", contentType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal(field, problem.GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("GET /v1/models/%2E%2E/x/y HTTP/1.1", "GET /v1/x/y (sent as /v1/models/%2E%2E/x/y)")]
    [InlineData("DELETE /v1/models/../nothing HTTP/1.1", "DELETE /v1/nothing (sent as /v1/models/../nothing)")]
    public async Task UnknownRoute_DotSegments_DetailShowsWhatWasSentAndWhatItResolvedTo(string requestLine, string shown)
    {
        // Kestrel resolves dot segments before routing: a detail naming only the resolved path did not match the request.
        var answer = await ExchangeAsync($"{requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 404 ", answer, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", answer, StringComparison.Ordinal);
        Assert.Contains($"\"detail\":\"no endpoint answers {shown};", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OrdinaryAnswers_PassThroughUnchanged()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        await (await http.GetAsync("/v1/models?limit=abc")).AssertProblemAsync(400, "limit");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        var put = await http.PutAsync("/v1/models/kestrel:ok", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var append = await http.PostAsync("/v1/models/kestrel:ok/observations", Http.Body("a,b\n1,2\n3,4\n", "text/csv"));
        Assert.Equal(2, (await append.ReadJsonAsync()).GetProperty("accepted").GetInt32());
    }

    [Fact]
    public async Task TransferCodingOtherThanChunked_Returns415NamingTransferEncodingAndAppliesNothing()
    {
        // Kestrel removes "chunked" and hands the rest (gzip) over still encoded: the body was read as gzip bytes and
        // refused as "not valid JSON", or, sent uncompressed under that label, applied.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/models/kestrel:te", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""))).StatusCode);
        const string json = """{"rows":[[1,2]]}""";
        var answer = await ExchangeAsync(
            "POST /v1/models/kestrel:te/observations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n" +
            $"Connection: close\r\n\r\n{json.Length:x}\r\n{json}\r\n0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 415 ", answer, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", answer, StringComparison.Ordinal);
        Assert.Contains("\"field\":\"Transfer-Encoding\"", answer, StringComparison.Ordinal);
        var model = await (await http.GetAsync("/v1/models/kestrel:te")).ReadJsonAsync();
        var status = model.GetProperty("status");
        Assert.Equal(0, status.GetProperty("observations").GetInt64() + status.GetProperty("pendingObservations").GetInt64());
    }

    [Theory]
    [InlineData("POST", "/v1/models/kestrel:chunk/observations", "80000000")]
    [InlineData("POST", "/v1/models/kestrel:chunk/observations", "ffffffffffffffff")]
    [InlineData("POST", "/v1/models/kestrel:chunk/predict", "100000000")]
    [InlineData("PUT", "/v1/models/kestrel:chunk-new", "ffffffffffffffff")]
    public async Task ChunkSizePastIntMax_Returns400NamingBodyAndChangesNothing(string method, string path, string size)
    {
        // Kestrel throws a bare IOException ("Bad chunk size data.") for a chunk size it cannot hold, not its usual
        // BadHttpRequestException: the answer was a 500 and a logged "unhandled error".
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/models/kestrel:chunk", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""))).StatusCode);
        var answer = await ExchangeAsync(
            $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
            $"Connection: close\r\n\r\n{size}\r\n{{\"rows\":[[1,2]]}}");
        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", answer, StringComparison.Ordinal);
        Assert.Contains("\"field\":\"body\"", answer, StringComparison.Ordinal);
        Assert.Contains("chunk", answer, StringComparison.Ordinal);
        var status = (await (await http.GetAsync("/v1/models/kestrel:chunk")).ReadJsonAsync()).GetProperty("status");
        Assert.Equal(0, status.GetProperty("observations").GetInt64() + status.GetProperty("pendingObservations").GetInt64());
        await (await http.GetAsync("/v1/models/kestrel:chunk-new")).AssertProblemAsync(404, "id");
    }
}
