using System.Net;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

/// <summary>The probe findings of issue 12 on query strings and bodies, each pinned as a regression test.</summary>
public sealed class QueryAndBodyEdgeTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly ApiFactory _factory = factory;
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<long> ObservationsAsync(string id) =>
        (await (await _client.GetAsync($"/v1/models/{id}")).ReadJsonAsync()).GetProperty("status").GetProperty("observations").GetInt64();

    [Theory]
    [InlineData("abc")]
    [InlineData("1e12")]
    [InlineData("99999999999")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("0x10")]
    [InlineData(" 5")]
    public async Task Limit_NotAWholeNumberInRange_Returns400NamingLimit(string limit)
    {
        await Http.CreateAsync(_client, "edge:limit");
        var escaped = Uri.EscapeDataString(limit);
        await (await _client.GetAsync($"/v1/models?limit={escaped}")).AssertProblemAsync(400, "limit");
        await (await _client.GetAsync($"/v1/models/edge:limit/recent?limit={escaped}")).AssertProblemAsync(400, "limit");
    }

    [Fact]
    public async Task Limit_InRange_Answers200()
    {
        await Http.CreateAsync(_client, "edge:limit-ok");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models?limit=1000")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models/edge:limit-ok/recent?limit=10000")).StatusCode);
    }

    [Theory]
    [InlineData("application/json", """{"rows":[[1,2],[3,""")]
    [InlineData("application/json", """{"rows":[[1,2]""")]
    [InlineData("application/json", """{"rows":""")]
    [InlineData("application/json", """{"ro""")]
    [InlineData("application/x-ndjson", "[1,2]\n[3,")]
    public async Task Append_TruncatedJson_ReportedAsCutShortNotAsNaN(string contentType, string body)
    {
        await Http.CreateAsync(_client, "edge:trunc");
        var problem = await (await _client.PostAsync("/v1/models/edge:trunc/observations", Http.Body(body, contentType))).AssertProblemAsync(400);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("not valid JSON", detail);
        Assert.DoesNotContain("NaN", detail);
        Assert.Equal(0, await ObservationsAsync("edge:trunc"));
    }

    [Fact]
    public async Task Append_SyntaxErrorInsideRows_ReportedAsInvalidJson()
    {
        await Http.CreateAsync(_client, "edge:syntax");
        var problem = await (await _client.PostAsync("/v1/models/edge:syntax/observations", Http.Json("""{"rows":[[1,2],[3,]]}"""))).AssertProblemAsync(400, "body");
        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("x,y\n\"1,5\",2\n", "rows[0][0]")]
    [InlineData("1,2\n3,\"1,5\"\n", "rows[1][1]")]
    public async Task Append_CsvQuotedFieldWithComma_IsOneFieldAndNotANumber(string csv, string field)
    {
        await Http.CreateAsync(_client, "edge:quoted");
        var problem = await (await _client.PostAsync("/v1/models/edge:quoted/observations", Http.Body(csv, "text/csv"))).AssertProblemAsync(400, field);
        Assert.Contains("'1,5'", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await ObservationsAsync("edge:quoted"));
    }

    [Fact]
    public async Task Append_CsvQuotedHeaderWithLineBreakAndQuotedNumbers_Accepted()
    {
        await Http.CreateAsync(_client, "edge:rfc");
        var csv = "\"temperature\n(°C)\",\"say \"\"hi\"\"\"\r\n\"1.5\",2\r\n3,\"NA\"\r\n";
        var json = await (await _client.PostAsync("/v1/models/edge:rfc/observations", Http.Body(csv, "text/csv"))).ReadJsonAsync();
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        Assert.Equal(2, await ObservationsAsync("edge:rfc"));
    }

    [Theory]
    [InlineData("1,2\n3,\"4\n")]
    [InlineData("\"a,b\n1,2\n")]
    public async Task Append_CsvUnterminatedQuote_Returns400AndChangesNothing(string csv)
    {
        await Http.CreateAsync(_client, "edge:unterminated");
        var problem = await (await _client.PostAsync("/v1/models/edge:unterminated/observations", Http.Body(csv, "text/csv"))).AssertProblemAsync(400);
        Assert.Contains("never closed", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await ObservationsAsync("edge:unterminated"));
    }

    [Theory]
    [InlineData("application/json; charset=utf-16", "{\"rows\":[[1,2]]}")]
    [InlineData("application/json; charset=utf-32", "{\"rows\":[[1,2]]}")]
    [InlineData("text/csv; charset=utf-16le", "1,2\n")]
    [InlineData("application/x-ndjson; charset=ucs-2", "[1,2]\n")]
    public async Task Append_BodyInACharsetOtherThanUtf8_Returns415NamingContentTypeAndAppliesNothing(string contentType, string text)
    {
        // The body is read as UTF-8: a UTF-16 body was a misleading "not valid JSON" 400, and a UTF-8 body labelled UTF-16 was accepted.
        await Http.CreateAsync(_client, "edge:charset");
        var encoding = contentType.Contains("utf-32", StringComparison.Ordinal) ? System.Text.Encoding.UTF32 : System.Text.Encoding.Unicode;
        foreach (var bytes in new[] { encoding.GetBytes(text), System.Text.Encoding.UTF8.GetBytes(text) })
        {
            using var content = new ByteArrayContent(bytes);
            content.Headers.Remove("Content-Type");
        Assert.True(content.Headers.TryAddWithoutValidation("Content-Type", contentType));
            var problem = await (await _client.PostAsync("/v1/models/edge:charset/observations", content)).AssertProblemAsync(415, "Content-Type");
            Assert.Contains("UTF-8", problem.GetProperty("detail").GetString());
        }

        Assert.Equal(0, await ObservationsAsync("edge:charset"));
    }

    [Fact]
    public async Task Put_BodyInUtf16_Returns415NamingContentTypeAndCreatesNothing()
    {
        using var content = new ByteArrayContent(System.Text.Encoding.Unicode.GetBytes("""{"kind":"gmm","dimension":2,"components":2}"""));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-16");
        await (await _client.PutAsync("/v1/models/edge:charset-put", content)).AssertProblemAsync(415, "Content-Type");
        await (await _client.GetAsync("/v1/models/edge:charset-put")).AssertProblemAsync(404, "id");
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=us-ascii")]
    public async Task Append_Utf8OrAsciiCharset_Accepted(string contentType)
    {
        await Http.CreateAsync(_client, "edge:charset-ok");
        using var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("""{"rows":[[1,2]]}"""));
        content.Headers.Remove("Content-Type");
        Assert.True(content.Headers.TryAddWithoutValidation("Content-Type", contentType));
        var json = await (await _client.PostAsync("/v1/models/edge:charset-ok/observations", content)).ReadJsonAsync();
        Assert.Equal(1, json.GetProperty("accepted").GetInt32());
    }

    [Theory]
    [InlineData("gzip", true)]
    [InlineData("gzip", false)]
    [InlineData("br", false)]
    [InlineData("identity, gzip", false)]
    public async Task Append_CompressedBody_Returns415NamingContentEncodingAndAppliesNothing(string coding, bool compress)
    {
        // The server decompresses nothing: a gzip body was a misleading "not valid JSON" 400, and a plain body labelled gzip was accepted.
        await Http.CreateAsync(_client, "edge:coding");
        var bytes = System.Text.Encoding.UTF8.GetBytes("""{"rows":[[1,2]]}""");
        if (compress)
        {
            using var buffer = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(bytes);
            }

            bytes = buffer.ToArray();
        }

        using var content = new ByteArrayContent(bytes);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        content.Headers.TryAddWithoutValidation("Content-Encoding", coding);
        await (await _client.PostAsync("/v1/models/edge:coding/observations", content)).AssertProblemAsync(415, "Content-Encoding");
        using var put = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("""{"kind":"gmm","dimension":2,"components":2}"""));
        put.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        put.Headers.TryAddWithoutValidation("Content-Encoding", coding);
        await (await _client.PutAsync("/v1/models/edge:coding-put", put)).AssertProblemAsync(415, "Content-Encoding");
        await (await _client.GetAsync("/v1/models/edge:coding-put")).AssertProblemAsync(404, "id");
        Assert.Equal(0, await ObservationsAsync("edge:coding"));
    }

    [Theory]
    [InlineData("%25%25%25")]
    [InlineData("a%20b")]
    [InlineData("%00")]
    [InlineData("%E2%80%AE")]
    public async Task List_CursorThatIsNoModelId_Returns400NamingCursor(string cursor)
    {
        // A cursor is the nextCursor of an earlier page (a model id); anything else used to answer a page as if valid.
        await Http.CreateAsync(_client, "edge:cursor");
        await (await _client.GetAsync($"/v1/models?cursor={cursor}")).AssertProblemAsync(400, "cursor");
    }

    [Fact]
    public async Task List_LongCursor_Returns400NamingCursor()
    {
        await (await _client.GetAsync($"/v1/models?cursor={new string('z', 5000)}")).AssertProblemAsync(400, "cursor");
    }

    [Theory]
    [InlineData("""{"kind":"gmm","dimension":2.5,"components":2}""", "dimension", "whole number")]
    [InlineData("""{"kind":"gmm","dimension":99999999999,"components":2}""", "dimension", "whole number")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"seed":-1}""", "seed", "whole number between 0 and")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"halfLife":"x"}""", "halfLife", "number")]
    [InlineData("""{"kind":["gmm"],"dimension":2,"components":2}""", "kind", "string")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":5}""", "refit", "JSON object")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"refit":{"window":1.5}}""", "refit.window", "whole number")]
    [InlineData("""[{"kind":"gmm"}]""", "body", "JSON object")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"extra":1}""", "extra", "dimension")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2,"snapshots":{"foo":1}}""", "snapshots.foo", "retain")]
    public async Task Put_WrongTypeOrUnknownField_Returns400InTheApisWordsAndCreatesNothing(string body, string field, string expected)
    {
        // The serializer's own messages named .NET types ("System.Nullable`1[System.Int32]", "EmStreaming.Server.Api.RefitDto").
        var problem = await (await _client.PutAsync("/v1/models/edge:types", Http.Json(body))).AssertProblemAsync(400, field);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(expected, detail);
        Assert.DoesNotContain("System.", detail);
        Assert.DoesNotContain("EmStreaming.", detail);
        Assert.DoesNotContain(".NET", detail);
        await (await _client.GetAsync("/v1/models/edge:types")).AssertProblemAsync(404, "id");
    }

    [Theory]
    [InlineData("""{"kind":"gmm","dimension":2,"components":2""")]
    [InlineData("""{"kind":"gmm","dimension":2,"components":""")]
    [InlineData("""{"kind":"gmm","refit":{"window":100""")]
    [InlineData("""{"kind":"gm""")]
    public async Task Put_TruncatedBody_ReportedAsCutShortNotAsTheLastField(string body)
    {
        // A cut body blamed its last field: "components: '2' is an invalid end of a number. Expected a delimiter."
        var problem = await (await _client.PutAsync("/v1/models/edge:put-trunc", Http.Json(body))).AssertProblemAsync(400, "body");
        Assert.Contains("cut short", problem.GetProperty("detail").GetString());
        await (await _client.GetAsync("/v1/models/edge:put-trunc")).AssertProblemAsync(404, "id");
    }

    [Fact]
    public async Task Put_SyntaxErrorInsideTheBody_StillNamesTheField()
    {
        var problem = await (await _client.PutAsync("/v1/models/edge:put-syntax", Http.Json("""{"kind":"gmm","dimension":2x,"components":2}"""))).AssertProblemAsync(400, "dimension");
        Assert.DoesNotContain("cut short", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("1,2x\n3,4\n", "rows[0][1]")]
    [InlineData("oops,2\n3,4\n", "rows[0][0]")]
    [InlineData(" 1 ,NA,abc\n3,4,5\n", "rows[0][2]")]
    public async Task Append_CsvFirstRowWithANumberAndATypo_Returns400NotADroppedHeader(string csv, string field)
    {
        // A first row holding a number is data: it was taken for a header and dropped without a word (accepted 1 of 2 rows).
        await Http.CreateAsync(_client, "edge:csv-first", dimension: 3);
        await (await _client.PostAsync("/v1/models/edge:csv-first/observations", Http.Body(csv, "text/csv"))).AssertProblemAsync(400, field);
        Assert.Equal(0, await ObservationsAsync("edge:csv-first"));

        // A query answered one row short, misaligning every answer with the rows sent.
        await (await _client.PostAsync("/v1/models/edge:csv-first/predict", Http.Body(csv, "text/csv"))).AssertProblemAsync(400, field);
    }

    [Theory]
    [InlineData("a,b\n1,2\n")]
    [InlineData("temp,\n1,2\n")]
    [InlineData("\"x, y\",NA\n1,2\n")]
    public async Task Append_CsvHeaderOfNames_StillSkipped(string csv)
    {
        await Http.CreateAsync(_client, "edge:csv-header");
        var json = await (await _client.PostAsync("/v1/models/edge:csv-header/observations", Http.Body(csv, "text/csv"))).ReadJsonAsync();
        Assert.Equal(1, json.GetProperty("accepted").GetInt32());
    }

    [Theory]
    [InlineData("observations")]
    [InlineData("predict")]
    public async Task RowsBody_RowsGivenTwice_Returns400AndAppliesNothing(string endpoint)
    {
        // Both arrays were taken (2 rows appended, 2 labels answered) where most JSON readers keep only the last.
        await Http.CreateAsync(_client, "edge:dup-rows");
        await (await _client.PostAsync($"/v1/models/edge:dup-rows/{endpoint}", Http.Json("""{"rows":[[1,2]],"rows":[[3,4]]}"""))).AssertProblemAsync(400, "rows");
        Assert.Equal(0, await ObservationsAsync("edge:dup-rows"));
    }

    [Fact]
    public async Task Put_FieldGivenTwice_Returns400AndCreatesNothing()
    {
        // The last "kind" silently won: this body created an hmm.
        var problem = await (await _client.PutAsync("/v1/models/edge:dup-kind", Http.Json("""{"kind":"gmm","dimension":2,"components":2,"kind":"hmm"}"""))).AssertProblemAsync(400, "kind");
        Assert.Contains("more than once", problem.GetProperty("detail").GetString());
        await (await _client.GetAsync("/v1/models/edge:dup-kind")).AssertProblemAsync(404, "id");
    }

    [Theory]
    [InlineData("/v1/models?prefix=edge:&prefix=other:", "prefix")]
    [InlineData("/v1/models?limit=10&limit=20", "limit")]
    [InlineData("/v1/models?cursor=a&cursor=b", "cursor")]
    [InlineData("/v1/models/edge:twice/recent?limit=10&limit=20", "limit")]
    [InlineData("/v1/models/edge:twice/snapshots/at?time=2025-01-01T00:00:00Z&time=2026-01-01T00:00:00Z", "time")]
    public async Task Query_ParameterGivenTwice_Returns400SayingSo(string url, string field)
    {
        // Bound as one string, the values were joined: "character U+002C at index 5 is not allowed" for a comma never sent.
        await Http.CreateAsync(_client, "edge:twice");
        var problem = await (await _client.GetAsync(url)).AssertProblemAsync(400, field);
        Assert.Contains("2 times", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("GET", "/v1/models/edge:version/snapshots/abc")]
    [InlineData("GET", "/v1/models/edge:version/snapshots/1.0")]
    [InlineData("GET", "/v1/models/edge:version/snapshots/1e3")]
    [InlineData("GET", "/v1/models/edge:version/snapshots/99999999999999999999")]
    [InlineData("POST", "/v1/models/edge:version/snapshots/x/restore")]
    [InlineData("POST", "/v1/models/edge:version/snapshots/99999999999999999999/restore")]
    public async Task Snapshot_VersionNotAWholeNumber_Returns400NamingVersion(string method, string path)
    {
        // Missing the {version:long} route, these were the framework's bare 404 "Not Found", with no field or detail.
        await Http.CreateAsync(_client, "edge:version");
        var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var problem = await response.AssertProblemAsync(400, "version");
        Assert.Contains("whole number", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Snapshot_VersionRoutes_StillServeNumbersAndAt()
    {
        await Http.CreateAsync(_client, "edge:version-ok");
        await (await _client.GetAsync("/v1/models/edge:version-ok/snapshots/-1")).AssertProblemAsync(400, "version");
        await (await _client.GetAsync("/v1/models/edge:version-ok/snapshots/at")).AssertProblemAsync(400, "time");
        await (await _client.GetAsync("/v1/models/bad%20id/snapshots/abc")).AssertProblemAsync(400, "id");
        await (await _client.PostAsync("/v1/models/edge:version-ok/snapshots/0/restore", null)).AssertProblemAsync(400, "version");
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \r\n")]
    public async Task RowsBody_EmptyJson_SaysEmptyNotCutShort(string body)
    {
        await Http.CreateAsync(_client, "edge:empty");
        foreach (var endpoint in new[] { "observations", "predict" })
        {
            var problem = await (await _client.PostAsync($"/v1/models/edge:empty/{endpoint}", Http.Json(body))).AssertProblemAsync(400, "body");
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains("empty", detail);
            Assert.DoesNotContain("cut short", detail);
        }
    }

    [Theory]
    [InlineData("PUT", "/v1/models/edge:ct", "application/x-www-form-urlencoded", "application/json")]
    [InlineData("POST", "/v1/models/edge:ct/observations", "application/x-www-form-urlencoded", "text/csv")]
    [InlineData("POST", "/v1/models/edge:ct/predict", "application/xml", "application/x-ndjson")]
    public async Task UnsupportedContentType_FrameworkAnswer_SaysWhatToSend(string method, string path, string contentType, string expected)
    {
        // The framework's own 415 had a title and no detail: a bare curl -d (form-urlencoded) was not told what to send.
        await Http.CreateAsync(_client, "edge:ct");
        using var content = new StringContent("""{"rows":[[1,2]]}""");
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = content });
        var problem = await response.AssertProblemAsync(415, "Content-Type");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(contentType, detail);
        Assert.Contains(expected, detail);
        Assert.Equal(0, await ObservationsAsync("edge:ct"));
    }

    /// <summary>A valid definition under <paramref name="contentType"/> exactly as given (even one HttpClient would refuse to parse).</summary>
    private static StringContent DefinitionLabelled(string contentType)
    {
        var content = new StringContent("""{"kind":"gmm","dimension":2,"components":2}""");
        content.Headers.Remove("Content-Type");
        Assert.True(content.Headers.TryAddWithoutValidation("Content-Type", contentType));
        return content;
    }

    [Theory]
    [InlineData("application/json, text/csv")]
    [InlineData("application/json-seq")]
    [InlineData("application/jsonx")]
    [InlineData("text/plain")]
    public async Task Put_ContentTypeThatIsNotJson_Returns415AndCreatesNothing(string contentType)
    {
        // PUT checked a prefix ("application/json…"), so two media types, or application/json-seq, were read as JSON.
        using var content = DefinitionLabelled(contentType);
        var problem = await (await _client.PutAsync("/v1/models/edge:put-ct", content)).AssertProblemAsync(415, "Content-Type");
        Assert.Equal("urn:emstreaming:problem:unsupported-media-type", problem.GetProperty("type").GetString());
        await (await _client.GetAsync("/v1/models/edge:put-ct")).AssertProblemAsync(404, "id");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/merge-patch+json")]
    public async Task Put_JsonMediaTypes_AcceptedAsForRows(string contentType)
    {
        using var content = DefinitionLabelled(contentType);
        var response = await _client.PutAsync("/v1/models/edge:put-json", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Recent_StoredRowTheQueryRulesRefuse_AnswersRowsWithoutLabelsNot400()
    {
        // GET /recent labels the stored rows through predict; a stored row applied before the ±1e100 bound made that a 400
        // naming rows[i] for a request that sent no rows.
        await Http.CreateAsync(_client, "edge:recent");
        await Http.FeedAsync(_client, "edge:recent", 50);
        _factory.Models.FailNext["PredictAsync"] = new EmStreaming.Grains.ModelValidationException("rows[3]", "value 0 (1E+120) is beyond ±1e100");
        var response = await _client.GetAsync("/v1/models/edge:recent/recent?limit=10");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        Assert.Equal(10, json.GetProperty("rows").GetArrayLength());
        Assert.False(json.TryGetProperty("labels", out _));
    }

    [Theory]
    [InlineData("GET", "/v1/models?limt=10", "limt")]
    [InlineData("GET", "/v1/models/edge:q/recent?count=10", "count")]
    [InlineData("GET", "/v1/models/edge:q?verbose=1", "verbose")]
    [InlineData("GET", "/v1/models/edge:q/snapshots/at?t=2026-01-01T00:00:00Z", "t")]
    [InlineData("GET", "/v1/models/edge:q/state?api_key=x", "api_key")]
    [InlineData("POST", "/v1/models/edge:q/observations?dryRun=true", "dryRun")]
    [InlineData("DELETE", "/v1/models/edge:q?force=1", "force")]
    public async Task UnknownQueryParameter_Returns400NamingIt_AndChangesNothing(string method, string url, string name)
    {
        await Http.CreateAsync(_client, "edge:q");
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (method == "POST")
        {
            request.Content = Http.Json("""{"rows":[[1,2]]}""");
        }

        var problem = await (await _client.SendAsync(request)).AssertProblemAsync(400, name);

        Assert.Contains($"'{name}' is not a query parameter", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await ObservationsAsync("edge:q"));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models/edge:q")).StatusCode);
    }

    [Fact]
    public async Task KnownQueryParameters_StillAccepted()
    {
        await Http.CreateAsync(_client, "edge:q-ok");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models?prefix=edge:&cursor=a&limit=5")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models/edge:q-ok/recent?limit=5")).StatusCode);
    }
}
