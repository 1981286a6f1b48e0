using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ControlSequenceTests
{
    /// <summary>
    /// A previous activation's refit timer appended a refit request (producer "model", its next control sequence) and its
    /// silo died before a state write recorded that sequence (or during the refit, before the result was appended). The new
    /// activation restores the older control sequence, reads the request from the stream, starts the refit, and numbers the
    /// result with the very sequence the request carried: the result is skipped as the request's duplicate, so the refit
    /// stays in flight for the rest of the activation (no timed or counted refit runs again until it is reactivated).
    /// Simulated here with a fresh model, whose state knows no control sequence, reading such a leftover request.
    /// </summary>
    [Fact]
    public async Task LeftoverRefitRequestOfAPreviousActivation_ItsRefitResultIsApplied()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("cs", ModelHarness.Gmm(snapshotEvery: null));
        var rows = 0;
        while ((await h.Service.GetStateAsync("cs")).WarmingUp)
        {
            await h.Service.AppendAsync("cs", ModelHarness.Rows(100, 2, rows));
            rows += 100;
            await h.WaitForObservationsAsync("cs", rows);
        }

        var generation = (await h.Registry.GetAsync("cs", CancellationToken.None))!.Generation;
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "cs"));
        await stream.OnNextAsync(ModelStreamRecord.RefitRequest(ModelGrain.ControlProducer, 1, generation, DateTimeOffset.UtcNow));

        // A hang guard, not a timing assertion: a refit of a 400-row window takes well under a second.
        await Wait.UntilAsync(
            () => h.Recorder.Applied.Any(a => a.Model == "cs" && a.Record.Kind == ModelRecordKind.RefitResult),
            "the result of the refit the leftover request started", limitSeconds: 60);
    }
}
