using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EmStreaming.Cli.Client;

/// <summary>
/// A server answered with an error or could not be reached: printed as one line on stderr, exit code
/// <see cref="ExitCodes.ServerError"/>.
/// </summary>
internal sealed class ServerException(string message, int? status = null) : Exception(message)
{
    /// <summary>The HTTP status the server answered with; null when there was no answer.</summary>
    public int? Status { get; } = status;
}

/// <summary>Talks to an EmStreaming server's /v1 API; errors become <see cref="ServerException"/> with the problem's detail.</summary>
internal sealed class ServerClient : IDisposable
{
    public const string DefaultServer = "http://127.0.0.1:5080";
    public const string ServerVariable = "EMSTREAM_SERVER";
    public const string ApiKeyVariable = "EMSTREAM_API_KEY";

    private readonly HttpClient _http;

    public ServerClient(string? server, string? apiKey, TimeSpan? timeout = null)
    {
        var address = server ?? Environment.GetEnvironmentVariable(ServerVariable) ?? DefaultServer;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliException($"--server: '{address}' is not an http(s) URL such as {DefaultServer}");
        }

        BaseAddress = uri;
        _http = new HttpClient { BaseAddress = uri, Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        var key = apiKey ?? Environment.GetEnvironmentVariable(ApiKeyVariable);
        if (!string.IsNullOrEmpty(key))
        {
            _http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }

        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public Uri BaseAddress { get; }

    public void Dispose() => _http.Dispose();

    public Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(() => new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    public Task<JsonElement> PostJsonAsync(string path, string json, string? idempotencyKey, CancellationToken cancellationToken) =>
        SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            if (idempotencyKey is not null)
            {
                request.Headers.Add("Idempotency-Key", idempotencyKey);
            }

            return request;
        }, cancellationToken);

    /// <summary>Opens a server-sent event stream and yields (event type, data) pairs until it ends or is cancelled.</summary>
    public async IAsyncEnumerable<(string Type, string Data)> EventsAsync(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Clear();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response;
        _http.Timeout = Timeout.InfiniteTimeSpan;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            string? type = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    if (type is not null && data.Length > 0)
                    {
                        yield return (type, data.ToString());
                    }

                    type = null;
                    data.Clear();
                }
                else if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    type = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(line["data:".Length..].TrimStart());
                }
            }
        }
    }

    private async Task<JsonElement> SendAsync(Func<HttpRequestMessage> create, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            using var request = create();
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ServerException($"{BaseAddress} did not answer in time ({e.Message})");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
    }

    /// <summary>True for answers worth retrying (the server was busy or rate limited us).</summary>
    public static bool IsTransient(ServerException e) => e.Status is (int)HttpStatusCode.ServiceUnavailable or (int)HttpStatusCode.TooManyRequests;

    private ServerException Unreachable(HttpRequestException e) =>
        new(e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError
            ? $"cannot reach the server at {BaseAddress} (is 'emstream serve' running?): {e.Message}"
            : $"request to {BaseAddress} failed: {e.Message}");

    private static async Task<ServerException> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        try
        {
            var problem = JsonDocument.Parse(text).RootElement;
            var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var title = problem.TryGetProperty("title", out var t) ? t.GetString() : response.ReasonPhrase;
            return new ServerException($"HTTP {status} {title}: {detail ?? text}", status);
        }
        catch (JsonException)
        {
            return new ServerException($"HTTP {status} {response.ReasonPhrase}{(text.Length > 0 ? ": " + text : "")}", status);
        }
    }

    /// <summary>Escapes a model id for a URL path segment (ids are validated by the server).</summary>
    public static string Path(string id) => Uri.EscapeDataString(id);
}
