using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.EndToEnd;

/// <summary>
/// The real program: <c>emstream serve</c> as a separate process on a free loopback port with its own data
/// directory; a CSV replayed through <c>emstream replay</c>; a regime change seen by <c>emstream watch</c>; the
/// process killed (no graceful stop) and started again on the same directory, and the model is still there.
/// </summary>
public sealed class ServerProcessTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private readonly string _dataDirectory = TestPaths.TempDirectory();
    private readonly string _url = $"http://127.0.0.1:{TestPaths.FreePort()}";
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly List<Process> _processes = [];

    // One pair of silo/gateway ports per test, kept across restarts of the server.
    private readonly Dictionary<string, string?> _orleansPorts = TestPaths.OrleansPorts();

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
            }

            p.Dispose();
        }

        _http.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task ServeReplayWatchKillRestart_ModelStateIntact()
    {
        var server = await StartServerAsync();
        const string id = "e2e:market";
        await PutModelAsync(id, """{"kind":"hmm","dimension":1,"states":2,"halfLife":2000,"batchSize":16,"snapshots":{"everyObservations":500}}""");

        // Alternating calm (sd 0.3 around 0) and volatile (sd 3 around 6) blocks: the regime must change.
        var csv = Path.Combine(_dataDirectory, "market.csv");
        var random = new Random(42);
        var lines = new StringBuilder("ret\n");
        const int Rows = 2_400;
        for (var i = 0; i < Rows; i++)
        {
            var volatileBlock = (i / 400) % 2 == 1;
            var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            lines.Append((volatileBlock ? 6 + (3 * z) : 0.3 * z).ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }

        await File.WriteAllTextAsync(csv, lines.ToString());

        var watch = Start("watch", id, "--server", _url, "--type", "regimeChanged", "--count", "1", "--json", "--timeout", "120");
        await Task.Delay(500); // let the watcher subscribe before the first row arrives (a missed event only costs a later one)
        var replay = await RunAsync("replay", csv, "--server", _url, "--model", id, "--batch", "100", "--json");
        Assert.Equal(0, replay.ExitCode);
        var replayed = JsonDocument.Parse(replay.Out).RootElement;
        Assert.Equal(Rows, replayed.GetProperty("accepted").GetInt32());
        Assert.Equal(0, replayed.GetProperty("rejected").GetArrayLength());

        Assert.True(watch.WaitForExit(Deadline), "no regime change arrived on the event stream");
        var watched = await watch.StandardOutput.ReadToEndAsync();
        Assert.Equal(0, watch.ExitCode);
        var change = JsonDocument.Parse(watched.Trim().Split('\n')[0]).RootElement;
        Assert.Equal("regimeChanged", change.GetProperty("type").GetString());
        Assert.Equal(id, change.GetProperty("modelId").GetString());

        var before = await WaitForObservationsAsync(id, Rows);
        Assert.True(File.Exists(Path.Combine(_dataDirectory, "emstreaming.db")), "--data-dir: the embedded SQLite file is not in the data directory");
        var stateBefore = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/{id}/state");

        // No graceful shutdown: the process dies as in a crash.
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();

        await StartServerAsync();
        var after = await WaitForObservationsAsync(id, Rows);
        Assert.Equal(before.GetProperty("definition").GetRawText(), after.GetProperty("definition").GetRawText());
        var stateAfter = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/{id}/state");
        Assert.Equal(Rows, stateAfter.GetProperty("observations").GetInt64());
        Assert.Equal(stateBefore.GetProperty("means").GetRawText(), stateAfter.GetProperty("means").GetRawText());
        Assert.Equal(stateBefore.GetProperty("transitions").GetRawText(), stateAfter.GetProperty("transitions").GetRawText());

        var models = await RunAsync("models", "--server", _url, "--json");
        Assert.Equal(0, models.ExitCode);
        Assert.Contains(id, models.Out);
        var state = await RunAsync("state", id, "--server", _url);
        Assert.Equal(0, state.ExitCode);
        Assert.Contains("transitions", state.Out);
    }

    [Fact]
    public async Task OrleansClientProcess_GrainCallForState_EqualsTheHttpAnswer()
    {
        await StartServerAsync();
        const string id = "e2e:client";
        await PutModelAsync(id, """{"kind":"gmm","dimension":2,"components":2,"seed":3}""");
        var random = new Random(5);
        var rows = Enumerable.Range(0, 800).Select(i => new[] { (i % 2 == 0 ? -4 : 4) + random.NextDouble(), random.NextDouble() }).ToArray();
        var append = await _http.PostAsJsonAsync($"{_url}/v1/models/{id}/observations", new { rows });
        Assert.True(append.IsSuccessStatusCode, await append.Content.ReadAsStringAsync());
        await WaitForObservationsAsync(id, rows.Length);
        var http = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/{id}/state");

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(TestPaths.OrleansClient);
        info.ArgumentList.Add(_orleansPorts["Orleans:GatewayPort"]!);
        info.ArgumentList.Add(id);
        using var client = Process.Start(info)!;
        var output = client.StandardOutput.ReadToEndAsync();
        var error = client.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(Deadline))
        {
            await client.WaitForExitAsync(timeout.Token);
        }

        Assert.True(client.ExitCode == 0, $"the Orleans client exited with {client.ExitCode}: {await error}");
        var grain = JsonDocument.Parse(await output).RootElement;
        Assert.Equal(http.GetProperty("observations").GetInt64(), grain.GetProperty("observations").GetInt64());
        Assert.Equal(rows.Length, grain.GetProperty("observations").GetInt64());
        Assert.False(grain.GetProperty("warmingUp").GetBoolean());
        foreach (var field in new[] { "means", "covariances", "weights" })
        {
            // Bit-equal numbers, whatever each side's JSON number formatting.
            Assert.Equal(Numbers(http.GetProperty(field)), Numbers(grain.GetProperty(field)));
            Assert.NotEmpty(Numbers(grain.GetProperty(field)));
        }
    }

    private static List<double> Numbers(JsonElement e)
    {
        var list = new List<double>();
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
            {
                list.AddRange(Numbers(item));
            }
        }
        else if (e.ValueKind == JsonValueKind.Number)
        {
            list.Add(e.GetDouble());
        }

        return list;
    }

    [Fact]
    public async Task KillMidStream_RestartAndRetryUnanswered_AppliedEqualsAcknowledgedExactly()
    {
        var server = await StartServerAsync();
        const string id = "e2e:crash";
        await PutModelAsync(id, """{"kind":"gmm","dimension":2,"components":2,"seed":3,"snapshots":{"everyObservations":300}}""");

        // Four producers append numbered batches with an Idempotency-Key each, until the server is killed under them.
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var unanswered = new System.Collections.Concurrent.ConcurrentDictionary<string, double[][]>();
        using var killed = new CancellationTokenSource();
        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            var random = new Random(p);
            for (var b = 0; !killed.IsCancellationRequested; b++)
            {
                var key = $"p{p}-b{b}";
                var rows = Enumerable.Range(0, 50).Select(_ => new[] { random.NextDouble() * 10, random.NextDouble() }).ToArray();
                try
                {
                    var response = await SendBatchAsync(id, key, rows);
                    if (response.IsSuccessStatusCode)
                    {
                        acknowledged[key] = rows.Length;
                        continue;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }

                unanswered[key] = rows; // sent, no answer: may or may not be durable
                return;
            }
        })).ToArray();

        await WaitUntilAsync(() => acknowledged.Count >= 60, "60 acknowledged batches before the kill");
        var before = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/{id}");
        server.Kill(entireProcessTree: true);
        await killed.CancelAsync();
        await server.WaitForExitAsync();
        await Task.WhenAll(producers);

        await StartServerAsync();
        // A client retries what got no answer, with the same key: applied at most once whether or not it was durable.
        foreach (var (key, rows) in unanswered)
        {
            var retry = await SendBatchAsync(id, key, rows);
            Assert.True(retry.IsSuccessStatusCode, await retry.Content.ReadAsStringAsync());
            acknowledged[key] = rows.Length;
        }

        var expected = acknowledged.Values.Sum();
        var after = await WaitForObservationsAsync(id, expected);
        await Task.Delay(1_000); // anything redelivered twice would show up as more than expected
        var final = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/{id}");
        Assert.Equal(expected, final.GetProperty("status").GetProperty("observations").GetInt64());
        Assert.Equal(expected, after.GetProperty("status").GetProperty("observations").GetInt64());
        // The kill came mid-stream: rows were accepted but not yet applied, or applied but not yet in a saved state.
        Assert.True(before.GetProperty("status").GetProperty("observations").GetInt64() < expected, "the server had applied everything before the kill");
    }

    [Fact]
    public async Task CorruptStoredState_OneModelAnswers503ProblemAndRestores_OthersUnaffected()
    {
        var server = await StartServerAsync();
        foreach (var id in new[] { "e2e:good", "e2e:bad" })
        {
            await PutModelAsync(id, """{"kind":"gmm","dimension":2,"components":2,"seed":3,"snapshots":{"everyObservations":100}}""");
            var rows = Enumerable.Range(0, 200).Select(i => new[] { i % 2 * 6.0 + (i % 7 * 0.1), i % 5 * 0.2 }).ToArray();
            Assert.True((await SendBatchAsync(id, $"{id}-1", rows)).IsSuccessStatusCode);
            await WaitForObservationsAsync(id, 200);
        }

        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        // One model's stored grain state no longer matches its checksum (a damaged page, a bad copy).
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dataDirectory, "emstreaming.db")};Pooling=false"))
        {
            connection.Open();
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE grain_state SET data = x'01454d4753020001ffff' WHERE grain_id LIKE '%e2e:bad%'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        await StartServerAsync();
        using var query = new HttpRequestMessage(HttpMethod.Get, $"{_url}/v1/models/e2e:bad/state");
        query.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
        var answer = await _http.SendAsync(query);
        var text = await answer.Content.ReadAsStringAsync();
        Assert.True((int)answer.StatusCode == 503, $"{(int)answer.StatusCode}: {text}");
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("urn:emstreaming:problem:model-unavailable", problem.GetProperty("type").GetString());
        Assert.Equal("e2e:bad", problem.GetProperty("modelId").GetString());
        Assert.Contains("corrupt", problem.GetProperty("detail").GetString());
        Assert.Contains("e2e:bad", problem.GetProperty("detail").GetString());

        // Appends are refused the same way (nothing accepted that the model cannot apply); the status says why; the other model goes on.
        var refused = await SendBatchAsync("e2e:bad", "bad-2", [[1, 2]]);
        Assert.Equal(503, (int)refused.StatusCode);
        var status = (await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/e2e:bad")).GetProperty("status");
        Assert.Contains("checksum", status.GetProperty("failure").GetString());
        Assert.True((await SendBatchAsync("e2e:good", "good-2", [[1, 2], [3, 4]])).IsSuccessStatusCode);
        await WaitForObservationsAsync("e2e:good", 202);

        // The operator's way back: restore the newest snapshot of the history.
        var snapshots = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/e2e:bad/snapshots");
        var newest = snapshots.EnumerateArray().Last();
        Assert.Equal(200, newest.GetProperty("observations").GetInt64());
        var restore = await _http.PostAsync($"{_url}/v1/models/e2e:bad/snapshots/{newest.GetProperty("version").GetInt64()}/restore", null);
        var restored = await restore.Content.ReadAsStringAsync();
        Assert.True(restore.IsSuccessStatusCode, restored);
        var restoredStatus = JsonDocument.Parse(restored).RootElement.GetProperty("status");
        Assert.Equal(JsonValueKind.Null, restoredStatus.TryGetProperty("failure", out var failure) ? failure.ValueKind : JsonValueKind.Null);
        Assert.Equal(200, restoredStatus.GetProperty("observations").GetInt64());
        Assert.True((await _http.GetAsync($"{_url}/v1/models/e2e:bad/state")).IsSuccessStatusCode);
    }

    private async Task PutModelAsync(string id, string definition)
    {
        var put = await _http.PutAsync($"{_url}/v1/models/{id}", new StringContent(definition, Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> SendBatchAsync(string id, string key, double[][] rows)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{_url}/v1/models/{id}/observations") { Content = JsonContent.Create(new { rows }) };
        request.Headers.Add("Idempotency-Key", key);
        return _http.SendAsync(request);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var stop = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stop.Elapsed < Deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Replay_RowsOfAnotherWidth_ExitsTwo_NothingApplied_NoModelMadeFromATemplate()
    {
        await StartServerAsync();
        await PutModelAsync("e2e:width", """{"kind":"gmm","dimension":2,"components":2}""");
        var csv = Path.Combine(_dataDirectory, "three.csv");
        await File.WriteAllTextAsync(csv, "a,b,c\n1,2,3\n4,5,6\n");

        // A model that exists: its dimension is compared before anything is sent.
        var known = await RunAsync("replay", csv, "--server", _url, "--model", "e2e:width");
        Assert.Equal(2, known.ExitCode);
        Assert.Contains($"{csv}: 3 column(s) are selected (a, b, c) but model 'e2e:width' has dimension 2", known.Error);
        var model = await _http.GetFromJsonAsync<JsonElement>($"{_url}/v1/models/e2e:width");
        Assert.Equal(0, model.GetProperty("status").GetProperty("observations").GetInt64());

        // An id the "sensor-" template (dimension 2) would make on its first append: the server rejects every row, the replay
        // fails naming the first, and no model is made.
        var templated = await RunAsync("replay", csv, "--server", _url, "--model", "sensor-e2e-width");
        Assert.Equal(2, templated.ExitCode);
        Assert.Contains($"{csv}: model 'sensor-e2e-width' accepted none of its 2 rows; row 1: ", templated.Error);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await _http.GetAsync($"{_url}/v1/models/sensor-e2e-width")).StatusCode);
    }

    [Fact]
    public async Task Models_ServerUnreachable_ExitCode3()
    {
        var result = await RunAsync("models", "--server", $"http://127.0.0.1:{TestPaths.FreePort()}");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("cannot reach the server", result.Error);
    }

    private async Task<JsonElement> WaitForObservationsAsync(string id, long expected)
    {
        // Accepted rows are durable at once and applied shortly after: wait (bounded) until all are applied.
        var stop = Stopwatch.StartNew();
        JsonElement model = default;
        while (stop.Elapsed < Deadline)
        {
            var response = await _http.GetAsync($"{_url}/v1/models/{id}");
            if (response.IsSuccessStatusCode)
            {
                model = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (model.GetProperty("status").GetProperty("observations").GetInt64() == expected)
                {
                    return model;
                }
            }

            await Task.Delay(200);
        }

        Assert.Fail($"the model did not reach {expected} applied observations: {model}");
        return model;
    }

    private async Task<Process> StartServerAsync()
    {
        var server = Start("serve", "--urls", _url, "--data-dir", _dataDirectory);
        var stop = Stopwatch.StartNew();
        while (stop.Elapsed < Deadline)
        {
            Assert.False(server.HasExited, $"emstream serve exited with {(server.HasExited ? server.ExitCode : 0)}: {(server.HasExited ? await server.StandardError.ReadToEndAsync() : "")}");
            try
            {
                if ((await _http.GetAsync($"{_url}/readyz")).IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        Assert.Fail("emstream serve did not become ready");
        return server;
    }

    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(TestPaths.Emstream);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in _orleansPorts)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(info)!;
        _processes.Add(process);
        if (args[0] == "serve")
        {
            // Drain the server's output so a full pipe never blocks it.
            process.OutputDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
        }

        return process;
    }

    private async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var process = Start(args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Deadline);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }
}
