using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Providers.History;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.Service;

/// <summary>
/// The append path takes the definition from the model's grain (one interleaved call), not from the registry: no registry
/// read per append, and the grain's definition follows every change of the registry made through the service.
/// </summary>
public sealed class AppendTargetTests
{
    [Fact]
    public async Task AppendAsync_ExistingModel_ReadsNoRegistryDefinition()
    {
        var gate = new GatedGrainStorage.Gate();
        await using var h = await StartAsync(gate);
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        var registry = Counting(h);
        registry.ResetCount();

        for (var i = 0; i < 20; i++)
        {
            await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, i));
        }

        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 99), idempotencyKey: "k1");
        await h.Service.AppendRowsAsync("m", [[1.0, 2.0], [3.0, 4.0]]);

        Assert.Equal(0, registry.Reads);
        Assert.Equal(212, (await h.WaitForObservationsAsync("m", 212)).Observations);
    }

    [Fact]
    public async Task AppendAsync_TemplateModel_FirstAppendCreatesItAndLaterAppendsReadNoRegistry()
    {
        var templates = new Dictionary<string, string?>
        {
            ["Models:Templates:0:Prefix"] = "sensor-",
            ["Models:Templates:0:Definition:Kind"] = "Gmm",
            ["Models:Templates:0:Definition:Dimension"] = "3",
            ["Models:Templates:0:Definition:Components"] = "2",
        };
        await using var h = await StartAsync(new GatedGrainStorage.Gate(), templates);

        var first = await h.Service.AppendAsync("sensor-1", ModelHarness.Rows(10, 3, 1));
        Assert.Equal(10, first.Accepted);
        Assert.Equal(3, (await h.Service.GetModelAsync("sensor-1")).Definition.Dimension);
        var registry = Counting(h);
        registry.ResetCount();

        var wrongWidth = await h.Service.AppendAsync("sensor-1", ModelHarness.Rows(4, 2, 2));
        await h.Service.AppendAsync("sensor-1", ModelHarness.Rows(5, 3, 3));

        Assert.Equal(0, wrongWidth.Accepted);
        Assert.Contains("dimension is 3", wrongWidth.Rejected[0].Reason);
        Assert.Equal(0, registry.Reads);
        Assert.Equal(15, (await h.WaitForObservationsAsync("sensor-1", 15)).Observations);
    }

    [Fact]
    public async Task AppendAsync_AfterDelete_ThrowsNotFoundUntilPutAgain()
    {
        await using var h = await StartAsync(new GatedGrainStorage.Gate());
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 1));
        await h.WaitForObservationsAsync("m", 10);

        Assert.True(await h.Service.DeleteModelAsync("m"));

        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 2)));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 2), idempotencyKey: "k"));
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        await h.Service.AppendAsync("m", ModelHarness.Rows(3, 2, 3));
        Assert.Equal(3, (await h.WaitForObservationsAsync("m", 3)).Observations);
    }

    [Fact]
    public async Task AppendAsync_AfterPutWithNewDimension_RowsOfTheOldWidthRejected()
    {
        await using var h = await StartAsync(new GatedGrainStorage.Gate());
        await h.Service.PutModelAsync("m", ModelHarness.Gmm(dimension: 2));
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 1));

        Assert.Equal(PutModelOutcome.Replaced, await h.Service.PutModelAsync("m", ModelHarness.Gmm(dimension: 3)));

        var old = await h.Service.AppendAsync("m", ModelHarness.Rows(4, 2, 2));
        Assert.Equal(0, old.Accepted);
        Assert.Equal([0, 1, 2, 3], old.Rejected.Select(r => r.Index));
        Assert.Contains("dimension is 3", old.Rejected[0].Reason);
        Assert.Equal(6, (await h.Service.AppendAsync("m", ModelHarness.Rows(6, 3, 3))).Accepted);
        var state = await h.WaitForObservationsAsync("m", 6);
        Assert.Equal(6, state.Observations); // the new generation starts empty: only the rows of the new width
    }

    [Fact]
    public async Task PutModelAsync_RetryOfAPutWhoseReloadWasLost_GrainTakesTheStoredDefinition()
    {
        await using var h = await StartAsync(new GatedGrainStorage.Gate());
        await h.Service.PutModelAsync("m", ModelHarness.Gmm(dimension: 2));
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 1));
        // The registry write of a PUT whose process died before it reloaded the grain.
        await h.Registry.PutAsync("m", ModelHarness.Gmm(dimension: 3), onlyIfAbsent: false, default);
        Assert.Equal(0, (await h.Service.AppendAsync("m", ModelHarness.Rows(2, 3, 2))).Accepted); // the grain still holds width 2

        Assert.Equal(PutModelOutcome.Unchanged, await h.Service.PutModelAsync("m", ModelHarness.Gmm(dimension: 3)));

        Assert.Equal(0, (await h.Service.AppendAsync("m", ModelHarness.Rows(2, 2, 3))).Accepted);
        Assert.Equal(5, (await h.Service.AppendAsync("m", ModelHarness.Rows(5, 3, 4))).Accepted);
        Assert.Equal(5, (await h.WaitForObservationsAsync("m", 5)).Observations);
    }

    [Fact]
    public async Task PutModelAsync_UnchangedOnCurrentGrain_WritesNothing()
    {
        var gate = new GatedGrainStorage.Gate();
        await using var h = await StartAsync(gate);
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        var history = h.Services.GetRequiredService<ISnapshotHistory>();
        var versions = (await history.ListAsync("m", default)).Count;
        gate.ResetCount();

        Assert.Equal(PutModelOutcome.Unchanged, await h.Service.PutModelAsync("m", ModelHarness.Gmm()));

        Assert.Equal(0, gate.Writes);
        Assert.Equal(versions, (await history.ListAsync("m", default)).Count);
    }

    [Fact]
    public async Task DeleteModelAsync_RetryOfADeleteWhoseReloadWasLost_AppendsRefused()
    {
        await using var h = await StartAsync(new GatedGrainStorage.Gate());
        await h.Service.PutModelAsync("m", ModelHarness.Gmm());
        await h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 1));
        // The registry write of a DELETE whose process died before it reloaded the grain.
        Assert.True(await h.Registry.DeleteAsync("m", default));

        Assert.False(await h.Service.DeleteModelAsync("m"));

        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync("m", ModelHarness.Rows(10, 2, 2)));
        Assert.Empty(await h.Services.GetRequiredService<ISnapshotHistory>().ListAsync("m", default));
    }

    [Fact]
    public async Task AppendAsync_UnknownIds_WriteNothingAndLeaveNoActivation()
    {
        var gate = new GatedGrainStorage.Gate();
        await using var h = await StartAsync(gate);
        var ids = Enumerable.Range(0, 5).Select(i => $"nobody-{i}").ToList();

        foreach (var id in ids)
        {
            await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync(id, ModelHarness.Rows(5, 2, 1)));
            await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.AppendAsync(id, ModelHarness.Rows(5, 2, 1), idempotencyKey: "k"));
            Assert.False(await h.Service.DeleteModelAsync(id));
        }

        Assert.Equal(0, gate.Writes);
        var history = h.Services.GetRequiredService<ISnapshotHistory>();
        foreach (var id in ids)
        {
            Assert.Null(await h.Registry.GetAsync(id, default));
            Assert.Empty(await history.ListAsync(id, default));
        }

        var management = h.Grains.GetGrain<IManagementGrain>(0);
        await Wait.UntilAsync(
            async () => !(await management.GetDetailedGrainStatistics()).Any(s => ids.Contains(s.GrainId.Key.ToString()!)),
            "the activations for unknown ids to deactivate");
    }

    private static Task<ModelHarness> StartAsync(GatedGrainStorage.Gate gate, IReadOnlyDictionary<string, string?>? settings = null) =>
        ModelHarness.StartAsync(settings: settings, services: s =>
        {
            CountingModelRegistry.Decorate(s);
            GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate);
        });

    private static CountingModelRegistry Counting(ModelHarness h) => h.Services.GetRequiredService<CountingModelRegistry>();
}
