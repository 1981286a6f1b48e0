using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Runtime.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmStreaming.Grains.Tests.Hosting;

public sealed class AddEmStreamingModelsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private IHost Build()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = _directory.Path,
            ["Storage:FullSync"] = "false",
            ["Models:Templates:0:Prefix"] = "sensor-",
            ["Models:Templates:0:Definition:Kind"] = "Gmm",
            ["Models:Templates:0:Definition:Dimension"] = "2",
            ["Models:Templates:0:Definition:Components"] = "2",
        });
        builder.Services.AddEmStreamingModels(builder.Configuration);
        return builder.Build();
    }

    /// <summary>One observation of an observable gauge of the EmStreaming.Grains meter, or null when it is not published.</summary>
    private static long? ObserveGauge(string name)
    {
        long? value = null;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "EmStreaming.Grains" && instrument.Name == name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, measurement, _, _) => value = measurement);
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }

    [Fact]
    public async Task Host_StartPutAppendQueryStopRestartOnSameDirectory_StateIntact()
    {
        ModelStateView before;
        using (var host = Build())
        {
            await host.StartAsync();
            var service = host.Services.GetRequiredService<IModelService>();
            Assert.Equal(PutModelOutcome.Created, await service.PutModelAsync("plant", ModelHarness.Gmm(snapshotEvery: null)));
            Assert.Equal(700, (await service.AppendAsync("plant", ModelHarness.Rows(700, 2, 8))).Accepted);
            await Wait.UntilAsync(async () => (await service.GetStateAsync("plant")).Observations == 700, "700 rows applied");
            before = await service.GetStateAsync("plant");
            Assert.False(before.WarmingUp);
            Assert.Equal(0, (await service.GetModelAsync("plant")).Status.PendingObservations);
            Assert.Equal(700, (await service.GetModelAsync("plant")).Status.Observations);
            Assert.Equal(0L, ObserveGauge("emstreaming.models.mailbox_depth"));
            Assert.Equal(50, (await service.GetRecentAsync("plant", 50)).Rows.Rows);
            await host.StopAsync();
        }

        using (var host = Build())
        {
            await host.StartAsync();
            var service = host.Services.GetRequiredService<IModelService>();
            var after = await service.GetStateAsync("plant");
            Assert.Equal(700, after.Observations);
            Assert.Equal(before.Means, after.Means);
            Assert.Equal(before.Covariances, after.Covariances);
            Assert.Equal(before.Weights, after.Weights);
            Assert.Equal("Deactivation", (await service.ListSnapshotsAsync("plant"))[^1].Reason);
            var recent = await service.GetRecentAsync("plant", 10);
            Assert.Equal(ModelHarness.Rows(700, 2, 8).Values[(690 * 2)..].ToArray(), recent.Rows.Values.ToArray());
            Assert.Equal(690, recent.FirstObservation);

            // The silo and the service come from the same container; a template model is created on first append.
            Assert.Equal(0, host.Services.GetRequiredService<ISilo>().GetStatistics().TurnsFailed);
            Assert.Equal(3, (await service.AppendAsync("sensor-1", ModelHarness.Rows(3, 2, 9))).Accepted);
            Assert.Equal(2, (await service.GetModelAsync("sensor-1")).Definition.Components);
            await host.StopAsync();
        }
    }
}
