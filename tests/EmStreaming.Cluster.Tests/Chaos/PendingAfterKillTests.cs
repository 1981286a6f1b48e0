using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace EmStreaming.Cluster.Tests.Chaos;

/// <summary>
/// Azure Queue streams cannot be read back, so after a crash the service cannot count the rows a dead process accepted.
/// What it promises instead: pending is never 0 while an acknowledged row is unapplied. The hard case is a message the dead
/// silo had taken from the queue: it is invisible for the visibility timeout (30 s here), so it comes back after anything
/// appended right after the restart, including a catch-up marker appended at once (which made pending 0 too early).
/// </summary>
public sealed class PendingAfterKillTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private const int Batches = 160;
    private const int RowsPerBatch = 20;
    private const string Id = "pend:m";

    private readonly string _clusterId = "pend" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _data = LocalServerProcess.NewWorkspace("emstream-pending");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<SiloProcess> _silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
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

    [Fact]
    public async Task SiloKilledWithRowsAcceptedAndTaken_Restarted_PendingNeverZeroBeforeEveryAcknowledgedRowIsApplied()
    {
        var settings = SiloProcess.ClusterSettings(azurite.ConnectionString, _clusterId, fastFailover: true);
        // Longer than a restart takes here (about 90 s on Azurite), so what the dead silo had taken is still invisible when the
        // restarted model first answers (its default, 2 minutes; the fast-failover settings shorten it to 30 s).
        settings["Streams:AzureQueue:VisibilityTimeout"] = "00:02:00";
        var first = await StartSiloAsync(settings);
        var put = await _http.PutAsync(
            $"{first.Url}/v1/models/{Id}", Json("""{"kind":"gmm","dimension":2,"components":2,"snapshots":{"everyObservations":0,"everySeconds":0}}"""));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

        // Eight producers append; at half the batches the silo is killed under them, while its pulling agent holds messages it
        // has taken from the queue and not yet delivered. A request in flight at the kill may have been made durable or not:
        // the rows acknowledged are a floor of what must be applied, those plus the unanswered ones a ceiling.
        var next = -1;
        long acknowledged = 0, unanswered = 0;
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long appliedAtKill = -1;
        async Task ProduceAsync()
        {
            for (var b = Interlocked.Increment(ref next); b < Batches && !killed.Task.IsCompleted; b = Interlocked.Increment(ref next))
            {
                if (b == Batches / 2)
                {
                    appliedAtKill = (await StatusAsync(first))?.GetProperty("observations").GetInt64() ?? -1;
                    killed.SetResult(); // first: a request failing from here on is one the kill cut off
                    await first.KillAsync();
                    return;
                }

                try
                {
                    using var response = await _http.PostAsync($"{first.Url}/v1/models/{Id}/observations", Json(Rows(b)));
                    Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
                    Interlocked.Add(ref acknowledged, RowsPerBatch);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && killed.Task.IsCompleted)
                {
                    Interlocked.Add(ref unanswered, RowsPerBatch);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(ProduceAsync)));
        output.WriteLine($"killed with {appliedAtKill} of {acknowledged} acknowledged rows applied ({unanswered} unanswered)");
        // Not vacuous: the silo died with acknowledged rows unapplied (Azurite applies a few hundred rows a second here).
        Assert.InRange(appliedAtKill, 0, acknowledged - 1);

        var killedAt = Stopwatch.StartNew();
        var second = await StartSiloAsync(settings);
        output.WriteLine($"second silo ready {killedAt.Elapsed.TotalSeconds:0.0} s after the kill");
        var clock = Stopwatch.StartNew();
        var samples = 0;
        while (true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"pending never reached 0 ({samples} samples)");
            if (await StatusAsync(second) is not { } status)
            {
                await Task.Delay(100); // the dead silo is not declared dead yet: the model's grain does not answer
                continue;
            }

            samples++;
            var applied = status.GetProperty("observations").GetInt64();
            var pending = status.GetProperty("pendingObservations").GetInt64();
            if (samples == 1)
            {
                output.WriteLine($"first answer {killedAt.Elapsed.TotalSeconds:0.0} s after the kill: {applied} applied, {pending} pending");
            }

            if (pending == 0)
            {
                output.WriteLine($"pending 0 {killedAt.Elapsed.TotalSeconds:0.0} s after the kill with {applied} applied");
                Assert.InRange(applied, acknowledged, acknowledged + unanswered);
                break;
            }

            Assert.True(applied <= acknowledged + unanswered, $"{applied} applied: more than the {acknowledged + unanswered} sent");
            await Task.Delay(100);
        }
    }

    private async Task<SiloProcess> StartSiloAsync(IReadOnlyDictionary<string, string> settings)
    {
        var configuration = typeof(PendingAfterKillTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var silo = await SiloProcess.StartAsync(SiloProcess.Emstream(configuration), settings, Path.Combine(_data, $"silo-{_silos.Count}"), TimeSpan.FromSeconds(120));
        _silos.Add(silo);
        return silo;
    }

    /// <summary>The model's status, or null when its grain did not answer (a failure in the status, or no answer at all).</summary>
    private async Task<JsonElement?> StatusAsync(SiloProcess silo)
    {
        try
        {
            using var model = JsonDocument.Parse(await _http.GetStringAsync($"{silo.Url}/v1/models/{Id}"));
            var status = model.RootElement.GetProperty("status").Clone();
            return status.TryGetProperty("failure", out var failure) && failure.ValueKind != JsonValueKind.Null ? null : status;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static string Rows(int batch)
    {
        var random = new Random(batch);
        return JsonSerializer.Serialize(new { rows = Enumerable.Range(0, RowsPerBatch).Select(_ => new[] { random.NextDouble() * 10, random.NextDouble() * 10 }) });
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
