using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>A model's <c>snapshots.retain</c> bounds its own history; <c>Storage:History:MaxVersions</c> is only the default.</summary>
public sealed class SnapshotRetentionTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Snapshots_PerModelRetainAndGlobalDefault_EachModelKeepsItsOwnNumber()
    {
        // Global default 6; one model keeps 3 (fewer), one keeps 9 (more than the global), one says nothing (the global).
        await using var h = await ModelHarness.StartAsync(_directory.Path, new Dictionary<string, string?> { ["Storage:History:MaxVersions"] = "6" });
        var every50 = ModelHarness.Gmm(snapshotEvery: 50);
        await h.Service.PutModelAsync("three", every50 with { Snapshots = every50.Snapshots with { Retain = 3 } });
        await h.Service.PutModelAsync("nine", every50 with { Snapshots = every50.Snapshots with { Retain = 9 } });
        await h.Service.PutModelAsync("default", every50 with { Snapshots = every50.Snapshots with { Retain = null } });
        foreach (var id in new[] { "three", "nine", "default" })
        {
            for (var b = 0; b < 12; b++)
            {
                await h.Service.AppendAsync(id, ModelHarness.Rows(50, 2, b));
            }

            await h.WaitForObservationsAsync(id, 600);
        }

        // Each model has written at least 13 versions (creation + one per 50 rows); only its retain count survives.
        foreach (var (id, kept) in new[] { ("three", 3), ("nine", 9), ("default", 6) })
        {
            await Wait.UntilAsync(async () => await h.Service.ListSnapshotsAsync(id) is [.., { Observations: 600 }], $"{id}'s last snapshot");
            var versions = await h.Service.ListSnapshotsAsync(id);
            Assert.True(versions[^1].Version >= 13, $"{id} wrote only {versions[^1].Version} versions: retention was not exercised");
            Assert.Equal(kept, versions.Count);
            Assert.Equal(Enumerable.Range((int)versions[^1].Version - kept + 1, kept).Select(v => (long)v), versions.Select(v => v.Version));
        }
    }
}
