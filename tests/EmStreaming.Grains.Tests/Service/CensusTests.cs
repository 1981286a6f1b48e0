using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Service;

/// <summary>
/// <see cref="IModelService.CensusAsync"/> feeds the model gauges: every id the registry holds, and the status of the models
/// whose grains are active, without activating any.
/// </summary>
public sealed class CensusTests
{
    [Fact]
    public async Task Census_OneOfThreeModelsActive_KnowsAllThree_ReportsTheActiveOne_ActivatesNone()
    {
        await using var h = await ModelHarness.StartAsync();
        foreach (var id in new[] { "c:1", "c:2", "c:3" })
        {
            await h.Service.PutModelAsync(id, ModelHarness.Gmm(snapshotEvery: null));
        }

        await h.Service.AppendAsync("c:2", ModelHarness.Rows(600, 2, 3));
        await h.WaitForObservationsAsync("c:2", 600);
        await Task.Delay(50);
        await h.CollectIdleAsync(TimeSpan.FromMilliseconds(10));
        await h.Service.GetStateAsync("c:2"); // activates c:2 alone again

        for (var i = 0; i < 3; i++)
        {
            var census = await h.Service.CensusAsync();
            Assert.Equal(["c:1", "c:2", "c:3"], census.Known);
            var active = Assert.Single(census.Active);
            Assert.Equal("c:2", active.Id);
            Assert.Equal(600, active.Status.Observations);
            Assert.True(active.Status.Active);
            Assert.Equal(0, active.Status.PendingObservations);
        }

        await h.Service.DeleteModelAsync("c:3");
        Assert.Equal(["c:1", "c:2"], (await h.Service.CensusAsync()).Known);
    }

    [Fact]
    public async Task Census_RowsAcceptedNotYetDelivered_CountedPending_ThenZeroOnceApplied()
    {
        await using var h = await ModelHarness.StartAsync(services: ModelHarness.StreamAgentsStopped);
        await h.Service.PutModelAsync("p:1", ModelHarness.Gmm(snapshotEvery: null));
        await h.Service.AppendAsync("p:1", ModelHarness.Rows(120, 2, 3));
        await h.Service.AppendAsync("p:1", ModelHarness.Rows(30, 2, 4));

        Assert.Equal(150, Assert.Single((await h.Service.CensusAsync()).Active).Status.PendingObservations);

        await h.StartStreamAgentsAsync();
        await h.WaitForObservationsAsync("p:1", 150);
        var status = Assert.Single((await h.Service.CensusAsync()).Active).Status;
        Assert.Equal(0, status.PendingObservations);
        Assert.Equal(150, status.Observations);
    }
}
