using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// Every field of a model definition is strictly typed: a number sent as a string (<c>"dimension":"2"</c> was read as 2),
/// a string sent as a number, a fraction where a whole number belongs or a boolean anywhere is a 400 naming the field's
/// path and the type it takes, and nothing is created or replaced.
/// </summary>
public sealed class DefinitionTypingTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Base = "\"kind\":\"gmm\",\"dimension\":2,\"components\":2";
    private const string Whole = "must be a whole number";
    private const string Number = "must be a finite number";
    private const string Text = "must be a string";
    private const string Object = "must be a JSON object";

    private readonly HttpClient _client = factory.CreateClient();

    public static TheoryData<string, string, string, string> WrongTypes => new()
    {
        // body, field, what the answer says the field takes, what it says was sent
        { """{"kind":"gmm","dimension":"2","components":2}""", "dimension", Whole, "the string \"2\"" },
        { """{"kind":"gmm","dimension":2.5,"components":2}""", "dimension", Whole, "2.5" },
        { """{"kind":"gmm","dimension":true,"components":2}""", "dimension", Whole, "true" },
        { """{"kind":"gmm","dimension":2,"components":"2"}""", "components", Whole, "the string \"2\"" },
        { """{"kind":"hmm","dimension":2,"states":"3"}""", "states", Whole, "the string \"3\"" },
        { """{"kind":"hmm","dimension":2,"states":[3]}""", "states", Whole, "an array" },
        { """{"kind":1,"dimension":2,"components":2}""", "kind", Text, "1" },
        { """{"kind":false,"dimension":2,"components":2}""", "kind", Text, "false" },
        { "{" + Base + ""","covariance":2}""", "covariance", Text, "2" },
        { "{" + Base + ""","covariance":{"type":"diag"}}""", "covariance", Text, "an object" },
        { "{" + Base + ""","halfLife":"500"}""", "halfLife", Number, "the string \"500\"" },
        { "{" + Base + ""","halfLife":true}""", "halfLife", Number, "true" },
        { "{" + Base + ""","alpha":"0.7"}""", "alpha", Number, "the string \"0.7\"" },
        { "{" + Base + ""","alpha":"NaN"}""", "alpha", Number, "the string \"NaN\"" },
        { "{" + Base + ""","batchSize":"64"}""", "batchSize", Whole, "the string \"64\"" },
        { "{" + Base + ""","batchSize":64.5}""", "batchSize", Whole, "64.5" },
        { "{" + Base + ""","anomalyThreshold":"10"}""", "anomalyThreshold", Number, "the string \"10\"" },
        { "{" + Base + ""","anomalyThreshold":false}""", "anomalyThreshold", Number, "false" },
        { "{" + Base + ""","anomalyTailProbability":"1e-4"}""", "anomalyTailProbability", Number, "the string \"1e-4\"" },
        { "{" + Base + ""","seed":"7"}""", "seed", Whole, "the string \"7\"" },
        { "{" + Base + ""","seed":7.5}""", "seed", Whole, "7.5" },
        { "{" + Base + ""","refit":"often"}""", "refit", Object, "the string \"often\"" },
        { "{" + Base + ""","refit":[]}""", "refit", Object, "an array" },
        { "{" + Base + ""","refit":{"everyObservations":"100"}}""", "refit.everyObservations", Whole, "the string \"100\"" },
        { "{" + Base + ""","refit":{"everyObservations":1.5}}""", "refit.everyObservations", Whole, "1.5" },
        { "{" + Base + ""","refit":{"everySeconds":"60"}}""", "refit.everySeconds", Number, "the string \"60\"" },
        { "{" + Base + ""","refit":{"everySeconds":true}}""", "refit.everySeconds", Number, "true" },
        { "{" + Base + ""","refit":{"window":"1000"}}""", "refit.window", Whole, "the string \"1000\"" },
        { "{" + Base + ""","refit":{"restarts":2.5}}""", "refit.restarts", Whole, "2.5" },
        { "{" + Base + ""","snapshots":true}""", "snapshots", Object, "true" },
        { "{" + Base + ""","snapshots":{"everyObservations":"100"}}""", "snapshots.everyObservations", Whole, "the string \"100\"" },
        { "{" + Base + ""","snapshots":{"everySeconds":"1"}}""", "snapshots.everySeconds", Number, "the string \"1\"" },
        { "{" + Base + ""","snapshots":{"retain":"5"}}""", "snapshots.retain", Whole, "the string \"5\"" },
        { "{" + Base + ""","snapshots":{"retain":5.5}}""", "snapshots.retain", Whole, "5.5" },
        { "{" + Base + ""","batchSize":1e400}""", "batchSize", Whole, "1e400" },
        { "{" + Base + ""","batchSize":3e9}""", "batchSize", Whole, "3e9" },
        { "{" + Base + ""","seed":-1.0}""", "seed", Whole, "-1.0" },
        { "{" + Base + ""","refit":{"window":1000.0000000000001}}""", "refit.window", Whole, "1000.0000000000001" },
    };

    [Theory]
    [InlineData("""{"kind":"gmm","dimension":2.5,"components":2}""", "dimension", "must be a whole number, not 2.5")]
    [InlineData("""{"kind":"gmm","dimension":"2","components":2}""", "dimension", "must be a whole number, not the string \"2\"")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":{"everyObservations":1.5}}""", "refit.everyObservations", "must be a whole number, not 1.5")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"seed":7.5}""", "seed", "must be a whole number, not 7.5")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"batchSize":3e9}""", "batchSize", "must be a whole number between -2147483648 and 2147483647, not 3e9")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"seed":-1}""", "seed", "must be a whole number between 0 and 18446744073709551615, not -1")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":{"window":1e400}}""", "refit.window", "must be a whole number between -2147483648 and 2147483647, not 1e400")]
    public async Task PutModel_WholeNumberField_NamesTheStorageRangeOnlyForAWholeNumberBeyondIt(string body, string field, string detail)
    {
        // "dimension: must be a whole number between -2147483648 and 2147483647, not 2.5" read as if a dimension of -5 or
        // of a billion were allowed (the field takes 1 to 64): the range belongs only to a whole number past it.
        var problem = await (await _client.PutAsync("/v1/models/type:range", Http.Json(body))).AssertProblemAsync(400, field);
        Assert.Equal($"{field}: {detail}", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task PutModel_WholeNumbersWrittenWithAFractionOrExponent_Accepted()
    {
        // Python floats and JavaScript arithmetic send 2.0 for 2: the value is a whole number, so it is one.
        var response = await _client.PutAsync("/v1/models/type:floats", Http.Json("""
            {"kind":"gmm","dimension":2.0,"components":3e0,"batchSize":6.4e1,"warmUp":90.00,
             "refit":{"everyObservations":1e4,"window":2000.0,"restarts":2.0},"snapshots":{"retain":5.0},"seed":18446744073709551615.0}
            """));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var definition = (await response.ReadJsonAsync()).GetProperty("definition");
        Assert.Equal(2, definition.GetProperty("dimension").GetInt32());
        Assert.Equal(3, definition.GetProperty("components").GetInt32());
        Assert.Equal(64, definition.GetProperty("batchSize").GetInt32());
        Assert.Equal(90, definition.GetProperty("warmUp").GetInt32());
        Assert.Equal(10_000, definition.GetProperty("refit").GetProperty("everyObservations").GetInt64());
        Assert.Equal(ulong.MaxValue, definition.GetProperty("seed").GetUInt64());
    }

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task PutModel_FieldOfTheWrongType_Returns400NamingFieldAndTypeAndCreatesNothing(string body, string field, string expected, string given)
    {
        var response = await _client.PutAsync("/v1/models/type:new", Http.Json(body));
        var detail = (await response.AssertProblemAsync(400, field)).GetProperty("detail").GetString()!;
        Assert.Contains(expected, detail);
        Assert.Contains($"not {given}", detail);
        await (await _client.GetAsync("/v1/models/type:new")).AssertProblemAsync(404, "id");
    }

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task PutModel_FieldOfTheWrongTypeOnAnExistingModel_LeavesItsDefinition(string body, string field, string expected, string given)
    {
        _ = (field, expected, given);
        await Http.CreateAsync(_client, "type:kept", dimension: 3, components: 4);
        await (await _client.PutAsync("/v1/models/type:kept", Http.Json(body))).AssertProblemAsync(400);
        var definition = (await (await _client.GetAsync("/v1/models/type:kept")).ReadJsonAsync()).GetProperty("definition");
        Assert.Equal(3, definition.GetProperty("dimension").GetInt32());
        Assert.Equal(4, definition.GetProperty("components").GetInt32());
    }

    [Fact]
    public async Task PutModel_EveryFieldWithItsOwnType_Created()
    {
        // The strict reading refuses no well-typed definition: every field, numbers as numbers, strings as strings.
        var response = await _client.PutAsync("/v1/models/type:full", Http.Json("""
            {"kind":"gmm","dimension":2,"components":2,"covariance":"diag","halfLife":500.5,"batchSize":32,
             "refit":{"everyObservations":1000,"everySeconds":60.5,"window":2000,"restarts":2},
             "snapshots":{"everyObservations":500,"everySeconds":30,"retain":5},"anomalyThreshold":12.5,"anomalyTailProbability":1e-4,"seed":18446744073709551615}
            """));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var definition = (await response.ReadJsonAsync()).GetProperty("definition");
        Assert.Equal(18446744073709551615UL, definition.GetProperty("seed").GetUInt64());
        Assert.Equal(60.5, definition.GetProperty("refit").GetProperty("everySeconds").GetDouble());
        Assert.Equal(1e-4, definition.GetProperty("anomalyTailProbability").GetDouble());
        Assert.True(!definition.TryGetProperty("regimeConfidence", out var none) || none.ValueKind == System.Text.Json.JsonValueKind.Null, definition.ToString());

        var hmm = await _client.PutAsync("/v1/models/type:hmm", Http.Json("""{"kind":"hmm","dimension":1,"states":2,"regimeConfidence":0.9}"""));
        Assert.True(hmm.StatusCode == HttpStatusCode.Created, await hmm.Content.ReadAsStringAsync());
        Assert.Equal(0.9, (await hmm.ReadJsonAsync()).GetProperty("definition").GetProperty("regimeConfidence").GetDouble());
        await (await _client.PutAsync("/v1/models/type:hmm2", Http.Json("""{"kind":"hmm","dimension":1,"states":2,"regimeConfidence":"0.9"}"""))).AssertProblemAsync(400, "regimeConfidence");
    }
}
