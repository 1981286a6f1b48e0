using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ExternalProducerIdentityTests
{
    /// <summary>
    /// An external producer's batch without a producer id (an Orleans client built without nullable checks): the grain took
    /// it into its producer windows under a null id, and from then on every state write threw while encoding the windows
    /// (ArgumentNullException), so the model never stored again: no snapshot, no commit (its Azure Queue messages are never
    /// deleted), and everything applied since is lost with the activation.
    /// </summary>
    [Fact]
    public async Task ObservationBatchWithoutProducerId_IsSkipped_AndTheModelStillStoresItsState()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("anon", ModelHarness.Gmm(snapshotEvery: 50));
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "anon"));
        await stream.OnNextAsync(new ObservationBatch { ProducerId = null!, Sequence = 1, Values = ModelHarness.Rows(30, 2, 1).Values.ToArray(), Columns = 2 });
        for (var i = 0; i < 2; i++)
        {
            await h.Service.AppendAsync("anon", ModelHarness.Rows(30, 2, 2 + i));
        }

        // The 60 rows of the service's appends reach the snapshot policy (every 50): a snapshot of them is stored.
        await Wait.UntilAsync(
            async () => (await h.Service.ListSnapshotsAsync("anon")).Any(s => s.Reason == "Policy" && s.Observations >= 60),
            "a policy snapshot covering the service's appends");
        Assert.Equal(60, (await h.Service.GetStateAsync("anon")).Observations);
    }

    [Fact]
    public void ProducerWindows_NullOrOverlongProducerId_IsNoIdentity_StateStillEncodes()
    {
        var w = new ProducerWindows();
        Assert.False(w.TryAccept(null!, 1, 1));
        Assert.False(w.WouldAccept(null!, 1));
        Assert.False(w.TryAccept(new string('€', 30_000), 1, 1)); // 90,000 UTF-8 bytes: more than the state's 16-bit length
        Assert.True(w.TryAccept("gateway", 1, 1));
        var decoded = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [1, 2, 3]));
        Assert.Equal(["gateway"], decoded.Windows.All.Select(x => x.ProducerId));
    }
}
