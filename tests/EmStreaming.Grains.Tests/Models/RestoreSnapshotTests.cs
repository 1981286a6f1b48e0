using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class RestoreSnapshotTests
{
    [Fact]
    public async Task RestoreSnapshotAsync_HealthyModel_RollsBackAndLaterRowsCountFromThere()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("rb", ModelHarness.Gmm(snapshotEvery: 100));
        for (var b = 0; b < 3; b++)
        {
            await h.Service.AppendAsync("rb", ModelHarness.Rows(100, 2, b));
        }

        await h.WaitForObservationsAsync("rb", 300);
        var at100 = (await h.Service.ListSnapshotsAsync("rb")).First(s => s.Observations == 100);

        var status = await h.Service.RestoreSnapshotAsync("rb", at100.Version);

        Assert.Equal(100, status.Observations);
        Assert.Equal(0, status.PendingObservations);
        Assert.Equal(100, (await h.Service.GetStateAsync("rb")).Observations);
        await h.Service.AppendAsync("rb", ModelHarness.Rows(50, 2, 7));
        await Wait.UntilAsync(async () => (await h.Service.GetModelAsync("rb")).Status is { Observations: 150, PendingObservations: 0 }, "150 applied, none pending");
        Assert.Equal("Reset", (await h.Service.ListSnapshotsAsync("rb"))[^1].Reason);
    }

    [Fact]
    public async Task RestoreSnapshotAsync_UnknownVersionOrModel_ClearErrorsAndNothingChanges()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("rb2", ModelHarness.Gmm(snapshotEvery: 100));
        await h.Service.AppendAsync("rb2", ModelHarness.Rows(100, 2, 1));
        await h.WaitForObservationsAsync("rb2", 100);
        var versions = await h.Service.ListSnapshotsAsync("rb2");

        var missing = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => h.Service.RestoreSnapshotAsync("rb2", versions[^1].Version + 1));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => h.Service.RestoreSnapshotAsync("nobody", 1));

        Assert.Equal("version", missing.Field);
        Assert.Contains("no snapshot version", missing.Message);
        Assert.Equal(100, (await h.Service.GetStateAsync("rb2")).Observations);
        Assert.Equal(versions, await h.Service.ListSnapshotsAsync("rb2"));
    }
}
