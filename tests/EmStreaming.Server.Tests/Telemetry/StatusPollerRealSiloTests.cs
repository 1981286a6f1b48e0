using System.Diagnostics.Metrics;
using EmStreaming.Server.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Server.Tests.Telemetry;

/// <summary>
/// The model gauges and the readiness probe against the real grains: reading them must not activate a model. The poller
/// used to ask every model's grain for its status, so a server whose metrics were exported kept every model in memory for
/// good; <c>/readyz</c> listed the first model, which a probe every few seconds kept active.
/// </summary>
public sealed class StatusPollerRealSiloTests
{
    [Fact]
    public async Task Gauges_ReadAllTheTime_AnIdleCollectedModelStaysCollectedAndStillCounts()
    {
        await using var factory = new RealSiloFactory().WithWebHostBuilder(b => b.UseSetting("Server:StatusPollInterval", "00:00:00.100"));
        using var client = factory.CreateClient();
        await Http.CreateAsync(client, "idle:a");
        await Http.CreateAsync(client, "idle:b");
        var grains = factory.Services.GetRequiredService<IGrainFactory>();
        var management = grains.GetGrain<IManagementGrain>(0);
        Assert.Contains("idle:a", await ActiveAsync());

        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        var models = 0L;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name.StartsWith("emstreaming.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "emstreaming.models")
            {
                Interlocked.Exchange(ref models, value);
            }
        });
        listener.Start();

        // What Orleans:CollectionAge does to idle models; then an exporter reads the gauges at every tick for 3 s (30 ticks)
        // and a probe asks /readyz ten times. Neither may bring a model back.
        await management.ForceActivationCollection(TimeSpan.FromMilliseconds(10));
        Assert.Empty(await ActiveAsync());
        for (var i = 0; i < 30; i++)
        {
            listener.RecordObservableInstruments();
            if (i % 3 == 0)
            {
                using var ready = await client.GetAsync("/readyz");
                Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
            }

            await Task.Delay(100);
        }

        Assert.Empty(await ActiveAsync());
        Assert.Equal(2, Interlocked.Read(ref models));

        async Task<List<string>> ActiveAsync()
        {
            var type = grains.GetGrain<EmStreaming.Contracts.IModelGrain>("any").GetGrainId().Type;
            return [.. (await management.GetActiveGrains(type)).Select(g => g.Key.ToString()!)];
        }
    }
}
