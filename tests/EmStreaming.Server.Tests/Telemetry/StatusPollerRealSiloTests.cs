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
    public async Task Gauges_ReadAllTheTime_IdleModelsAreCollectedAndStayCollectedAndStillCount()
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

        // An exporter reads the gauges at every tick (100 ms) and a probe asks /readyz. The models, idle, must still be idle
        // after 2 s: Orleans' collection of activations idle for a second (what Orleans:CollectionAge does) takes them.
        // A status call to each active model at every tick kept them from ever being idle that long.
        await ReadGaugesAsync(20);
        await management.ForceActivationCollection(TimeSpan.FromSeconds(1));
        Assert.Empty(await ActiveAsync());
        Assert.Equal(2, Interlocked.Read(ref models));

        // Collected, they stay collected: neither the gauges nor the probe bring a model back.
        await ReadGaugesAsync(30);
        Assert.Empty(await ActiveAsync());
        Assert.Equal(2, Interlocked.Read(ref models));

        async Task ReadGaugesAsync(int ticks)
        {
            for (var i = 0; i < ticks; i++)
            {
                listener.RecordObservableInstruments();
                if (i % 3 == 0)
                {
                    using var ready = await client.GetAsync("/readyz");
                    Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
                }

                await Task.Delay(100);
            }
        }

        async Task<List<string>> ActiveAsync()
        {
            var type = grains.GetGrain<EmStreaming.Contracts.IModelGrain>("any").GetGrainId().Type;
            return [.. (await management.GetActiveGrains(type)).Select(g => g.Key.ToString()!)];
        }
    }
}
