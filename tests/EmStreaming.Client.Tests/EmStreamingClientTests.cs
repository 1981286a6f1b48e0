using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmStreaming.Client.Tests;

public sealed class EmStreamingClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private readonly IEmStreamingClient _client = server.CreateEmStreamingClient();

    private static ModelDefinition Gmm(int dimension = 2, int components = 2) =>
        new() { Kind = "gmm", Dimension = dimension, Components = components, Seed = 7 };

    private static List<double[]> Clusters(int n, int seed = 1)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(i =>
        {
            var centre = (i / 50) % 2 == 0 ? 0.0 : 8.0;
            return new[] { centre + random.NextDouble() - 0.5, centre + random.NextDouble() - 0.5 };
        })];
    }

    /// <summary>Waits until every accepted row is applied and the model has parameters (the grains apply rows asynchronously).</summary>
    private static double NextGaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private async Task<ModelInfo> ReadyAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var model = await _client.GetModelAsync(id, timeout.Token);
            if (model.Status is { WarmingUp: false, PendingObservations: 0 })
            {
                return model;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    [Fact]
    public async Task EveryEndpoint_TypedRoundTrip()
    {
        var created = await _client.PutModelAsync("cli:life", Gmm());
        Assert.True(created.Created);
        Assert.Equal(2, created.Model.Definition.Dimension);
        Assert.False((await _client.PutModelAsync("cli:life", Gmm() with { AnomalyThreshold = 50 })).Created);
        var tuned = await _client.PutModelAsync("cli:life", Gmm() with { AnomalyThreshold = 50, AnomalyTailProbability = 1e-4 });
        Assert.Equal(1e-4, tuned.Model.Definition.AnomalyTailProbability);
        var hmm = await _client.PutModelAsync("cli:regimes", new ModelDefinition { Kind = "hmm", Dimension = 1, States = 2, RegimeConfidence = 0.9 });
        Assert.Equal(0.9, hmm.Model.Definition.RegimeConfidence);
        Assert.Equal(0.9, (await _client.GetModelAsync("cli:regimes")).Definition.RegimeConfidence);
        var refused = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.PutModelAsync("cli:life", Gmm() with { RegimeConfidence = 0.9 }));
        Assert.Equal("regimeConfidence", refused.Field);
        var random = new Random(3);
        var series = Enumerable.Range(0, 1_200).Select(t => new[] { ((t / 100) % 2 * 8.0) + NextGaussian(random) }).ToList();
        Assert.Equal(1_200, (await _client.AppendAsync("cli:regimes", series)).Accepted);
        await ReadyAsync("cli:regimes");
        var filtered = await _client.FilterAsync("cli:regimes", [[0.1], [0.3], [8.2], [7.9]]);
        Assert.Equal(4, filtered.Regimes.Length);
        Assert.Equal(4, filtered.LogDensity!.Length);
        Assert.Equal(filtered.MeanLogLikelihood, filtered.LogDensity.Average(), 1e-9);

        var rows = Clusters(600);
        rows[3] = [double.NaN, 0.1];
        var append = await _client.AppendAsync("cli:life", rows);
        Assert.Equal(600, append.Accepted);
        Assert.Empty(append.Rejected);
        var model = await ReadyAsync("cli:life");
        Assert.Equal(600, model.Status.Observations);

        var state = await _client.GetStateAsync("cli:life");
        Assert.Equal("gmm", state.Kind);
        Assert.Equal(2, state.Means!.Length);
        Assert.Equal(2, state.Covariances![0].Length);

        var recent = await _client.GetRecentAsync("cli:life", 10);
        Assert.Equal(10, recent.Rows.Length);
        Assert.Equal(10, recent.Labels!.Length);

        var prediction = await _client.PredictAsync("cli:life", [[0, 0], [8, 8], [4, 4], [4, double.NaN]]);
        Assert.NotEqual(prediction.Labels[0], prediction.Labels[1]);
        Assert.All(prediction.Probabilities, p => Assert.Equal(1.0, p.Sum(), 6));
        // The clusters are 1 wide: (4, 4) is far from both, and so is 4 alone in the first column.
        var tail = prediction.TailProbability!;
        Assert.True(tail[0] > 0.01 && tail[1] > 0.01, $"cluster centres: {tail[0]}, {tail[1]}");
        Assert.True(tail[2] < 1e-9 && tail[3] < 1e-4, $"between the clusters: {tail[2]}, {tail[3]}");

        var imputed = await _client.ImputeAsync("cli:life", [[8, double.NaN]]);
        Assert.InRange(imputed[0][1], 6.0, 10.0);

        var refit = await _client.RefitAsync("cli:life");
        Assert.Equal("scheduled", refit.Status);

        var page = await _client.ListModelsAsync(prefix: "cli:", limit: 1);
        Assert.Single(page.Models);
        var all = new List<ModelInfo>();
        await foreach (var m in _client.ListAllModelsAsync("cli:life"))
        {
            all.Add(m);
        }

        Assert.Equal(["cli:life"], all.Select(m => m.Id));
        _ = await _client.ListSnapshotsAsync("cli:life");

        await _client.DeleteModelAsync("cli:life");
        await Assert.ThrowsAsync<ModelNotFoundException>(() => _client.GetModelAsync("cli:life"));
    }

    [Fact]
    public async Task AppendFlatBlock_SendsRowsOfTheGivenWidth()
    {
        await _client.PutModelAsync("cli:flat", Gmm());
        var result = await _client.AppendAsync("cli:flat", new double[] { 1, 2, 3, double.NaN, 5, 6 }, columns: 2, idempotencyKey: "flat-1");
        Assert.Equal(3, result.Accepted);
        var again = await _client.AppendAsync("cli:flat", new double[] { 1, 2, 3, double.NaN, 5, 6 }, columns: 2, idempotencyKey: "flat-1");
        Assert.True(again.Replayed);
        Assert.Throws<ArgumentException>(() => { _ = _client.AppendAsync("cli:flat", new double[] { 1, 2, 3 }, columns: 2); });
    }

    [Fact]
    public async Task Problems_BecomeTypedExceptions()
    {
        var invalid = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.GetModelAsync("bad id"));
        Assert.Equal("id", invalid.Field);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        var limit = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.ListModelsAsync(limit: 0));
        Assert.Equal("limit", limit.Field);

        await _client.PutModelAsync("cli:rows", Gmm());
        var row = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.PredictAsync("cli:rows", [[1, 2], [1, 2, 3]]));
        Assert.Equal("rows[1]", row.Field);

        var missing = await Assert.ThrowsAsync<ModelNotFoundException>(() => _client.GetStateAsync("cli:nobody"));
        Assert.Equal("id", missing.Problem!.Field);

        var warming = await Assert.ThrowsAsync<ModelConflictException>(() => _client.PredictAsync("cli:rows", [[1, 2]]));
        Assert.True(warming.IsWarmingUp);

        var definition = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.PutModelAsync("cli:bad", new ModelDefinition { Kind = "gmm", Components = 2 }));
        Assert.Equal("dimension", definition.Field);
    }

    [Fact]
    public async Task Events_AreAnAsyncStreamOfTypedEvents()
    {
        await _client.PutModelAsync("cli:events", Gmm());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var events = _client.EventsAsync("cli:events", timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = events.MoveNextAsync().AsTask();

        // The subscription opens with the first MoveNextAsync; rows that finish the warm-up then raise "ready".
        await Task.Delay(200, timeout.Token);
        await _client.AppendAsync("cli:events", Clusters(600), cancellationToken: timeout.Token);
        Assert.True(await first);
        var seen = new List<ModelEvent> { events.Current };
        while (seen[^1].Type != "ready" && await events.MoveNextAsync())
        {
            seen.Add(events.Current);
        }

        var ready = seen[^1];
        Assert.Equal("ready", ready.Type);
        Assert.Equal("cli:events", ready.ModelId);
        Assert.NotNull(ready.Time);
        Assert.NotNull(ready.EventId);
    }

    [Fact]
    public async Task RestoreSnapshot_RollsTheModelBackToThatVersion()
    {
        await _client.PutModelAsync("cli:restore", Gmm() with { Snapshots = new SnapshotPolicy { EveryObservations = 200, EverySeconds = 0 } });
        var rows = Clusters(600);
        for (var b = 0; b < 3; b++)
        {
            await _client.AppendAsync("cli:restore", rows.GetRange(200 * b, 200));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while ((await _client.GetModelAsync("cli:restore", timeout.Token)).Status.Observations < 200 * (b + 1))
            {
                await Task.Delay(20, timeout.Token);
            }
        }

        var at200 = (await _client.ListSnapshotsAsync("cli:restore")).First(s => s.Observations == 200);
        var restored = await _client.RestoreSnapshotAsync("cli:restore", at200.Version);
        Assert.Equal(200, restored.Status.Observations);
        Assert.Equal(200, (await _client.GetModelAsync("cli:restore")).Status.Observations);

        var missing = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => _client.RestoreSnapshotAsync("cli:restore", 10_000));
        Assert.Equal("version", missing.Field);
        Assert.Contains("10000", missing.Message);
        var missingGet = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => _client.GetSnapshotAsync("cli:restore", 10_000));
        Assert.Equal("version", missingGet.Field);
        var tooEarly = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => _client.GetSnapshotAtAsync("cli:restore", new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal("time", tooEarly.Field);
        await Assert.ThrowsAsync<ModelNotFoundException>(() => _client.RestoreSnapshotAsync("cli:no-such-model", 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.RestoreSnapshotAsync("cli:restore", 0));
    }

    [Fact]
    public async Task Events_UnknownModel_ThrowsNotFoundBeforeAnyEvent()
    {
        await using var events = _client.EventsAsync("cli:no-events").GetAsyncEnumerator();
        await Assert.ThrowsAsync<ModelNotFoundException>(async () => await events.MoveNextAsync());
    }

    [Fact]
    public void AddEmStreamingClient_BadSetting_FailsNamingIt()
    {
        var services = new ServiceCollection();
        services.AddEmStreamingClient(o =>
        {
            o.BaseAddress = new Uri("ftp://example.org");
            o.MaxRetries = -1;
        });
        var e = Assert.Throws<OptionsValidationException>(() => services.BuildServiceProvider().GetRequiredService<IEmStreamingClient>());
        Assert.Contains("BaseAddress", e.Message);
        Assert.Contains("MaxRetries", e.Message);
    }

    [Fact]
    public async Task Unreachable_IsAnEmStreamingExceptionWithoutStatus()
    {
        var client = EmStreamingClientFactory.Create(new EmStreamingClientOptions { BaseAddress = new Uri("http://127.0.0.1:1"), MaxRetries = 1, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var e = await Assert.ThrowsAsync<EmStreamingException>(() => client.GetModelAsync("x"));
        Assert.Null(e.StatusCode);
        Assert.Contains("cannot reach", e.Message);
        Assert.False(await client.IsReadyAsync());
    }
}

/// <summary>Against a rate-limited server: 429s are retried after Retry-After with the same Idempotency-Key.</summary>
public sealed class RetryTests : IDisposable
{
    private readonly ServerFixture _server = new(new()
    {
        ["RateLimiting:Enabled"] = "true",
        ["RateLimiting:PermitsPerSecond"] = "1",
        ["RateLimiting:Burst"] = "2",
    });

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task RateLimited_RetriedWithTheSameIdempotencyKeyUntilAccepted()
    {
        var client = _server.CreateEmStreamingClient(o => o.MaxRetries = 10);
        await client.PutModelAsync("retry:a", new ModelDefinition { Kind = "gmm", Dimension = 1, Components = 1 });
        var results = new List<AppendResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await client.AppendAsync("retry:a", [[i]]));
        }

        Assert.All(results, r => Assert.Equal(1, r.Accepted));
        List<(string Method, string Path, string? Key, int Status)> appends;
        lock (_server.Attempts)
        {
            appends = [.. _server.Attempts.Where(a => a.Path.EndsWith("/observations", StringComparison.Ordinal))];
        }

        // Some attempts were refused (the burst is 2, one token a second) and every batch went through once.
        Assert.Contains(appends, a => a.Status == 429);
        Assert.Equal(4, appends.Count(a => a.Status == 200));
        foreach (var batch in appends.GroupBy(a => a.Key))
        {
            Assert.NotNull(batch.Key);
            Assert.Equal(1, batch.Count(a => a.Status == 200));
        }

        Assert.Equal(4, appends.Select(a => a.Key).Distinct().Count());
    }

    [Fact]
    public async Task RateLimited_NoRetriesLeft_ThrowsServerBusyWithRetryAfter()
    {
        var client = _server.CreateEmStreamingClient(o => o.MaxRetries = 0);
        ServerBusyException? busy = null;
        for (var i = 0; i < 10 && busy is null; i++)
        {
            try
            {
                await client.ListModelsAsync();
            }
            catch (ServerBusyException e)
            {
                busy = e;
            }
        }

        Assert.NotNull(busy);
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.NotNull(busy.RetryAfter);
    }
}

