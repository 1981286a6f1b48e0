using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// A UTF-8 byte-order mark at the very start of a body is its encoding signature (Windows tools and .NET's UTF-8
/// preamble write one): every endpoint that reads a JSON or NDJSON body reads past it, as CSV always did. A mark
/// anywhere else is still a 400 that says so, and changes nothing.
/// </summary>
public sealed class ByteOrderMarkTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Bom = "\uFEFF";
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<long> ObservationsAsync(string id) =>
        (await (await _client.GetAsync($"/v1/models/{id}")).ReadJsonAsync()).GetProperty("status").GetProperty("observations").GetInt64();

    [Theory]
    [InlineData("application/json", """{"rows":[[1,2],[3,null]]}""")] // the scanner's shape
    [InlineData("application/json", """{"rows":[[1,2] /* the reader's shape */,[3,null]]}""")]
    [InlineData("application/json", """ {"rows":[[1,2],[3,null]]}""")]
    [InlineData("application/x-ndjson", "[1,2]\n[3,null]\n")]
    [InlineData("application/x-ndjson", "[1, 2]\r\n\r\n[3,null]")]
    [InlineData("text/csv", "a,b\n1,2\n3,\n")]
    public async Task Append_LeadingBom_Accepted(string contentType, string body)
    {
        await Http.CreateAsync(_client, "bom:append");
        var before = await ObservationsAsync("bom:append");
        var response = await _client.PostAsync("/v1/models/bom:append/observations", Http.Body(Bom + body, contentType));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(2, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(before + 2, await ObservationsAsync("bom:append"));
    }

    [Theory]
    [InlineData("application/json", """{"rows":[[1,2],[3,null]]}""")]
    [InlineData("application/json", """{"rows":[[1,2],[3,null]]} // a comment sends it through the reader""")]
    [InlineData("application/x-ndjson", "[1,2]\n[3,null]\n")]
    public async Task Queries_LeadingBom_Answered(string contentType, string body)
    {
        await Http.CreateAsync(_client, "bom:gmm");
        await Http.FeedAsync(_client, "bom:gmm", 300);
        await Http.CreateAsync(_client, "bom:hmm", "hmm", dimension: 2, components: 2);
        await Http.FeedAsync(_client, "bom:hmm", 300);

        foreach (var (id, endpoint, member) in new[] { ("bom:gmm", "predict", "labels"), ("bom:gmm", "impute", "rows"), ("bom:hmm", "filter", "regimes") })
        {
            var response = await _client.PostAsync($"/v1/models/{id}/{endpoint}", Http.Body(Bom + body, contentType));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{endpoint}: {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(2, (await response.ReadJsonAsync()).GetProperty(member).GetArrayLength());
        }
    }

    [Theory]
    [InlineData("""{"kind":"gmm","dimension":2,"components":3}""")]
    [InlineData("""  {"kind":"gmm","dimension":2,"components":3}  """)]
    public async Task PutModel_LeadingBom_Created(string body)
    {
        var id = $"bom:put-{body.Length}";
        var response = await _client.PutAsync($"/v1/models/{id}", Http.Json(Bom + body));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        Assert.Equal(3, (await response.ReadJsonAsync()).GetProperty("definition").GetProperty("components").GetInt32());
    }

    [Theory]
    [InlineData("application/json", Bom + Bom + """{"rows":[[1,2]]}""", "body")]
    [InlineData("application/json", """ {"rows":[[1,2]]}""" + Bom, "body")]
    [InlineData("application/json", " " + Bom + """{"rows":[[1,2]]}""", "body")]
    [InlineData("application/x-ndjson", Bom + "[1,2]\n" + Bom + "[3,4]\n", "rows[1]")]
    public async Task Append_BomAfterTheStart_Returns400AndAppliesNothing(string contentType, string body, string field)
    {
        await Http.CreateAsync(_client, "bom:bad");
        var before = await ObservationsAsync("bom:bad");
        await (await _client.PostAsync("/v1/models/bom:bad/observations", Http.Body(body, contentType))).AssertProblemAsync(400, field);
        Assert.Equal(before, await ObservationsAsync("bom:bad"));
    }

    [Fact]
    public async Task PutModel_BomAfterTheStart_Returns400AndCreatesNothing()
    {
        await (await _client.PutAsync("/v1/models/bom:put-bad", Http.Json(Bom + Bom + """{"kind":"gmm","dimension":2,"components":3}"""))).AssertProblemAsync(400);
        await (await _client.PutAsync("/v1/models/bom:put-bad", Http.Json(" " + Bom + """{"kind":"gmm","dimension":2,"components":3}"""))).AssertProblemAsync(400);
        await (await _client.GetAsync("/v1/models/bom:put-bad")).AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task RowsBody_OnlyABom_SaysEmpty()
    {
        await Http.CreateAsync(_client, "bom:empty");
        var problem = await (await _client.PostAsync("/v1/models/bom:empty/observations", Http.Json(Bom + " "))).AssertProblemAsync(400, "body");
        Assert.Contains("empty", problem.GetProperty("detail").GetString());
    }
}
