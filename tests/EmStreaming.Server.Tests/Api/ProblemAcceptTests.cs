using System.Net.Http.Headers;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// Every error is application/problem+json whatever the client says it accepts: a browser's EventSource sends
/// text/event-stream, and the default writer used to decline it (a 500 with an empty body, or a bare status).
/// </summary>
public sealed class ProblemAcceptTests : IDisposable
{
    private const string ReadKey = "read-key-0123456789";
    private const string WriteKey = "write-key-0123456789";

    public static TheoryData<string> AcceptHeaders => ["text/event-stream", "text/html", "text/csv", "*/*", "application/json", "garbage;;;q=x", "image/png, text/plain;q=0.5"];

    private readonly ApiFactory _open = new(new() { ["Server:MaxRequestBodyBytes"] = "2048" });

    private readonly ApiFactory _secured = new(new()
    {
        ["Security:ApiKeys:0:Name"] = "reader",
        ["Security:ApiKeys:0:Key"] = ReadKey,
        ["Security:ApiKeys:0:Scopes:0"] = "read",
        ["Security:ApiKeys:1:Name"] = "writer",
        ["Security:ApiKeys:1:Key"] = WriteKey,
        ["Security:ApiKeys:1:Scopes:0"] = "read",
        ["Security:ApiKeys:1:Scopes:1"] = "write",
    });

    private readonly ApiFactory _limited = new(new()
    {
        ["RateLimiting:Enabled"] = "true",
        ["RateLimiting:PermitsPerSecond"] = "1",
        ["RateLimiting:Burst"] = "1",
    });

    public void Dispose()
    {
        _open.Dispose();
        _secured.Dispose();
        _limited.Dispose();
    }

    private static HttpClient With(HttpClient client, string accept, string? key = null)
    {
        client.DefaultRequestHeaders.TryAddWithoutValidation("Accept", accept);
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
        }

        return client;
    }

    [Theory]
    [MemberData(nameof(AcceptHeaders))]
    public async Task Errors_AnyAccept_AreProblemJson(string accept)
    {
        var client = With(_open.CreateClient(), accept);
        await Http.CreateAsync(client, "acc:m");

        await (await client.GetAsync("/v1/models/acc:nobody")).AssertProblemAsync(404, "id");
        await (await client.GetAsync("/v1/models/acc:nobody/events")).AssertProblemAsync(404, "id");
        await (await client.GetAsync("/v1/models/bad%20id")).AssertProblemAsync(400, "id");
        await (await client.GetAsync("/v1/models?limit=0")).AssertProblemAsync(400, "limit");
        await (await client.PostAsync("/v1/models/acc:m/predict", Http.Json("""{"rows":[[1,2]]}"""))).AssertProblemAsync(409);
        await (await client.PostAsync("/v1/models/acc:m/observations", Http.Body("<rows/>", "application/xml"))).AssertProblemAsync(415, "Content-Type");
        var big = string.Join(',', Enumerable.Range(0, 400).Select(i => $"[{i},{i}]"));
        await (await client.PostAsync("/v1/models/acc:m/observations", Http.Json($$"""{"rows":[{{big}}]}"""))).AssertProblemAsync(413, "body");

        // Unknown routes and methods are answered by the framework's status-code pages: problem+json too.
        await (await client.GetAsync("/v1/nothing-here")).AssertProblemAsync(404);
        await (await client.PatchAsync("/v1/models/acc:m", Http.Json("{}"))).AssertProblemAsync(405);
    }

    [Theory]
    [MemberData(nameof(AcceptHeaders))]
    public async Task MissingOrWrongKey_AnyAccept_Is401ProblemJson(string accept)
    {
        await (await With(_secured.CreateClient(), accept).GetAsync("/v1/models")).AssertProblemAsync(401, "X-Api-Key");
        await (await With(_secured.CreateClient(), accept).GetAsync("/v1/events")).AssertProblemAsync(401, "X-Api-Key");
        await (await With(_secured.CreateClient(), accept).GetAsync("/v1/models/x/events")).AssertProblemAsync(401, "X-Api-Key");
        await (await With(_secured.CreateClient(), accept, "wrong-key-0123456789").GetAsync("/v1/models/x")).AssertProblemAsync(401, "X-Api-Key");
    }

    [Theory]
    [MemberData(nameof(AcceptHeaders))]
    public async Task ReadKeyOnWriteEndpoint_AnyAccept_Is403ProblemJson(string accept)
    {
        var response = await With(_secured.CreateClient(), accept, ReadKey).PutAsync("/v1/models/acc:w", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        await response.AssertProblemAsync(403, "X-Api-Key");
    }

    [Theory]
    [MemberData(nameof(AcceptHeaders))]
    public async Task RateLimited_AnyAccept_Is429ProblemJson(string accept)
    {
        var client = With(_limited.CreateClient(), accept);
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            var response = await client.GetAsync("/v1/models");
            limited = (int)response.StatusCode == 429 ? response : null;
        }

        Assert.NotNull(limited);
        await limited.AssertProblemAsync(429);
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Fact]
    public async Task EventStream_UnknownModelWithEventSourceAccept_Is404NotAnEmptyStream()
    {
        var client = _open.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models/acc:none/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var problem = await response.AssertProblemAsync(404, "id");
        Assert.Contains("acc:none", problem.GetProperty("detail").GetString());
    }
}