/// <summary>
/// The retry policy tells a busy server from an unavailable model: both answer 503, only the first is worth waiting for.
/// The answers come from a recording primary handler (the server's own 503 bodies, as ProblemMapping writes them).
/// </summary>
public sealed class UnavailableModelTests
{
    private static IEmStreamingClient Client(CannedHandler handler)
    {
        var services = new ServiceCollection();
        services.AddEmStreamingClient(o =>
            {
                o.BaseAddress = new Uri("http://localhost/");
                o.MaxRetries = 3;
                o.RetryDelay = TimeSpan.FromMilliseconds(1);
            })
            .ConfigurePrimaryHttpMessageHandler(() => handler);
        return services.BuildServiceProvider().GetRequiredService<IEmStreamingClient>();
    }

    [Fact]
    public async Task ModelUnavailable503_NotRetried_TypedExceptionNamesTheModel()
    {
        var handler = new CannedHandler("""{"type":"urn:emstreaming:problem:model-unavailable","title":"Model unavailable","status":503,"detail":"model 'm' is failed: its stored state is corrupt","modelId":"m"}""");
        var e = await Assert.ThrowsAsync<ModelUnavailableException>(() => Client(handler).GetModelAsync("m"));
        Assert.Equal(1, handler.Calls);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.StatusCode);
        Assert.Contains("corrupt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Busy503_RetriedUntilTheRetriesRunOut()
    {
        var handler = new CannedHandler("""{"type":"urn:emstreaming:problem:backpressure","title":"Server busy","status":503,"detail":"queue full"}""");
        await Assert.ThrowsAsync<ServerBusyException>(() => Client(handler).GetModelAsync("m"));
        Assert.Equal(4, handler.Calls);
    }

    private sealed class CannedHandler(string problem) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => _calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
            {
                Content = new StringContent(problem, System.Text.Encoding.UTF8, "application/problem+json"),
            });
        }
    }
}
