using System.Net;
using System.Text;
using System.Text.Json;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.RealSilo;

/// <summary>
/// Hostile requests over every endpoint, content type and Accept header, against the real model grains: never a
/// 5xx, every error problem+json, and every 400 names the field at fault. A seeded generator adds random bodies to
/// the hand-picked cases, so a failure is reproducible from the request it prints.
/// </summary>
public sealed class HostileInputTests(RealSiloFactory factory) : IClassFixture<RealSiloFactory>
{
    private const string Existing = "hostile:gmm";
    private const string ExistingHmm = "hostile:hmm";

    private static readonly string[] Ids =
    [
        Existing, ExistingHmm, "hostile:nobody", "a%20b", "..", "%2E%2E", ".", "x%2Fy", "%C3%A9", new string('a', 129), "%FF", "a%0Ab",
        "%E2%80%AE", "tpl-new", "CON", "-", "a:b:c", "%25", "%",
    ];

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/x-ndjson", "text/csv", "application/xml", "text/plain", "application/json; charset=utf-16",
        "multipart/form-data; boundary=x", "*/*", ";;;", "application/problem+json", "text/csv; header=absent",
    ];

    private static readonly string[] Accepts = ["application/json", "text/event-stream", "text/html", "text/csv", "*/*", "garbage;;q=", ""];

    private static readonly string[] Bodies =
    [
        "", " ", "null", "[]", "{}", "\"rows\"", "{\"rows\":null}", "{\"rows\":{}}", "{\"rows\":[null]}", "{\"rows\":[[true,false]]}",
        "{\"rows\":[[1,2]],\"rows\":[[3,4]]}", "{\"rows\":[[1e308,1e308]]}", "{\"rows\":[[-0,0]]}", "{\"rows\":[[1,2],]}",
        "{\"rows\":[[1,2]]} trailing", "{\"rows\":[[1,2]] /* comment */}", "\uFEFF{\"rows\":[[1,2]]}", "{\"rows\":[[1,2]",
        "{\"rows\":[[\"1\",\"2\"]]}", "{\"rows\":[[{},[]]]}", new string('[', 10_000), "{\"kind\":\"gmm\",\"dimension\":2,\"components\":2}",
        "{\"kind\":\"gmm\",\"dimension\":1e999,\"components\":2}", "{\"kind\":\"hmm\",\"dimension\":2,\"states\":-1}", "{\"kind\":7}",
        "{\"kind\":\"gmm\",\"dimension\":2,\"components\":2,\"refit\":{\"everySeconds\":1e300}}", "{\"kind\":\"gmm\",\"dimension\":65,\"components\":2}",
        "{\"kind\":\"gmm\",\"dimension\":2,\"components\":2,\"seed\":-1}", "{\"kind\":\"gmm\",\"dimension\":2,\"components\":2,\"extra\":1}",
        "[1,2]\n[3,4]\n", "[1,2]\n{\"a\":1}\n", "[1,2] [3,4]\n", "[1,\n2]\n", "1,2\n3,4\n", "a,b\n1,2\n", "a,b\n", "\"1,5\",2\n",
        "1,\"2\n3,4\n", "1,2\r3,4\r", "1;2\n3;4\n", "NA,NA\n", ",\n", "\0\0\0", "\u00e9,\u00e8\n1,2\n",
        string.Join(',', Enumerable.Range(0, 1000)) + "\n", string.Concat(Enumerable.Repeat("1,2\n", 3000)),
    ];

    private static readonly string[] Queries =
    [
        "", "?limit=abc", "?limit=1e12", "?limit=-1", "?limit=0", "?limit=", "?limit=5&limit=6", "?prefix=%00", "?prefix=a%20b",
        "?prefix=" + new string('p', 300), "?cursor=%%%", "?cursor=AAAA", "?cursor=" + new string('z', 5000), "?time=yesterday",
        "?time=9999-99-99", "?time=", "?version=1", "?api_key=x",
    ];

    private const string Mutations = "[]{},:\"0123456789-.eNAn \n";

    private readonly HttpClient _client = factory.CreateClient();

    private static string[] Paths(string id) =>
    [
        $"/v1/models/{id}", $"/v1/models/{id}/observations", $"/v1/models/{id}/state", $"/v1/models/{id}/recent",
        $"/v1/models/{id}/predict", $"/v1/models/{id}/filter", $"/v1/models/{id}/impute", $"/v1/models/{id}/snapshots",
        $"/v1/models/{id}/snapshots/0", $"/v1/models/{id}/snapshots/-1", $"/v1/models/{id}/snapshots/99999999999999999999",
        $"/v1/models/{id}/snapshots/at", $"/v1/models/{id}/refit", $"/v1/models/{id}/events",
    ];

    private static readonly HttpMethod[] Methods = [HttpMethod.Get, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Head, HttpMethod.Options];

    [Fact]
    public async Task EveryEndpoint_HandPickedHostileRequests_NeverA5xxAlwaysProblemJson()
    {
        await SetUpAsync();
        var failures = new List<string>();
        var random = new Random(12);
        var requests = 0;
        foreach (var id in Ids)
        {
            foreach (var path in Paths(id))
            {
                foreach (var method in Methods)
                {
                    // Each path and method meets a few bodies, content types, queries and Accept headers: broad, not exhaustive.
                    for (var i = 0; i < 3; i++)
                    {
                        var body = method == HttpMethod.Get || method == HttpMethod.Head ? null : Bodies[random.Next(Bodies.Length)];
                        await CheckAsync(method, path + Queries[random.Next(Queries.Length)], body, ContentTypes[random.Next(ContentTypes.Length)], Accepts[random.Next(Accepts.Length)], failures);
                        requests++;
                    }
                }
            }
        }

        foreach (var query in Queries)
        {
            foreach (var accept in Accepts)
            {
                await CheckAsync(HttpMethod.Get, "/v1/models" + query, null, null, accept, failures);
                requests++;
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {requests} requests broke the contract:\n{string.Join("\n", failures.Take(30))}");
    }

    [Fact]
    public async Task RowEndpoints_EveryBodyAndContentType_NeverA5xxAndEvery400NamesAField()
    {
        await SetUpAsync();
        var failures = new List<string>();
        foreach (var path in new[] { "observations", "predict", "filter", "impute" })
        {
            foreach (var body in Bodies)
            {
                foreach (var contentType in ContentTypes)
                {
                    await CheckAsync(HttpMethod.Post, $"/v1/models/{Existing}/{path}", body, contentType, "application/json", failures);
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} requests broke the contract:\n{string.Join("\n", failures.Take(30))}");
    }

    [Fact]
    public async Task RowEndpoints_RandomBytesAndMutatedBodies_NeverA5xx()
    {
        await SetUpAsync();
        var failures = new List<string>();
        var random = new Random(1212);
        var seeds = Bodies.Where(b => b.Length is > 0 and < 200).ToArray();
        for (var i = 0; i < 600; i++)
        {
            string body;
            if (i % 3 == 0)
            {
                var bytes = new byte[random.Next(1, 64)];
                random.NextBytes(bytes);
                body = Encoding.Latin1.GetString(bytes);
            }
            else
            {
                // Flip, drop or duplicate a few characters of a well-formed body.
                var chars = seeds[random.Next(seeds.Length)].ToList();
                for (var m = random.Next(1, 4); m > 0 && chars.Count > 0; m--)
                {
                    var at = random.Next(chars.Count);
                    switch (random.Next(3))
                    {
                        case 0: chars[at] = Mutations[random.Next(Mutations.Length)]; break;
                        case 1: chars.RemoveAt(at); break;
                        default: chars.Insert(at, chars[at]); break;
                    }
                }

                body = new string([.. chars]);
            }

            var path = new[] { "observations", "predict", "filter", "impute" }[random.Next(4)];
            await CheckAsync(HttpMethod.Post, $"/v1/models/{(random.Next(2) == 0 ? Existing : ExistingHmm)}/{path}", body, ContentTypes[random.Next(3)], Accepts[random.Next(Accepts.Length)], failures);
        }

        Assert.True(failures.Count == 0, $"{failures.Count} requests broke the contract:\n{string.Join("\n", failures.Take(30))}");
    }

    [Theory]
    [InlineData("é")]
    [InlineData("key\u0001")]
    [InlineData("one", "two")]
    public async Task Append_HostileIdempotencyKey_Returns400NamingTheHeader(params string[] keys)
    {
        await SetUpAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{Existing}/observations") { Content = Http.Json("""{"rows":[[1,2]]}""") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", keys);
        await (await _client.SendAsync(request)).AssertProblemAsync(400, "Idempotency-Key");
    }

    private async Task SetUpAsync()
    {
        await _client.PutAsync($"/v1/models/{Existing}", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        await _client.PutAsync($"/v1/models/{ExistingHmm}", Http.Json("""{"kind":"hmm","dimension":2,"states":2}"""));
    }

    private async Task CheckAsync(HttpMethod method, string path, string? body, string? contentType, string accept, List<string> failures)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        if (accept.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        var what = $"{method} {(path.Length > 150 ? path[..150] + "…" : path)} [{contentType}] accept '{accept}' body {Show(body)}";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (Exception e)
        {
            failures.Add($"{what}: threw {e.GetType().Name}: {e.Message}");
            return;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                return; // a valid subscription: the stream stays open; nothing more to check
            }

            var text = method == HttpMethod.Head ? "" : await response.Content.ReadAsStringAsync(timeout.Token);
            if (status >= 500)
            {
                failures.Add($"{what}: {status} {Show(text)}");
            }
            else if (status >= 400 && method != HttpMethod.Head)
            {
                Problem(what, status, response.Content.Headers.ContentType?.MediaType, text, failures);
            }
        }
    }

    private static void Problem(string what, int status, string? mediaType, string text, List<string> failures)
    {
        if (mediaType != "application/problem+json")
        {
            failures.Add($"{what}: {status} as {mediaType ?? "no content type"}: {Show(text)}");
            return;
        }

        try
        {
            var problem = JsonDocument.Parse(text).RootElement;
            if (problem.GetProperty("status").GetInt32() != status || string.IsNullOrEmpty(problem.GetProperty("title").GetString()))
            {
                failures.Add($"{what}: problem without matching status and title: {Show(text)}");
            }
            else if (status == (int)HttpStatusCode.BadRequest && !(problem.TryGetProperty("field", out var field) && field.GetString() is { Length: > 0 }))
            {
                failures.Add($"{what}: 400 without field: {Show(text)}");
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            failures.Add($"{what}: not a problem body ({e.Message}): {Show(text)}");
        }
    }

    private static string Show(string? text) =>
        text is null ? "(none)" : text.Length <= 120 ? JsonSerializer.Serialize(text) : JsonSerializer.Serialize(text[..120]) + $"… ({text.Length} chars)";
}
