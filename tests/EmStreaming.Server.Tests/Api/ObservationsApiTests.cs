using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class ObservationsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<long> ObservationsAsync(string id) =>
        (await (await _client.GetAsync($"/v1/models/{id}")).ReadJsonAsync()).GetProperty("status").GetProperty("observations").GetInt64();

    [Fact]
    public async Task Append_JsonWithMissingAndBadRows_AcceptsValidRowsAndNamesRejectedIndices()
    {
        await Http.CreateAsync(_client, "obs:json");
        var response = await _client.PostAsync("/v1/models/obs:json/observations",
            Http.Json("""{"rows":[[1,2],[null,3],[null,null],[1,2,3],[4,5]]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal(3, json.GetProperty("accepted").GetInt32());
        var rejected = json.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()).ToArray();
        Assert.Equal([2, 3], rejected);
        Assert.Contains("dimension", json.GetProperty("rejected")[1].GetProperty("reason").GetString());
        Assert.Equal(3, await ObservationsAsync("obs:json"));
    }

    [Fact]
    public async Task Append_Ndjson_AcceptsOneRowPerLine()
    {
        await Http.CreateAsync(_client, "obs:ndjson");
        var response = await _client.PostAsync("/v1/models/obs:ndjson/observations", Http.Body("[1,2]\n\n[3,null]\r\n[5,6]\n", "application/x-ndjson"));
        Assert.Equal(3, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
    }

    [Theory]
    [InlineData("x,y\n1,2\n3,\n5,NA\n")]
    [InlineData("1,2\n3,\n5,NA\n")]
    public async Task Append_Csv_HeaderOptionalEmptyIsMissing(string csv)
    {
        var id = $"obs:csv{csv.Length}";
        await Http.CreateAsync(_client, id);
        var response = await _client.PostAsync($"/v1/models/{id}/observations", Http.Body(csv, "text/csv"));
        Assert.Equal(3, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(3, await ObservationsAsync(id));
    }

    [Theory]
    [InlineData("application/json", """{"rows":[[1,2],[NaN,1]]}""", "rows[1][0]")]
    [InlineData("application/json", """{"rows":[[1,2],[3,Infinity]]}""", "rows[1][1]")]
    [InlineData("application/json", """{"rows":[[1,2],["3",1]]}""", "rows[1][0]")]
    [InlineData("application/json", """{"rows":[[1,1e999]]}""", "rows[0][1]")]
    [InlineData("application/json", """{"rows":[[1,2],3]}""", "rows[1]")]
    [InlineData("application/json", """{"rows":[[]]}""", "rows[0]")]
    [InlineData("application/json", """{"rows":[]}""", "rows")]
    [InlineData("application/json", """{"data":[[1,2]]}""", "data")]
    [InlineData("application/json", """{}""", "rows")]
    [InlineData("application/json", """[[1,2]]""", "body")]
    [InlineData("application/x-ndjson", "[1,2]\n[1,NaN]\n", "rows[1][1]")]
    [InlineData("text/csv", "a,b\n1,2\n3,inf\n", "rows[1][1]")]
    [InlineData("text/csv", "1,2\n3,abc\n", "rows[1][1]")]
    public async Task Append_NonNumericOrMalformed_Returns400NamingEntry(string contentType, string body, string field)
    {
        await Http.CreateAsync(_client, "obs:bad");
        var response = await _client.PostAsync("/v1/models/obs:bad/observations", Http.Body(body, contentType));
        await response.AssertProblemAsync(400, field);
        Assert.Equal(0, await ObservationsAsync("obs:bad"));
    }

    [Fact]
    public async Task Append_UnsupportedContentType_Returns415()
    {
        await Http.CreateAsync(_client, "obs:xml");
        var response = await _client.PostAsync("/v1/models/obs:xml/observations", Http.Body("<rows/>", "application/xml"));
        await response.AssertProblemAsync(415);
    }

    [Fact]
    public async Task Append_UnknownModel_Returns404()
    {
        var response = await _client.PostAsync("/v1/models/obs:nobody/observations", Http.Json("""{"rows":[[1,2]]}"""));
        await response.AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task Append_TemplateId_CreatesModelOnFirstAppend()
    {
        var response = await _client.PostAsync($"/v1/models/{FakeModelService.TemplatePrefix}t1/observations", Http.Json("""{"rows":[[1,2,3],[4,5,6]]}"""));
        Assert.Equal(2, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(2, await ObservationsAsync($"{FakeModelService.TemplatePrefix}t1"));
    }

    [Fact]
    public async Task Append_SameIdempotencyKeyTwice_AppliedOnceAnsweredAsBefore()
    {
        await Http.CreateAsync(_client, "obs:idem");
        HttpRequestMessage Request(string body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/obs:idem/observations") { Content = Http.Json(body) };
            request.Headers.Add("Idempotency-Key", "batch-0001");
            return request;
        }

        var first = await (await _client.SendAsync(Request("""{"rows":[[1,2],[3,4]]}"""))).ReadJsonAsync();
        var second = await (await _client.SendAsync(Request("""{"rows":[[1,2],[3,4]]}"""))).ReadJsonAsync();
        Assert.Equal(2, first.GetProperty("accepted").GetInt32());
        Assert.False(first.GetProperty("replayed").GetBoolean());
        Assert.Equal(2, second.GetProperty("accepted").GetInt32());
        Assert.True(second.GetProperty("replayed").GetBoolean());
        Assert.Equal(2, await ObservationsAsync("obs:idem"));

        var conflict = await _client.SendAsync(Request("""{"rows":[[9,9]]}"""));
        await conflict.AssertProblemAsync(409);
    }

    [Fact]
    public async Task Append_BadIdempotencyKey_Returns400NamingHeader()
    {
        await Http.CreateAsync(_client, "obs:idem-bad");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/obs:idem-bad/observations") { Content = Http.Json("""{"rows":[[1,2]]}""") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", new string('k', 201));
        await (await _client.SendAsync(request)).AssertProblemAsync(400, "Idempotency-Key");
    }

    [Fact]
    public async Task Append_Backpressure_Returns503WithRetryAfter()
    {
        await Http.CreateAsync(_client, "obs:busy");
        factory.Models.FailNext["AppendAsync"] = new EmStreaming.Providers.Streams.LogBackpressureException("models", 1, 10, TimeSpan.FromSeconds(1));
        var response = await _client.PostAsync("/v1/models/obs:busy/observations", Http.Json("""{"rows":[[1,2]]}"""));
        await response.AssertProblemAsync(503);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
    }
}

public sealed class BodyLimitTests
{
    [Fact]
    public async Task Append_BodyOverLimit_Returns413Problem()
    {
        using var factory = new ApiFactory(new() { ["Server:MaxRequestBodyBytes"] = "2048" });
        var client = factory.CreateClient();
        await Http.CreateAsync(client, "limit:a");
        var rows = string.Join(',', Enumerable.Range(0, 400).Select(i => $"[{i},{i}]"));
        var response = await client.PostAsync("/v1/models/limit:a/observations", Http.Json($$"""{"rows":[{{rows}}]}"""));
        await response.AssertProblemAsync(413, "body");
        var small = await client.PostAsync("/v1/models/limit:a/observations", Http.Json("""{"rows":[[1,2]]}"""));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }
}
