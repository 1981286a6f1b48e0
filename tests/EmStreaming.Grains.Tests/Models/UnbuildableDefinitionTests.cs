using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>
/// A definition in the registry that cannot be built (here alpha 0.3, which the estimator refuses: one stored before the
/// validator checked a field, or written to the store by hand) fails that model loudly (a failure in its status, 503 on queries), not every call with a 500, and it stays redefinable
/// and deletable.
/// </summary>
public sealed class UnbuildableDefinitionTests
{
    private static ModelDefinition Unbuildable => ModelHarness.Gmm() with { HalfLife = null, Alpha = 0.3 };

    [Fact]
    public void EnsureBuildable_UnbuildableDefinition_ThrowsValidationNamingTheCause()
    {
        var e = Assert.Throws<ModelValidationException>(() => ModelCore.EnsureBuildable(Unbuildable));
        Assert.Equal("definition", e.Field);
        Assert.Contains("cannot be built", e.Message);
    }

    [Fact]
    public async Task StoredDefinitionUnbuildable_ModelFailsWithTheCause_ThenRedefinableAndDeletable()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Registry.PutAsync("bad", Unbuildable, onlyIfAbsent: false, CancellationToken.None);

        var info = await h.Service.GetModelAsync("bad");
        Assert.Contains("stored definition cannot be built", info.Status.Failure);
        var query = await Assert.ThrowsAsync<ModelUnavailableException>(() => h.Service.GetStateAsync("bad"));
        Assert.Contains("cannot be built", query.Message);
        await Assert.ThrowsAsync<ModelUnavailableException>(() => h.Service.AppendAsync("bad", ModelHarness.Rows(10, 2, 1)));

        await h.Service.PutModelAsync("bad", ModelHarness.Gmm());
        await h.Service.AppendAsync("bad", ModelHarness.Rows(10, 2, 2));
        Assert.Equal(10, (await h.WaitForObservationsAsync("bad", 10)).Observations);
        Assert.Null((await h.Service.GetModelAsync("bad")).Status.Failure);

        await h.Registry.PutAsync("bad", Unbuildable, onlyIfAbsent: false, CancellationToken.None);
        Assert.True(await h.Service.DeleteModelAsync("bad"));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.GetModelAsync("bad"));
    }
}
