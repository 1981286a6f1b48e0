using System.Text.Json;

namespace EmStreaming.Cli.Tests.Client;

/// <summary>The client commands (models, state, replay, watch) against servers that misbehave, and with bad arguments.</summary>
public sealed class ClientCommandTests
{
    private const string Unreachable = "http://127.0.0.1:1";
    private const string NotFound = """{"status":404,"title":"Model not found","detail":"model 't1' does not exist"}""";

    private static void NoStackTrace(string error)
    {
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("Exception", error);
    }

    [Theory]
    [InlineData("models")]
    [InlineData("state", "t1")]
    public void Query_ServerAnswers200WithSomethingElse_ExitsThreeWithoutAStackTrace(params string[] args)
    {
        foreach (var (type, body) in new[] { ("text/html", "<html>a proxy's page</html>"), ("application/json", "[1,2,3]") })
        {
            using var server = new FakeServer((_, _) => FakeServer.Answer(200, type, body));
            var (code, _, error) = CliRunner.Run([.. args, "--server", server.Url]);
            Assert.True(code == 3, error);
            Assert.Contains("not the API's JSON", error);
            NoStackTrace(error);
        }
    }

    [Fact]
    public void Models_ServerRepeatsItsCursor_ExitsThreeInsteadOfPagingForever()
    {
        var pages = 0;
        using var server = new FakeServer((_, _) => Interlocked.Increment(ref pages) < 50
            ? FakeServer.Answer(200, "application/json", """{"models":[],"nextCursor":"same"}""")
            : FakeServer.Answer(500, "text/plain", "the test's server gave up"));
        var (code, _, error) = CliRunner.Run("models", "--server", server.Url);
        Assert.Equal(3, code);
        Assert.Contains("nextCursor 'same' a second time", error);
        Assert.True(server.Requests.Count <= 2, $"{server.Requests.Count} requests");
    }

    [Fact]
    public void Replay_AppendAnswerWithoutRejectedRows_ExitsThreeWithoutAStackTrace()
    {
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n3,4\n");
        using var server = new FakeServer((method, _) => method == "GET"
            ? FakeServer.Answer(404, "application/problem+json", NotFound)
            : FakeServer.Answer(200, "application/json", """{"accepted":2}"""));
        var (code, _, error) = CliRunner.Run("replay", file.Path, "--model", "t1", "--server", server.Url);
        Assert.True(code == 3, error);
        Assert.Contains("rejected rows", error);
        NoStackTrace(error);
    }

    [Fact]
    public void Watch_EventStreamBreaksOff_ExitsThreeWithoutAStackTrace()
    {
        using var server = new FakeServer((_, _) =>
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n: subscribed\n\nevent: anomaly\n");
        var (code, _, error) = CliRunner.Run("watch", "--count", "1", "--json", "--server", server.Url);
        Assert.True(code == 3, error);
        Assert.Contains("event stream broke off", error);
        NoStackTrace(error);
    }

    [Theory]
    [InlineData("1e300")]
    [InlineData("-5")]
    [InlineData("NaN")]
    [InlineData("0")]
    public void Watch_BadTimeout_ExitsTwoNamingIt(string value)
    {
        var (code, _, error) = CliRunner.Run("watch", "--count", "1", "--timeout", value, "--server", Unreachable);
        Assert.Equal(2, code);
        Assert.Contains("--timeout", error);
        NoStackTrace(error);
    }

    [Fact]
    public void ReplayJson_RejectedRows_CarryTheirRowAndReason()
    {
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n3,4\n");
        using var server = new FakeServer((method, _) => method == "GET"
            ? FakeServer.Answer(404, "application/problem+json", NotFound)
            : FakeServer.Answer(200, "application/json", """{"accepted":1,"rejected":[{"index":1,"reason":"a value beyond 1e100"}],"replayed":false}"""));
        var (code, output, error) = CliRunner.Run("replay", file.Path, "--model", "t1", "--json", "--server", server.Url);
        Assert.True(code == 4, error);
        Assert.StartsWith($"error: {file.Path}: model 't1' rejected 1 of its 2 rows and applied the other 1; row 2: a value beyond 1e100", error);
        using var doc = JsonDocument.Parse(output);
        var rejected = doc.RootElement.GetProperty("rejected");
        Assert.Equal(1, rejected.GetArrayLength());
        Assert.Equal(2, rejected[0].GetProperty("row").GetInt32());
        Assert.Equal("a value beyond 1e100", rejected[0].GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("anomaly", "regimechanged,nope")]
    [InlineData("")]
    public void Watch_UnknownEventType_ExitsTwoNamingTheFlagAndTheTypes_BeforeConnecting(params string[] types)
    {
        // Filtered out, an event type the server never sends had watch wait forever (here: fail to connect, exit 3).
        var (code, _, error) = CliRunner.Run(["watch", .. types.SelectMany(t => new[] { "--type", t }), "--server", Unreachable]);
        Assert.True(code == 2, error);
        Assert.Contains("--type: '", error);
        Assert.Contains("regimeChanged, anomaly, refitAdopted, refitRejected, snapshotWritten", error);
        NoStackTrace(error);
    }

    [Fact]
    public void Watch_KnownEventTypesInAnyCase_AreAccepted()
    {
        // Past the check: the unreachable server is what fails (exit 3), not the flag.
        var (code, _, error) = CliRunner.Run("watch", "--type", "RegimeChanged,anomaly", "--type", "drift", "--server", Unreachable);
        Assert.True(code == 3, error);
        Assert.DoesNotContain("--type", error);
    }

    [Theory]
    [InlineData("a/b", "U+002F at index 1")]
    [InlineData("é", "U+00E9 at index 0")]
    [InlineData("a\u0001", "U+0001 at index 1")]
    public void Models_HostilePrefix_ExitsTwoNamingTheCharacterBeforeAnyRequest(string prefix, string expected)
    {
        // The server's 400 for it came back as a server error (exit 3); the id rule is known here, as for ids.
        var (code, _, error) = CliRunner.Run("models", "--prefix", prefix, "--server", Unreachable);
        Assert.True(code == 2, error);
        Assert.Contains("--prefix: a prefix is", error);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("cannot reach", error);
    }

    [Theory]
    [InlineData("replay", "--model")]
    [InlineData("state", "id")]
    [InlineData("watch", "id")]
    public void HostileModelId_ExitsTwoNamingTheCharacterTypedBeforeAnyRequest(string command, string what)
    {
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n");
        string[] args = command switch
        {
            "replay" => ["replay", file.Path, "--model", "a/b", "--server", Unreachable],
            "state" => ["state", "a/b", "--server", Unreachable],
            _ => ["watch", "a/b", "--count", "1", "--server", Unreachable],
        };
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Contains($"{what}: a model id is", error);
        Assert.Contains("U+002F at index 1", error);
        Assert.DoesNotContain("cannot reach", error);
    }
}
