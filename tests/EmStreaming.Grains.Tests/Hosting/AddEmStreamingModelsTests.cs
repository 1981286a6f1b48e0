using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Hosting;

public sealed class AddEmStreamingModelsTests : IDisposable
{
    private static readonly Dictionary<string, string?> Templates = new()
    {
        ["Models:Templates:0:Prefix"] = "sensor-",
        ["Models:Templates:0:Definition:Kind"] = "Gmm",
        ["Models:Templates:0:Definition:Dimension"] = "2",
        ["Models:Templates:0:Definition:Components"] = "2",
    };

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Silo_StartPutAppendQueryStopRestartOnSameDirectory_StateIntact()
    {
        ModelStateView before;
        await using (var h = await ModelHarness.StartAsync(_directory.Path, Templates))
        {
            var service = h.Service;
            Assert.Equal(PutModelOutcome.Created, await service.PutModelAsync("plant", ModelHarness.Gmm(snapshotEvery: null)));
            Assert.Equal(700, (await service.AppendAsync("plant", ModelHarness.Rows(700, 2, 8))).Accepted);
            await Wait.UntilAsync(async () => (await service.GetStateAsync("plant")).Observations == 700, "700 rows applied");
            before = await service.GetStateAsync("plant");
            Assert.False(before.WarmingUp);
            Assert.Equal(0, (await service.GetModelAsync("plant")).Status.PendingObservations);
            Assert.Equal(700, (await service.GetModelAsync("plant")).Status.Observations);
            Assert.Equal(50, (await service.GetRecentAsync("plant", 50)).Rows.Rows);
        }

        await using (var h = await ModelHarness.StartAsync(_directory.Path, Templates))
        {
            var service = h.Service;
            var after = await service.GetStateAsync("plant");
            Assert.Equal(700, after.Observations);
            Assert.Equal(before.Means, after.Means);
            Assert.Equal(before.Covariances, after.Covariances);
            Assert.Equal(before.Weights, after.Weights);
            Assert.Equal("Deactivation", (await service.ListSnapshotsAsync("plant"))[^1].Reason);
            var recent = await service.GetRecentAsync("plant", 10);
            Assert.Equal(ModelHarness.Rows(700, 2, 8).Values[(690 * 2)..].ToArray(), recent.Rows.Values.ToArray());
            Assert.Equal(690, recent.FirstObservation);

            // A template model is created on first append.
            Assert.Equal(3, (await service.AppendAsync("sensor-1", ModelHarness.Rows(3, 2, 9))).Accepted);
            Assert.Equal(2, (await service.GetModelAsync("sensor-1")).Definition.Components);
        }
    }

    [Theory]
    [InlineData("Orleans:SiloPort", "0", "Orleans:SiloPort")]
    [InlineData("Orleans:ClusterId", "", "Orleans:ClusterId")]
    [InlineData("Storage:Provider", "Cassandra", "Storage:Provider")]
    public async Task Start_InvalidSetting_FailsNamingTheSetting(string key, string value, string named)
    {
        var e = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => ModelHarness.StartAsync(_directory.Path, new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(named, string.Join("; ", e.Failures));
    }
}
