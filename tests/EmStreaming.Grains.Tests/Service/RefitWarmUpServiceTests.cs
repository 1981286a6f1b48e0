using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Service;

/// <summary>
/// The user's report end to end through the grains: a 3-component model of 4 columns fed 150 rows never left its warm-up
/// (automatic 500 rows) and its refit request was "scheduled" and then nothing happened. Now the request fits the model on
/// what it has, a request without enough rows is refused up front, and warmUp is stored and echoed.
/// </summary>
public sealed class RefitWarmUpServiceTests
{
    private static ModelDefinition Iris(int? warmUp = null) => new()
    {
        Kind = ModelKind.Gmm, Dimension = 4, Components = 3, Seed = 5, WarmUp = warmUp,
        Refit = new RefitPolicy { Window = 1_000, EveryObservations = null, Restarts = 1 },
    };

    private static DataMatrix Rows(int n, int seed) => ModelHarness.Rows(n, 4, seed);

    private static async Task<ModelStatus> WaitForStatusAsync(ModelHarness h, string id, Func<ModelStatus, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var status = (await h.Service.GetModelAsync(id)).Status;
            if (done(status))
            {
                return status;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"model {id}: {status}");
            }

            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task RefitAsync_WarmingUpWith150Rows_EndsTheWarmUpWithAReadyEvent()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("iris", Iris());
        await h.Service.AppendAsync("iris", Rows(150, 1));
        await h.WaitForObservationsAsync("iris", 150);
        Assert.True((await h.Service.GetModelAsync("iris")).Status.WarmingUp);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = h.Service.SubscribeAsync("iris", cts.Token).GetAsyncEnumerator(cts.Token);
        var next = events.MoveNextAsync(); // subscribed before the request
        await h.Service.RefitAsync("iris");

        Assert.True(await next);
        Assert.Equal(ModelEventType.Ready, events.Current.Type);
        var status = await WaitForStatusAsync(h, "iris", s => !s.WarmingUp);
        Assert.Equal(150, status.Observations);
        Assert.Equal(0, status.EarlyFitRemaining);
        Assert.NotNull((await h.Service.GetStateAsync("iris")).Means);
        await events.DisposeAsync();
    }

    [Fact]
    public async Task RefitAsync_WarmingUpWithTooFewRows_ThrowsWarmingUpWithTheRowsStillNeeded()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("iris", Iris());
        await h.Service.AppendAsync("iris", Rows(10, 1));
        await h.WaitForObservationsAsync("iris", 10);

        var e = await Assert.ThrowsAsync<ModelWarmingUpException>(() => h.Service.RefitAsync("iris"));

        Assert.Equal(5, e.Remaining);
        Assert.Contains("once there are 15", e.Message);
        Assert.Contains("5 more rows are needed", e.Message);
        Assert.Equal(5, (await h.Service.GetModelAsync("iris")).Status.EarlyFitRemaining);
    }

    [Fact]
    public async Task PutModelAsync_WarmUp_StoredEchoedAndApplied()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("iris", Iris(warmUp: 100));

        var info = await h.Service.GetModelAsync("iris");
        Assert.Equal(100, info.Definition.WarmUp);
        Assert.Equal(100, info.Status.WarmUpRemaining);

        await h.Service.AppendAsync("iris", Rows(100, 2));
        await WaitForStatusAsync(h, "iris", s => !s.WarmingUp);

        var bad = await Assert.ThrowsAsync<ModelValidationException>(() => h.Service.PutModelAsync("iris", Iris(warmUp: 14)));
        Assert.Equal("warmUp", bad.Field);
        Assert.Equal(100, (await h.Service.GetModelAsync("iris")).Definition.WarmUp); // a refused PUT changes nothing
    }
}
