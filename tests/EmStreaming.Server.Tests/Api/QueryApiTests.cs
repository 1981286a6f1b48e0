using System.Net;
using System.Text.Json;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class QueryApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const double Tolerance = 1e-9;
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<string> WarmGmmAsync(string id)
    {
        await Http.CreateAsync(_client, id, "gmm", dimension: 2, components: 2);
        await Http.FeedAsync(_client, id, 200, seed: 1);
        await Http.FeedAsync(_client, id, 200, seed: 2);
        return id;
    }

    [Fact]
    public async Task GetState_WarmingUp_ReportsNoParameters()
    {
        await Http.CreateAsync(_client, "q:cold");
        var json = await (await _client.GetAsync("/v1/models/q:cold/state")).ReadJsonAsync();
        Assert.True(json.GetProperty("warmingUp").GetBoolean());
        Assert.False(json.TryGetProperty("weights", out _));
        Assert.Equal("gmm", json.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task GetState_Gmm_ReturnsWeightsAndNestedMeansAndCovariances()
    {
        await WarmGmmAsync("q:gmm");
        var json = await (await _client.GetAsync("/v1/models/q:gmm/state")).ReadJsonAsync();
        Assert.False(json.GetProperty("warmingUp").GetBoolean());
        Assert.Equal(400, json.GetProperty("observations").GetInt64());
        var weights = json.GetProperty("weights").EnumerateArray().Select(w => w.GetDouble()).ToArray();
        Assert.Equal(2, weights.Length);
        Assert.Equal(1.0, weights.Sum(), Tolerance);
        Assert.Equal(2, json.GetProperty("means").GetArrayLength());
        Assert.Equal(2, json.GetProperty("means")[0].GetArrayLength());
        var cov = json.GetProperty("covariances")[1];
        Assert.Equal(2, cov.GetArrayLength());
        Assert.Equal(cov[0][1].GetDouble(), cov[1][0].GetDouble(), Tolerance);
        Assert.False(json.TryGetProperty("transitions", out _));
    }

    [Fact]
    public async Task GetState_Hmm_ReturnsTransitionsRegimeProbabilitiesAndRegime()
    {
        await Http.CreateAsync(_client, "q:hmm", "hmm", dimension: 1, components: 2);
        await Http.FeedAsync(_client, "q:hmm", 400, dimension: 1);
        var json = await (await _client.GetAsync("/v1/models/q:hmm/state")).ReadJsonAsync();
        var transitions = json.GetProperty("transitions");
        Assert.Equal(2, transitions.GetArrayLength());
        foreach (var row in transitions.EnumerateArray())
        {
            Assert.Equal(1.0, row.EnumerateArray().Sum(p => p.GetDouble()), 1e-6);
        }

        Assert.Equal(1.0, json.GetProperty("regimeProbabilities").EnumerateArray().Sum(p => p.GetDouble()), 1e-6);
        Assert.Equal(2, json.GetProperty("startProbabilities").GetArrayLength());
        Assert.InRange(json.GetProperty("regime").GetInt32(), 0, 1);
    }

    [Fact]
    public async Task Predict_Rows_ReturnsLabelsProbabilitiesAndLogDensity()
    {
        await WarmGmmAsync("q:predict");
        var response = await _client.PostAsync("/v1/models/q:predict/predict", Http.Json("""{"rows":[[0,0],[8,8],[0,null]]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        var labels = json.GetProperty("labels").EnumerateArray().Select(l => l.GetInt32()).ToArray();
        Assert.Equal(3, labels.Length);
        Assert.NotEqual(labels[0], labels[1]);
        Assert.Equal(labels[0], labels[2]);
        foreach (var p in json.GetProperty("probabilities").EnumerateArray())
        {
            Assert.Equal(1.0, p.EnumerateArray().Sum(x => x.GetDouble()), 1e-9);
        }

        Assert.Equal(3, json.GetProperty("logDensity").GetArrayLength());
        Assert.Equal(3, json.GetProperty("anomalyScore").GetArrayLength());
    }

    [Fact]
    public async Task Predict_WarmingUp_Returns409WithRemaining()
    {
        await Http.CreateAsync(_client, "q:warm");
        var response = await _client.PostAsync("/v1/models/q:warm/predict", Http.Json("""{"rows":[[0,0]]}"""));
        var problem = await response.AssertProblemAsync(409);
        Assert.Equal(FakeModelService.WarmUpRows, problem.GetProperty("remaining").GetInt32());
    }

    [Theory]
    [InlineData("""{"rows":[[0,0],[1]]}""", "rows[1]")]
    [InlineData("""{"rows":[[0,"x"]]}""", "rows[0][1]")]
    [InlineData("""{"rows":[[0,0,0]]}""", "rows")]
    public async Task Predict_BadRows_Returns400NamingField(string body, string field)
    {
        await WarmGmmAsync("q:predict-bad");
        var response = await _client.PostAsync("/v1/models/q:predict-bad/predict", Http.Json(body));
        await response.AssertProblemAsync(400, field);
    }

    [Fact]
    public async Task Predict_UnknownModel_Returns404()
    {
        await (await _client.PostAsync("/v1/models/q:none/predict", Http.Json("""{"rows":[[0,0]]}"""))).AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task Filter_Hmm_ReturnsRegimePerRow()
    {
        await Http.CreateAsync(_client, "q:filter", "hmm", dimension: 1, components: 2);
        await Http.FeedAsync(_client, "q:filter", 400, dimension: 1);
        var response = await _client.PostAsync("/v1/models/q:filter/filter", Http.Body("[0.1]\n[0.2]\n[8.1]\n[7.9]\n", "application/x-ndjson"));
        var json = await response.ReadJsonAsync();
        var regimes = json.GetProperty("regimes").EnumerateArray().Select(r => r.GetInt32()).ToArray();
        Assert.Equal(4, regimes.Length);
        Assert.Equal(regimes[0], regimes[1]);
        Assert.NotEqual(regimes[1], regimes[2]);
        Assert.Equal(4, json.GetProperty("probabilities").GetArrayLength());
        Assert.True(json.GetProperty("meanLogLikelihood").ValueKind == JsonValueKind.Number);
    }

    [Fact]
    public async Task Filter_GmmModel_Returns400NamingId()
    {
        await WarmGmmAsync("q:filter-gmm");
        await (await _client.PostAsync("/v1/models/q:filter-gmm/filter", Http.Json("""{"rows":[[0,0]]}"""))).AssertProblemAsync(400, "id");
    }

    [Fact]
    public async Task Impute_MissingEntries_FilledObservedKept()
    {
        await WarmGmmAsync("q:impute");
        var response = await _client.PostAsync("/v1/models/q:impute/impute", Http.Body("x,y\n8,\n0.25,0.5\n", "text/csv"));
        var rows = (await response.ReadJsonAsync()).GetProperty("rows");
        Assert.Equal(8, rows[0][0].GetDouble());
        Assert.InRange(rows[0][1].GetDouble(), 6.5, 9.5); // the cluster around 8: its conditional mean
        Assert.Equal(0.25, rows[1][0].GetDouble());
        Assert.Equal(0.5, rows[1][1].GetDouble());
    }

    [Fact]
    public async Task Recent_WarmGmm_ReturnsRowsWithLabels()
    {
        await WarmGmmAsync("q:recent");
        var json = await (await _client.GetAsync("/v1/models/q:recent/recent?limit=100")).ReadJsonAsync();
        Assert.Equal(100, json.GetProperty("rows").GetArrayLength());
        Assert.Equal(300, json.GetProperty("firstObservation").GetInt64());
        Assert.Equal(100, json.GetProperty("labels").GetArrayLength());
        Assert.Equal(2, json.GetProperty("dimension").GetInt32());
    }

    [Fact]
    public async Task Recent_BadLimit_Returns400NamingLimit()
    {
        await Http.CreateAsync(_client, "q:recent-bad");
        await (await _client.GetAsync("/v1/models/q:recent-bad/recent?limit=0")).AssertProblemAsync(400, "limit");
    }

    [Fact]
    public async Task Snapshots_ListThenByVersionAndByTime_ReturnsHistory()
    {
        await WarmGmmAsync("q:snap");
        var list = await (await _client.GetAsync("/v1/models/q:snap/snapshots")).ReadJsonAsync();
        Assert.Equal(2, list.GetArrayLength());
        var first = list[0];
        Assert.Equal(1, first.GetProperty("version").GetInt64());
        var one = await (await _client.GetAsync("/v1/models/q:snap/snapshots/2")).ReadJsonAsync();
        Assert.Equal(2, one.GetProperty("info").GetProperty("version").GetInt64());
        Assert.Equal(2, one.GetProperty("state").GetProperty("means").GetArrayLength());
        var at = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"));
        var latest = await (await _client.GetAsync($"/v1/models/q:snap/snapshots/at?time={at}")).ReadJsonAsync();
        Assert.Equal(2, latest.GetProperty("info").GetProperty("version").GetInt64());
    }

    [Theory]
    [InlineData("/v1/models/q:snap-bad/snapshots/99", 404, "version")]
    [InlineData("/v1/models/q:snap-bad/snapshots/at?time=2000-01-01T00:00:00Z", 404, "time")]
    [InlineData("/v1/models/q:snap-bad/snapshots/at", 400, "time")]
    [InlineData("/v1/models/q:snap-bad/snapshots/at?time=yesterday", 400, "time")]
    [InlineData("/v1/models/q:nobody/snapshots", 404, "id")]
    public async Task Snapshots_BadRequest_ReturnsProblem(string path, int status, string? field)
    {
        await Http.CreateAsync(_client, "q:snap-bad");
        await (await _client.GetAsync(path)).AssertProblemAsync(status, field);
    }

    [Fact]
    public async Task Refit_WarmModel_Returns202AndSchedules()
    {
        await WarmGmmAsync("q:refit");
        var before = factory.Models.RefitCalls;
        var response = await _client.PostAsync("/v1/models/q:refit/refit", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("scheduled", (await response.ReadJsonAsync()).GetProperty("status").GetString());
        Assert.Equal(before + 1, factory.Models.RefitCalls);
    }

    [Fact]
    public async Task Refit_WarmingUp_Returns409()
    {
        await Http.CreateAsync(_client, "q:refit-cold");
        await (await _client.PostAsync("/v1/models/q:refit-cold/refit", null)).AssertProblemAsync(409);
    }
}
