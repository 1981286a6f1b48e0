using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.RealSilo;

/// <summary>
/// The user's iris test against the real grains: <c>PUT {"kind":"gmm","dimension":4,"components":3}</c>, 150 rows, then
/// <c>POST /refit</c>. The refit used to answer 202 "scheduled" and nothing followed while the model waited for 500 rows
/// forever; now it makes the first fit on the 150 rows, a request with too few rows is a 409 saying how many more are
/// needed, and <c>warmUp</c> can be set, is validated and is echoed.
/// </summary>
public sealed class WarmUpRealSiloTests(RealSiloFactory factory) : IClassFixture<RealSiloFactory>
{
    private const string Iris = """{"kind":"gmm","dimension":4,"components":3,"seed":3}""";
    private readonly HttpClient _client = factory.CreateClient();

    /// <summary>Three clusters in 4 columns, values with three decimals (150 rows fit the tests' 8 KB body limit).</summary>
    private static StringContent Rows(int n, int seed)
    {
        var random = new Random(seed);
        var json = new StringBuilder("""{"rows":[""");
        for (var i = 0; i < n; i++)
        {
            var centre = random.Next(3) * 3.0;
            json.Append(i == 0 ? "[" : ",[");
            json.AppendJoin(',', Enumerable.Range(0, 4).Select(j => (centre + j + random.NextDouble()).ToString("0.###", CultureInfo.InvariantCulture)));
            json.Append(']');
        }

        return Http.Json(json.Append("]}").ToString());
    }

    private async Task<JsonElement> StatusAsync(string id) =>
        (await (await _client.GetAsync($"/v1/models/{id}")).ReadJsonAsync()).GetProperty("status");

    [Fact]
    public async Task Refit_WarmingUpIrisOf150Rows_FitsTheModelNow()
    {
        Assert.Equal(HttpStatusCode.Created, (await _client.PutAsync("/v1/models/iris", Http.Json(Iris))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.PostAsync("/v1/models/iris/observations", Rows(150, 1))).StatusCode);

        var response = await _client.PostAsync("/v1/models/iris/refit", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement status;
        while ((status = await StatusAsync("iris")).GetProperty("warmingUp").GetBoolean())
        {
            Assert.True(DateTime.UtcNow < deadline, $"still warming up: {status}");
            await Task.Delay(10);
        }

        Assert.Equal(150, status.GetProperty("observations").GetInt64());
        var state = await (await _client.GetAsync("/v1/models/iris/state")).ReadJsonAsync();
        Assert.Equal(3, state.GetProperty("means").GetArrayLength());
    }

    [Fact]
    public async Task Refit_WarmingUpWithTooFewRows_Returns409WarmingUpWithTheRowsStillNeeded()
    {
        await _client.PutAsync("/v1/models/iris-few", Http.Json(Iris));
        await _client.PostAsync("/v1/models/iris-few/observations", Rows(10, 2));

        var problem = await (await _client.PostAsync("/v1/models/iris-few/refit", null)).AssertProblemAsync(409);

        Assert.Equal("urn:emstreaming:problem:warming-up", problem.GetProperty("type").GetString());
        Assert.Equal(5, problem.GetProperty("remaining").GetInt32());
        Assert.Contains("15", problem.GetProperty("detail").GetString());
        Assert.True((await StatusAsync("iris-few")).GetProperty("warmingUp").GetBoolean());
    }

    [Fact]
    public async Task Put_WarmUp_ValidatedEchoedAndAChangeStartsAFreshModel()
    {
        var bad = await (await _client.PutAsync("/v1/models/iris-w", Http.Json("""{"kind":"gmm","dimension":4,"components":3,"warmUp":14}"""))).AssertProblemAsync(400, "warmUp");
        Assert.Contains("at least components × (dimension + 1) = 15 rows", bad.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/v1/models/iris-w")).StatusCode);

        var created = await (await _client.PutAsync("/v1/models/iris-w", Http.Json(Iris))).ReadJsonAsync();
        Assert.False(created.GetProperty("definition").TryGetProperty("warmUp", out _)); // automatic
        await _client.PostAsync("/v1/models/iris-w/observations", Rows(30, 3));

        var replaced = await _client.PutAsync("/v1/models/iris-w", Http.Json("""{"kind":"gmm","dimension":4,"components":3,"seed":3,"warmUp":40}"""));

        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var model = await (await _client.GetAsync("/v1/models/iris-w")).ReadJsonAsync();
        Assert.Equal(40, model.GetProperty("definition").GetProperty("warmUp").GetInt32());
        Assert.Equal(0, model.GetProperty("status").GetProperty("observations").GetInt64());
        Assert.Equal(40, model.GetProperty("status").GetProperty("warmUpRemaining").GetInt32());

        var document = await (await _client.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        Assert.Contains("\"warmUp\"", document.GetProperty("components").GetProperty("schemas").GetProperty("ModelDefinitionDto").GetRawText());
    }
}
