using System.Net;
using System.Net.Http.Headers;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class SecurityTests : IDisposable
{
    private const string ReadKey = "read-key-0123456789";
    private const string WriteKey = "write-key-0123456789";

    private readonly ApiFactory _factory = new(new()
    {
        ["Security:ApiKeys:0:Name"] = "reader",
        ["Security:ApiKeys:0:Key"] = ReadKey,
        ["Security:ApiKeys:0:Scopes:0"] = "read",
        ["Security:ApiKeys:1:Name"] = "writer",
        ["Security:ApiKeys:1:Key"] = WriteKey,
        ["Security:ApiKeys:1:Scopes:0"] = "read",
        ["Security:ApiKeys:1:Scopes:1"] = "write",
    });

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Request_NoKey_Returns401Problem()
    {
        var response = await _factory.CreateClient().GetAsync("/v1/models");
        await response.AssertProblemAsync(401, "X-Api-Key");
    }

    [Fact]
    public async Task Request_WrongKey_Returns401Problem()
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "not-a-valid-key-at-all");
        await (await client.GetAsync("/v1/models")).AssertProblemAsync(401);
    }

    [Fact]
    public async Task Write_WithReadKey_Returns403Problem()
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", ReadKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/models")).StatusCode);
        var response = await client.PutAsync("/v1/models/sec:a", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        await response.AssertProblemAsync(403);
    }

    [Fact]
    public async Task Write_WithBearerWriteKey_Succeeds()
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", WriteKey);
        var response = await client.PutAsync("/v1/models/sec:b", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Events_ApiKeyInQuery_Accepted()
    {
        var client = _factory.CreateClient();
        var response = await client.GetAsync($"/v1/events?api_key={ReadKey}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var other = await client.GetAsync($"/v1/models?api_key={ReadKey}");
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/")]
    public async Task PublicEndpoints_NoKey_Answer200(string path)
    {
        var response = await _factory.CreateClient().GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

public sealed class RateLimitTests : IDisposable
{
    private readonly ApiFactory _factory = new(new()
    {
        ["RateLimiting:Enabled"] = "true",
        ["RateLimiting:PermitsPerSecond"] = "1",
        ["RateLimiting:Burst"] = "3",
    });

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Requests_OverBurst_Return429WithRetryAfter()
    {
        var client = _factory.CreateClient();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 6; i++)
        {
            var response = await client.GetAsync("/v1/models");
            statuses.Add(response.StatusCode);
            limited ??= response.StatusCode == HttpStatusCode.TooManyRequests ? response : null;
        }

        // The burst is 3 and at most one token comes back while six requests run: at least two are refused.
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 2, string.Join(",", statuses));
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        await limited!.AssertProblemAsync(429);
        Assert.NotNull(limited!.Headers.RetryAfter);

        // Health is not rate limited.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }
}

public sealed class OrleansDashboardTests : IDisposable
{
    private const string ReadKey = "read-key-0123456789";

    private readonly ApiFactory _factory = new(new()
    {
        ["Orleans:Dashboard"] = "true",
        ["Security:ApiKeys:0:Name"] = "reader",
        ["Security:ApiKeys:0:Key"] = ReadKey,
        ["Security:ApiKeys:0:Scopes:0"] = "read",
    });

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task OrleansDashboard_BehindTheApiKeys_OursStaysAtTheRoot()
    {
        var anonymous = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/orleans/")).StatusCode);

        var reader = _factory.CreateClient();
        reader.DefaultRequestHeaders.Add("X-Api-Key", ReadKey);
        var page = await reader.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Orleans", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        var ours = await anonymous.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, ours.StatusCode);
        Assert.Contains("EmStreaming", await ours.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
