using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// The framework's own routing answers (404 for a path no route matches, 405 for a method the path does not take) are
/// problem+json with a detail naming the method and path, and for 405 the allowed methods and an Allow header, whatever
/// the Accept header says. Successful answers are JSON whatever the Accept header says (README, "Endpoints").
/// </summary>
public sealed class RouteProblemTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly ApiFactory _factory = factory;

    /// <summary>Accept headers a client may send, null for none; the last is not a valid media range at all.</summary>
    public static TheoryData<string?> Accepts => [null, "text/html", "image/png", "*/*", "text/event-stream", "application/xml;q=0.9, text/html", "garbage;;;q=x"];

    private HttpClient Client(string? accept)
    {
        var client = _factory.CreateClient();
        if (accept is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Accept", accept);
        }

        return client;
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task UnknownRoute_AnyAccept_Is404ProblemNamingMethodAndPath(string? accept)
    {
        var client = Client(accept);
        foreach (var (method, path) in new[]
        {
            ("GET", "/v1/nothing-here"), ("POST", "/v1/models/route:a/unknown"), ("DELETE", "/v1/models/route:a/state/extra"),
            ("GET", "/v2/models"), ("PUT", "/v1"), ("GET", "/v1/models/route:a/snapshots/1/restore/more"),
        })
        {
            var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : Http.Json("{}") });
            var problem = await response.AssertProblemAsync(404, "path");
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains($"{method} {path}", detail);
            Assert.Equal("urn:emstreaming:problem:no-route", problem.GetProperty("type").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task WrongMethod_AnyAccept_Is405ProblemWithAllowHeaderAndAllowedMethods(string? accept)
    {
        var client = Client(accept);
        await Http.CreateAsync(client, "route:m");
        foreach (var (method, path, allowed) in new[]
        {
            ("PATCH", "/v1/models/route:m", new[] { "GET", "PUT", "DELETE" }),
            ("DELETE", "/v1/models/route:m/state", ["GET"]),
            ("GET", "/v1/models/route:m/observations", ["POST"]),
            ("PUT", "/v1/models/route:m/predict", ["POST"]),
            ("POST", "/v1/models", ["GET"]),
            ("DELETE", "/v1/events", ["GET"]),
            ("POST", "/healthz", ["GET"]),
        })
        {
            var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method is "GET" or "DELETE" ? null : Http.Json("{}") });
            var problem = await response.AssertProblemAsync(405, "method");
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains($"{method} is not allowed on {path}", detail);
            var allow = response.Content.Headers.Allow.Concat(response.Headers.TryGetValues("Allow", out var values) ? values : []).ToHashSet();
            foreach (var m in allowed)
            {
                Assert.Contains(m, allow);
                Assert.Contains(m, detail);
                Assert.Contains(m, problem.GetProperty("allow").EnumerateArray().Select(e => e.GetString()));
            }
        }

        // The wrong method changed nothing.
        var model = await (await client.GetAsync("/v1/models/route:m")).ReadJsonAsync();
        Assert.Equal(0, model.GetProperty("status").GetProperty("observations").GetInt64());
    }

    [Theory]
    [InlineData("/v1/%C3%A9t%C3%A9", "/v1/%C3%A9t%C3%A9")] // unicode, shown escaped
    [InlineData("/v1/a%0Ab", "/v1/a%0Ab")] // a line feed is not echoed raw
    [InlineData("/v1/a%E2%80%AEb", "/v1/a%E2%80%AEb")] // a right-to-left override neither
    public async Task UnknownRoute_HostilePath_EchoedEscaped(string path, string shown)
    {
        var problem = await (await Client(null).GetAsync(path)).AssertProblemAsync(404, "path");
        Assert.Contains($"GET {shown}", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task UnknownRoute_VeryLongPath_DetailStaysShort()
    {
        var problem = await (await Client(null).GetAsync("/v1/" + new string('x', 10_000))).AssertProblemAsync(404, "path");
        Assert.InRange(problem.GetProperty("detail").GetString()!.Length, 20, 400);
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task SuccessfulAnswers_AnyAccept_AreJson(string? accept)
    {
        // The README says answers are JSON whatever Accept says (no 406): check it holds for reads, writes and health.
        var client = Client(accept);
        var put = await client.PutAsync("/v1/models/route:ok", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        Assert.Equal("application/json", put.Content.Headers.ContentType?.MediaType);
        foreach (var response in new[]
        {
            await client.GetAsync("/v1/models"),
            await client.GetAsync("/v1/models/route:ok"),
            await client.GetAsync("/v1/models/route:ok/state"),
            await client.PostAsync("/v1/models/route:ok/observations", Http.Json("""{"rows":[[1,2]]}""")),
            await client.GetAsync("/healthz"),
        })
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            _ = await response.ReadJsonAsync();
        }
    }
}
