using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace EmStreaming.Client.Transport;

/// <summary>The <see cref="IEmStreamingClient"/> over one <see cref="HttpClient"/> (from IHttpClientFactory or <see cref="EmStreamingClientFactory"/>).</summary>
internal sealed class EmStreamingClient(HttpClient http) : IEmStreamingClient
{
    private const string JsonType = "application/json";

    public async Task<ModelPage> ListModelsAsync(string? prefix = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder("v1/models");
        var separator = '?';
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
                separator = '&';
            }
        }

        Add("prefix", prefix);
        Add("cursor", cursor);
        Add("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var page = await SendAsync<ModelPage>(HttpMethod.Get, query.ToString(), null, null, cancellationToken).ConfigureAwait(false);
        return page.Models is null || page.Models.Any(m => m?.Id is null || m.Definition is null || m.Status is null)
            ? throw new EmStreamingException($"{http.BaseAddress} answered GET v1/models without the list of models (id, definition, status) the API defines")
            : page;
    }

    public async IAsyncEnumerable<ModelInfo> ListAllModelsAsync(string? prefix = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        do
        {
            var page = await ListModelsAsync(prefix, cursor, 1000, cancellationToken).ConfigureAwait(false);
            foreach (var model in page.Models)
            {
                yield return model;
            }

            cursor = page.NextCursor;

            // A server that hands out a cursor it gave before would page forever.
            if (cursor is not null && !seen.Add(cursor))
            {
                throw new EmStreamingException($"{http.BaseAddress} answered GET v1/models with nextCursor '{cursor}' a second time; its paging does not move forward");
            }
        }
        while (cursor is not null);
    }

    public async Task<PutModelResult> PutModelAsync(string id, ModelDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var body = JsonContent.Create(definition, options: ClientJson.Options);
        using var response = await SendRawAsync(HttpMethod.Put, Model(id), body, null, cancellationToken).ConfigureAwait(false);
        var model = await ReadAsync<ModelInfo>(response, cancellationToken).ConfigureAwait(false);
        return new PutModelResult(model, response.StatusCode == HttpStatusCode.Created);
    }

    public Task<ModelInfo> GetModelAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<ModelInfo>(HttpMethod.Get, Model(id), null, null, cancellationToken);

    public async Task DeleteModelAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(HttpMethod.Delete, Model(id), null, null, cancellationToken).ConfigureAwait(false);
    }

    public Task<AppendResult> AppendAsync(string id, IReadOnlyList<double[]> rows, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        AppendCheckedAsync(Model(id, "observations"), Rows(ClientJson.Rows(rows)), idempotencyKey ?? NewKey(), cancellationToken);

    public Task<AppendResult> AppendAsync(string id, ReadOnlyMemory<double> values, int columns, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        AppendCheckedAsync(Model(id, "observations"), Rows(ClientJson.Rows(values, columns)), idempotencyKey ?? NewKey(), cancellationToken);

    /// <summary>The append itself (its arguments are checked synchronously, above). An answer without its list of rejected rows is not the API's: say so rather than hand out a null.</summary>
    private async Task<AppendResult> AppendCheckedAsync(string path, HttpContent body, string idempotencyKey, CancellationToken cancellationToken)
    {
        var result = await SendAsync<AppendResult>(HttpMethod.Post, path, body, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return result.Rejected is null || result.Rejected.Any(r => r is null)
            ? throw new EmStreamingException($"{http.BaseAddress} answered an append without the list of rejected rows the API defines")
            : result;
    }

    public Task<ModelState> GetStateAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<ModelState>(HttpMethod.Get, Model(id, "state"), null, null, cancellationToken);

    public Task<RecentRows> GetRecentAsync(string id, int? limit = null, CancellationToken cancellationToken = default) =>
        SendAsync<RecentRows>(HttpMethod.Get, Model(id, "recent") + (limit is { } n ? $"?limit={n}" : ""), null, null, cancellationToken);

    public Task<Prediction> PredictAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default) =>
        SendAsync<Prediction>(HttpMethod.Post, Model(id, "predict"), Rows(ClientJson.Rows(rows)), null, cancellationToken);

    public Task<RegimeFilter> FilterAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default) =>
        SendAsync<RegimeFilter>(HttpMethod.Post, Model(id, "filter"), Rows(ClientJson.Rows(rows)), null, cancellationToken);

    public async Task<double[][]> ImputeAsync(string id, IReadOnlyList<double[]> rows, CancellationToken cancellationToken = default) =>
        (await SendAsync<ImputeAnswer>(HttpMethod.Post, Model(id, "impute"), Rows(ClientJson.Rows(rows)), null, cancellationToken).ConfigureAwait(false)).Rows;

    public async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default) =>
        await SendAsync<SnapshotInfo[]>(HttpMethod.Get, Model(id, "snapshots"), null, null, cancellationToken).ConfigureAwait(false);

    public Task<Snapshot> GetSnapshotAsync(string id, long version, CancellationToken cancellationToken = default) =>
        SendAsync<Snapshot>(HttpMethod.Get, Model(id, $"snapshots/{version}"), null, null, cancellationToken);

    public Task<Snapshot> GetSnapshotAtAsync(string id, DateTimeOffset time, CancellationToken cancellationToken = default) =>
        SendAsync<Snapshot>(HttpMethod.Get, Model(id, "snapshots/at") + "?time=" + Uri.EscapeDataString(time.ToString("O", System.Globalization.CultureInfo.InvariantCulture)), null, null, cancellationToken);

    public Task<ModelInfo> RestoreSnapshotAsync(string id, long version, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return SendAsync<ModelInfo>(HttpMethod.Post, Model(id, $"snapshots/{version.ToString(System.Globalization.CultureInfo.InvariantCulture)}/restore"), null, null, cancellationToken);
    }

    public Task<RefitResult> RefitAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<RefitResult>(HttpMethod.Post, Model(id, "refit"), null, null, cancellationToken);

    public async IAsyncEnumerable<ModelEvent> EventsAsync(string? id = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, id is null ? "v1/events" : Model(id, "events"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Options.Set(RetryHandler.SafeToRepeat, true);
        using var response = await SendCheckedAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var e in ServerSentEvents.ReadAsync(body, cancellationToken).ConfigureAwait(false))
        {
            yield return e;
        }
    }

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "readyz");
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static string Model(string id, string? rest = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return rest is null ? $"v1/models/{Uri.EscapeDataString(id)}" : $"v1/models/{Uri.EscapeDataString(id)}/{rest}";
    }

    private static ByteArrayContent Rows(byte[] json)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue(JsonType);
        return content;
    }

    private static string NewKey() => "client-" + Guid.NewGuid().ToString("N");

    private async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, content, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent? content, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        // Reads, queries and keyed writes may be sent again after a connection failure; a bare write may not.
        var safe = method == HttpMethod.Get || method == HttpMethod.Put || method == HttpMethod.Delete || idempotencyKey is not null
            || path.EndsWith("/predict", StringComparison.Ordinal) || path.EndsWith("/filter", StringComparison.Ordinal) || path.EndsWith("/impute", StringComparison.Ordinal);
        request.Options.Set(RetryHandler.SafeToRepeat, safe);
        return await SendCheckedAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendCheckedAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new EmStreamingException(
                e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError
                    ? $"cannot reach the server at {http.BaseAddress}: {e.Message}"
                    : $"request to {http.BaseAddress} failed: {e.Message}",
                inner: e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EmStreamingException($"{http.BaseAddress} did not answer within {http.Timeout.TotalSeconds:0.#} s", inner: e);
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ProblemReader.ToExceptionAsync(response, cancellationToken).ConfigureAwait(false);
            }
        }

        return response;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        T? value;
        try
        {
            value = await response.Content.ReadFromJsonAsync<T>(ClientJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            // Something else answering at that address (an HTML page, a proxy), or a server of another version: a server
            // problem, reported as one, not a deserializer's stack trace.
            var request = response.RequestMessage;
            throw new EmStreamingException(
                $"{request?.Method} {request?.RequestUri} answered {(int)response.StatusCode} with a body that is not the API's JSON ({response.Content.Headers.ContentType?.MediaType ?? "no Content-Type"}): {e.Message}",
                inner: e);
        }

        return value ?? throw new EmStreamingException($"the server answered {(int)response.StatusCode} without a body");
    }

    private sealed record ImputeAnswer(double[][] Rows);
}
