using System.Diagnostics.Metrics;
using EmStreaming.Server.Telemetry;
using EmStreaming.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Server.Tests.Telemetry;

/// <summary>
/// The model gauges are fed by reading every model's status, and a read activates the model's grain and keeps it active.
/// Read every 10 s whatever happened, it kept every model of the data file in memory for good; now only while something
/// reads the gauges.
/// </summary>
public sealed class StatusPollerTests
{
    [Fact]
    public async Task Gauges_NobodyReadsThem_NoModelIsAsked_ReadThem_TheyFill()
    {
        await using var factory = new ApiFactory(new Dictionary<string, string?> { ["Server:StatusPollInterval"] = "00:00:00.100" });
        using var client = factory.CreateClient();
        await Http.CreateAsync(client, "m1");
        await Http.CreateAsync(client, "m2");
        var calls = factory.Models.CensusCalls;

        // Twenty ticks with no reader: the models are not asked (the old poller asked at start and at every tick).
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(calls, factory.Models.CensusCalls);

        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        var models = 0L;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "emstreaming.models")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Exchange(ref models, value));
        listener.Start();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Interlocked.Read(ref models) != 2 && DateTime.UtcNow < deadline)
        {
            listener.RecordObservableInstruments();
            await Task.Delay(50);
        }

        Assert.Equal(2, Interlocked.Read(ref models));
        Assert.True(factory.Models.CensusCalls > calls);
    }

    [Fact]
    public async Task Ready_ModelServiceFails_503ProblemNamingWhatFailed_ThenReadyAgain()
    {
        await using var factory = new ApiFactory();
        using var client = factory.CreateClient();
        factory.Models.FailNext["CheckReadyAsync"] = new InvalidOperationException("the registry's file is locked");

        var problem = await (await client.GetAsync("/readyz")).AssertProblemAsync(503);
        Assert.Equal("urn:emstreaming:problem:not-ready", problem.GetProperty("type").GetString());
        Assert.Contains("the registry's file is locked", problem.GetProperty("detail").GetString());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
    }
}
