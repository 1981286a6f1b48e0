using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class ModelsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task PutModel_NewThenSame_Returns201Then200WithDefinition()
    {
        var body = Http.Json("""{"kind":"hmm","dimension":2,"states":3,"covariance":"diag","halfLife":500,"refit":{"window":1000,"everyObservations":0}}""");
        var created = await _client.PutAsync("/v1/models/put:new", body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/v1/models/put:new", created.Headers.Location?.OriginalString);
        var json = await created.ReadJsonAsync();
        Assert.Equal("put:new", json.GetProperty("id").GetString());
        var definition = json.GetProperty("definition");
        Assert.Equal("hmm", definition.GetProperty("kind").GetString());
        Assert.Equal(3, definition.GetProperty("states").GetInt32());
        Assert.Equal("diag", definition.GetProperty("covariance").GetString());
        Assert.Equal(500, definition.GetProperty("halfLife").GetDouble());
        Assert.Equal(1000, definition.GetProperty("refit").GetProperty("window").GetInt32());
        Assert.Equal(0, definition.GetProperty("refit").GetProperty("everyObservations").GetInt64());
        Assert.Equal(0, json.GetProperty("status").GetProperty("observations").GetInt64());
        Assert.True(json.GetProperty("status").GetProperty("warmingUp").GetBoolean());

        var again = await _client.PutAsync("/v1/models/put:new", Http.Json("""{"kind":"hmm","dimension":2,"states":3,"covariance":"diag","halfLife":500,"refit":{"window":1000,"everyObservations":0}}"""));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var replaced = await _client.PutAsync("/v1/models/put:new", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal("gmm", (await replaced.ReadJsonAsync()).GetProperty("definition").GetProperty("kind").GetString());
    }

    [Theory]
    [InlineData("""{"dimension":2,"components":2}""", "kind")]
    [InlineData("""{"kind":"svm","dimension":2,"components":2}""", "kind")]
    [InlineData("""{"kind":"gmm","components":2}""", "dimension")]
    [InlineData("""{"kind":"gmm","dimension":2}""", "components")]
    [InlineData("""{"kind":"hmm","dimension":2}""", "states")]
    [InlineData("""{"kind":"gmm","dimension":"two","components":2}""", "dimension")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"covariance":"round"}""", "covariance")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":{"everySeconds":-1}}""", "refit.everySeconds")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":{"window":"big"}}""", "refit.window")]
    [InlineData("""{"kind":"gmm","dimension":100,"components":2}""", "dimension")]
    public async Task PutModel_InvalidDefinition_Returns400NamingField(string body, string field)
    {
        var response = await _client.PutAsync("/v1/models/put:bad", Http.Json(body));
        await response.AssertProblemAsync(400, field);
    }

    [Fact]
    public async Task PutModel_UnknownField_Returns400NamingIt()
    {
        var response = await _client.PutAsync("/v1/models/put:typo", Http.Json("""{"kind":"gmm","dimension":2,"component":2}"""));
        var problem = await response.AssertProblemAsync(400);
        Assert.Contains("component", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task PutModel_NotJson_Returns415()
    {
        var response = await _client.PutAsync("/v1/models/put:xml", Http.Body("<model/>", "application/xml"));
        await response.AssertProblemAsync(415);
    }

    [Theory]
    [InlineData("bad%20id")]
    [InlineData("a%2Fb")]
    [InlineData("..")]
    public async Task PutModel_HostileId_Returns400NamingIdAndStoresNothing(string id)
    {
        var response = await _client.PutAsync($"/v1/models/{id}", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{response.StatusCode}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            await response.AssertProblemAsync(400, "id");
        }

        var list = await (await _client.GetAsync("/v1/models?prefix=bad")).ReadJsonAsync();
        Assert.Equal(0, list.GetProperty("models").GetArrayLength());
    }

    [Fact]
    public async Task PutModel_IdTooLong_Returns400NamingId()
    {
        var response = await _client.PutAsync($"/v1/models/{new string('a', 129)}", Http.Json("""{"kind":"gmm","dimension":2,"components":2}"""));
        await response.AssertProblemAsync(400, "id");
    }

    [Fact]
    public async Task GetModel_Unknown_Returns404Problem()
    {
        var response = await _client.GetAsync("/v1/models/nobody:here");
        await response.AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task ListModels_PrefixAndLimit_PagesInIdOrder()
    {
        foreach (var id in new[] { "page:c", "page:a", "page:b", "other:z" })
        {
            await Http.CreateAsync(_client, id);
        }

        var first = await (await _client.GetAsync("/v1/models?prefix=page:&limit=2")).ReadJsonAsync();
        var ids = first.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray();
        Assert.Equal(["page:a", "page:b"], ids);
        var cursor = first.GetProperty("nextCursor").GetString();
        var second = await (await _client.GetAsync($"/v1/models?prefix=page:&limit=2&cursor={cursor}")).ReadJsonAsync();
        Assert.Equal(["page:c"], second.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray());
        Assert.False(second.TryGetProperty("nextCursor", out _));
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("prefix=a%2Fb", "prefix")]
    public async Task ListModels_BadQuery_Returns400NamingParameter(string query, string field)
    {
        var response = await _client.GetAsync($"/v1/models?{query}");
        await response.AssertProblemAsync(400, field);
    }

    [Fact]
    public async Task DeleteModel_ExistingThenAgain_Returns204Then404()
    {
        await Http.CreateAsync(_client, "del:me");
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync("/v1/models/del:me")).StatusCode);
        await (await _client.GetAsync("/v1/models/del:me")).AssertProblemAsync(404);
        await (await _client.DeleteAsync("/v1/models/del:me")).AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task UnknownRoute_Returns404ProblemJson()
    {
        var response = await _client.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ServiceBug_Returns500ProblemWithoutDetails()
    {
        await Http.CreateAsync(_client, "bug:state");
        factory.Models.FailNext["GetStateAsync"] = new InvalidOperationException("secret internal detail");
        var response = await _client.GetAsync("/v1/models/bug:state/state");
        var problem = await response.AssertProblemAsync(500);
        Assert.DoesNotContain("secret", problem.ToString());
    }
}
