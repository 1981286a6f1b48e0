using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace EmStreaming.Cluster.Tests.Chaos;

/// <summary>
/// Three real <c>emstream serve</c> processes on one Azurite account (Blob state, Azure Queue streams), with membership in
/// Azure Tables of that account or in a real redis-server, both with shortened probes. Batches go round-robin to the silos
/// with idempotency keys; one silo is killed with SIGKILL mid-stream and started again later. A request that fails is
/// retried with the same key on the next silo, as a client would, so every batch is acknowledged once in the end.
/// </summary>
public sealed class SiloKillTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    /// <summary>Where the silos keep the membership table (<c>Orleans:Clustering</c>).</summary>
    public enum Membership
    {
        /// <summary><c>AzureStorage</c>: Azure Tables of the Azurite account.</summary>
        AzureTable,

        /// <summary><c>Redis</c>: a redis-server of this test (tests/setup.sh installs it; missing is a failure, never a skip).</summary>
        Redis,
    }

    private const int Models = 24;
    private const int Batches = 720;
    private const int RowsPerBatch = 20;
    private const int Producers = 6;
    private static readonly TimeSpan FailoverBar = TimeSpan.FromSeconds(15);

    private readonly string _clusterId = "chaos" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _data = LocalServerProcess.NewWorkspace("emstream-chaos");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly SiloProcess?[] _silos = new SiloProcess?[3];
    private RedisServer? _redis;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }

        // Redis goes after the silos: a silo that loses its membership table before it is stopped only adds noise.
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        _http.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory]
    [InlineData(Membership.AzureTable)]
    [InlineData(Membership.Redis)]
    public async Task ThreeSilos_OneKilledMidStreamAndRestarted_AppliedEqualsAcknowledgedAndModelsAnswerWithin15s(Membership membership)
    {
        if (membership == Membership.Redis)
        {
            _redis = await RedisServer.StartAsync();
        }

        var settings = SiloProcess.ClusterSettings(azurite.ConnectionString, _clusterId, fastFailover: true, _redis?.ConnectionString);
        var startup = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async i => _silos[i] = await StartSiloAsync(settings, i)));
        output.WriteLine($"{membership} membership: three silos ready after {startup.Elapsed.TotalSeconds:0.0} s");
        var ids = Enumerable.Range(0, Models).Select(m => $"chaos:m{m:D2}").ToArray();
        for (var m = 0; m < Models; m++)
        {
            var put = await _http.PutAsync($"{_silos[m % 3]!.Url}/v1/models/{ids[m]}", Json("""{"kind":"gmm","dimension":2,"components":2}"""));
            Assert.True(put.IsSuccessStatusCode, $"PUT {ids[m]}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        var acknowledged = new long[Models];
        var next = -1;
        var retries = 0;
        var ackedAtKill = -1L;
        var killAt = Batches / 3;
        var restartAt = 2 * Batches / 3;
        var killed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var restarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<TimeSpan>? failover = null;
        var clock = Stopwatch.StartNew();

        async Task ProduceAsync()
        {
            for (var b = Interlocked.Increment(ref next); b < Batches; b = Interlocked.Increment(ref next))
            {
                if (b == killAt)
                {
                    ackedAtKill = acknowledged.Sum();
                    await _silos[1]!.KillAsync();
                    var at = clock.ElapsedTicks;
                    output.WriteLine($"silo 1 killed at batch {b} after {clock.Elapsed.TotalSeconds:0.0} s ({ackedAtKill} rows acknowledged)");
                    failover = EveryModelAnswersAsync(ids);
                    killed.SetResult(at);
                }
                else if (b == restartAt)
                {
                    // The restart happens once every model answered again (the failover probe above finished).
                    await (failover ?? Task.FromResult(TimeSpan.Zero));
                    _silos[1] = await StartSiloAsync(settings, 3);
                    output.WriteLine($"silo 1 restarted at batch {b} after {clock.Elapsed.TotalSeconds:0.0} s");
                    restarted.SetResult();
                }

                var model = b % Models;
                var body = Rows(b);
                for (var attempt = 0; ; attempt++)
                {
                    var silo = _silos[(b + attempt) % 3]!;
                    if (silo.HasExited)
                    {
                        continue;
                    }

                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, $"{silo.Url}/v1/models/{ids[model]}/observations") { Content = Json(body) };
                        request.Headers.Add("Idempotency-Key", $"batch-{b}");
                        using var response = await _http.SendAsync(request);
                        if (response.IsSuccessStatusCode)
                        {
                            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                            var accepted = answer.RootElement.GetProperty("accepted").GetInt32();
                            Assert.Equal(RowsPerBatch, accepted);
                            Interlocked.Add(ref acknowledged[model], accepted);
                            break;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // The silo died or is being declared dead: the same key goes to the next silo.
                    }

                    Interlocked.Increment(ref retries);
                    Assert.True(attempt < 60, $"batch {b} was not acknowledged after {attempt} attempts");
                    await Task.Delay(250);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Producers).Select(_ => Task.Run(ProduceAsync)));
        var longest = await failover!;
        await restarted.Task;
        output.WriteLine($"{membership} membership: {Batches} batches acknowledged after {clock.Elapsed.TotalSeconds:0.0} s with {retries} retried requests; every model answered {longest.TotalSeconds:0.0} s after the kill");

        // Not vacuous: the kill came mid-stream, with rows acknowledged before and after it.
        Assert.InRange(ackedAtKill, 1, (long)Batches * RowsPerBatch - 1);
        Assert.True(longest <= FailoverBar, $"a model answered only {longest.TotalSeconds:0.0} s after the kill (bar {FailoverBar.TotalSeconds} s)");

        // Every model converges to exactly what was acknowledged (redeliveries skipped, nothing lost) and stays there.
        // What the killed silo had read but not delivered reappears after the 30 s visibility timeout.
        var applied = await WaitForAppliedAsync(ids, acknowledged, TimeSpan.FromSeconds(150));
        output.WriteLine($"applied caught up with acknowledged {clock.Elapsed.TotalSeconds:0.0} s after the first batch");
        Assert.Equal(acknowledged, applied);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(acknowledged, await ReadAppliedAsync(ids));
    }

    private Task<SiloProcess> StartSiloAsync(IReadOnlyDictionary<string, string> settings, int index) =>
        SiloProcess.StartAsync(SiloProcess.Emstream(Configuration), settings, Path.Combine(_data, $"silo-{index}"), TimeSpan.FromSeconds(120));

    /// <summary>From the kill on, asks the surviving silos for every model until each has answered once; the time of the last first answer.</summary>
    private async Task<TimeSpan> EveryModelAnswersAsync(string[] ids)
    {
        var clock = Stopwatch.StartNew();
        var pending = new ConcurrentDictionary<string, bool>(ids.Select(id => KeyValuePair.Create(id, true)));
        var survivors = new[] { _silos[0]!, _silos[2]! };
        var round = 0;
        while (!pending.IsEmpty)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"models still not answering 60 s after the kill: {string.Join(", ", pending.Keys)}");
            var silo = survivors[round++ % 2];
            await Task.WhenAll(pending.Keys.Select(async id =>
            {
                try
                {
                    using var response = await _http.GetAsync($"{silo.Url}/v1/models/{id}");
                    if (response.IsSuccessStatusCode && GrainAnswered(await response.Content.ReadAsStringAsync()))
                    {
                        pending.TryRemove(id, out _);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }
            }));
            if (!pending.IsEmpty)
            {
                await Task.Delay(100);
            }
        }

        return clock.Elapsed;
    }

    private async Task<long[]> WaitForAppliedAsync(string[] ids, long[] acknowledged, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var applied = await ReadAppliedAsync(ids);
            if (applied.SequenceEqual(acknowledged) || deadline.Elapsed > timeout || applied.Zip(acknowledged).Any(p => p.First > p.Second))
            {
                return applied;
            }

            await Task.Delay(500);
        }
    }

    private async Task<long[]> ReadAppliedAsync(string[] ids)
    {
        var applied = new long[ids.Length];
        for (var m = 0; m < ids.Length; m++)
        {
            var silo = _silos[m % 3]!;
            var body = await _http.GetStringAsync($"{silo.Url}/v1/models/{ids[m]}");
            using var status = JsonDocument.Parse(body);
            applied[m] = GrainAnswered(body) ? status.RootElement.GetProperty("status").GetProperty("observations").GetInt64() : -1;
        }

        return applied;
    }

    /// <summary>
    /// The model's own grain answered: the service reports a model whose grain call failed (its silo is dead and not yet
    /// declared so) with a <c>failure</c> in its status, still with 200, so the status code alone proves nothing.
    /// </summary>
    private static bool GrainAnswered(string modelJson)
    {
        using var model = JsonDocument.Parse(modelJson);
        return !model.RootElement.GetProperty("status").TryGetProperty("failure", out var failure) || failure.ValueKind == JsonValueKind.Null;
    }

    private static string Rows(int batch)
    {
        var random = new Random(batch);
        var rows = new StringBuilder("{\"rows\":[");
        for (var r = 0; r < RowsPerBatch; r++)
        {
            rows.Append(r == 0 ? "" : ",").Append('[')
                .Append((random.NextDouble() * 10).ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(',')
                .Append((random.NextDouble() * 10).ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(']');
        }

        return rows.Append("]}").ToString();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string Configuration =>
        typeof(SiloKillTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
}
