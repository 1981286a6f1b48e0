using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Numerics;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace EmStreaming.Grains.Tests.Service;

public sealed class IdempotencyRetryTests
{
    /// <summary>
    /// The first attempt's batch reaches the stream and is applied, but its answer is never recorded (the silo dies between
    /// the append and the registry write): the key stays reserved without an answer. The client retries, on another silo,
    /// after 64 other keyed appends to the model. The grain's memory of keys (the last 64) no longer holds the first one, so
    /// a retry appended as a new record would be applied a second time. Appended under the first attempt's producer and
    /// sequence (recorded with the reservation), the producer window skips it, however many keys came between.
    /// </summary>
    [Fact]
    public async Task RetryAfterUnrecordedAnswer_AfterManyOtherKeys_OnAnotherSilo_AppliedOnce()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Save));
        await h.Service.PutModelAsync("rk", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(10, 2, 1);

        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("rk", batch, "first"));
        for (var i = 0; i < 70; i++)
        {
            Assert.Equal(1, (await h.Service.AppendAsync("rk", ModelHarness.Rows(1, 2, 100 + i), $"other-{i}")).Accepted);
        }

        await h.WaitForObservationsAsync("rk", 80);
        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        var retry = await otherSilo.AppendAsync("rk", batch, "first");
        Assert.Equal(10, retry.Accepted);

        // A fence after the retry on the ordered stream: once it is applied, so is the retry if it was going to be.
        await otherSilo.AppendAsync("rk", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rk" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(83, (await h.Service.GetStateAsync("rk")).Observations);
        // And the retry's answer is recorded now: a third attempt is answered from the registry.
        Assert.True((await h.Service.AppendAsync("rk", batch, "first")).Replayed);
    }

    /// <summary>
    /// A key reserved by a version that recorded no identity with it (only the request's legacy hash), whose batch reached
    /// the stream with the key's hash under that process's producer: a retry can only append under a new identity, and the
    /// grain must still apply one copy. The retry's record carries the key's hash (only such a retry's does), and the grain
    /// drops it as the first copy's twin.
    /// </summary>
    [Fact]
    public async Task RetryOfALegacyReservation_AppendedUnderANewIdentity_AppliedOnceByTheKeysHash()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("lg", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(10, 2, 1);
        var generation = (await h.Registry.GetAsync("lg", CancellationToken.None))!.Generation;
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, "lg"));
        await stream.OnNextAsync(ModelStreamRecord.Observations("old-process", 1, generation, batch, DateTimeOffset.UtcNow, ModelStreamRecord.HashKey("first")));
        var validated = (batch, (IReadOnlyList<RejectedRow>)[]);
        await h.Registry.SaveAnswerAsync("lg", "first", new StoredAnswer(RequestFingerprint.FromLegacy(RequestFingerprint.LegacyHash(validated)), null), default);
        await h.WaitForObservationsAsync("lg", 10);

        var retry = await h.Service.AppendAsync("lg", batch, "first");
        Assert.Equal(10, retry.Accepted);
        await h.Service.AppendAsync("lg", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "lg" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(13, (await h.Service.GetStateAsync("lg")).Observations);
        Assert.True((await h.Service.AppendAsync("lg", batch, "first")).Replayed);
    }

    /// <summary>
    /// The first attempt's batch is applied but its answer never recorded; eight days later more producers than the model keeps
    /// whatever their age (32) append to it: the first attempt's producer window, idle that long, is evicted. A retry appended
    /// under its identity would start a new window and be applied twice; the model says it can no longer tell, and the retry
    /// is a 409 that says so. Nothing more is applied.
    /// </summary>
    [Fact]
    public async Task RetryAfterUnrecordedAnswer_AfterTheProducerWasForgotten_ConflictNotAppliedTwice()
    {
        var clock = new ShiftedClock();
        await using var h = await ModelHarness.StartAsync(services: s =>
        {
            DyingAnswerRegistry.Decorate(s, "first", DiesAt.Save);
            ShiftedClock.Use(s, clock);
        });
        await h.Service.PutModelAsync("rg", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(10, 2, 1);
        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("rg", batch, "first"));
        await h.WaitForObservationsAsync("rg", 10);

        clock.Offset = TimeSpan.FromDays(8);
        const int gateways = ProducerWindows.RecentProducers;
        await AppendFromGatewaysAsync(h, "rg", gateways);
        await h.WaitForObservationsAsync("rg", 10 + gateways);
        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        var conflict = await Assert.ThrowsAsync<ModelConflictException>(() => otherSilo.AppendAsync("rg", batch, "first"));
        Assert.Contains("can no longer tell", conflict.Message);

        await otherSilo.AppendAsync("rg", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rg" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(10 + gateways + 3, (await h.Service.GetStateAsync("rg")).Observations);
    }

    /// <summary>
    /// As above, but the other producers append while the first attempt's producer is recent (a cluster of more silos than 32
    /// appending to one model): every window is kept, so the model still knows the batch was applied, and the retry is
    /// answered as applied, once. With the windows capped at 32 this was a 409 (or, for a stream redelivery, a second apply).
    /// </summary>
    [Fact]
    public async Task RetryAfterUnrecordedAnswer_MoreRecentProducersThan32_AnsweredAsApplied_AppliedOnce()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Save));
        await h.Service.PutModelAsync("rm", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(10, 2, 1);
        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("rm", batch, "first"));

        const int gateways = ProducerWindows.RecentProducers + 8;
        await AppendFromGatewaysAsync(h, "rm", gateways);
        await h.WaitForObservationsAsync("rm", 10 + gateways);
        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        var retry = await otherSilo.AppendAsync("rm", batch, "first");
        Assert.True(retry.Replayed);
        Assert.Equal(10, retry.Accepted);

        await otherSilo.AppendAsync("rm", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rm" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(10 + gateways + 3, (await h.Service.GetStateAsync("rm")).Observations);
    }

    /// <summary>
    /// Creates <paramref name="model"/>; its keyed append of the returned batch dies right after taking the key "first" (nothing
    /// appended: sequence 1 of the service's producer is a gap). Then that producer's later records, every other sequence (each
    /// one a gap), and one far above: they all leave the window, which keeps the newest MaxMissingRanges (256) gaps, so the reserved one is
    /// forgotten. Returns the batch and how many later records were applied (one row each) besides the last.
    /// </summary>
    private static async Task<(DataMatrix Batch, int Later)> ForgetTheReservedGapAsync(ModelHarness h, string model)
    {
        await h.Service.PutModelAsync(model, ModelHarness.Gmm(window: 2_000));
        var batch = ModelHarness.Rows(10, 2, 1);
        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync(model, batch, "first"));

        var producer = ((ModelService)h.Service).ProducerId;
        var generation = (await h.Registry.GetAsync(model, CancellationToken.None))!.Generation;
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, model));
        const int later = ProducerWindows.MaxMissingRanges + 4;
        for (var i = 1; i <= later; i++)
        {
            await stream.OnNextAsync(ModelStreamRecord.Observations(producer, 2 * i, generation, ModelHarness.Rows(1, 2, 100 + i), DateTimeOffset.UtcNow));
        }

        await stream.OnNextAsync(ModelStreamRecord.Observations(producer, (2 * later) + ProducerWindowsWidth + 100, generation, ModelHarness.Rows(1, 2, 7), DateTimeOffset.UtcNow));
        await h.WaitForObservationsAsync(model, later + 1);
        return (batch, later);
    }

    private static async Task AppendFromGatewaysAsync(ModelHarness h, string model, int gateways)
    {
        var stream = h.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ModelStreams.DefaultProviderName)
            .GetStream<object>(StreamId.Create(ModelStreams.Namespace, model));
        for (var i = 0; i < gateways; i++)
        {
            await stream.OnNextAsync(new ObservationBatch { ProducerId = $"gateway-{i}", Sequence = 1, Values = ModelHarness.Rows(1, 2, 50 + i).Values.ToArray(), Columns = 2 });
        }
    }

    /// <summary>
    /// The process dies right after taking the key, before anything is appended (the stream was unavailable, or the silo went
    /// down): the reservation, with its producer id and sequence, stays without an answer. Meanwhile that producer goes on
    /// appending, well past its 1,024-wide window, so the reserved sequence is a gap far below it. The same batch retried under
    /// the key (on another silo) must be applied, and once: the producer window keeps the gap as a missing range.
    /// </summary>
    [Fact]
    public async Task RetryAfterNothingWasAppended_SameBatch_AppliedOnce()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Reserve));
        await h.Service.PutModelAsync("ra", ModelHarness.Gmm(window: 2_000));
        var batch = ModelHarness.Rows(10, 2, 1);

        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("ra", batch, "first"));
        const int later = ProducerWindowsWidth + 100;
        for (var i = 0; i < later; i++)
        {
            await h.Service.AppendAsync("ra", ModelHarness.Rows(1, 2, 100 + i));
        }

        await h.WaitForObservationsAsync("ra", later);
        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        Assert.Equal(10, (await otherSilo.AppendAsync("ra", batch, "first")).Accepted);
        await h.WaitForObservationsAsync("ra", later + 10);
        Assert.True((await otherSilo.AppendAsync("ra", batch, "first")).Replayed);

        // A fence after every append on the ordered stream: nothing more is applied.
        await otherSilo.AppendAsync("ra", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "ra" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(later + 13, (await h.Service.GetStateAsync("ra")).Observations);
    }

    /// <summary>
    /// The request hash was a word-wise FNV-1a: negating any two values of a batch gives the same hash (a sign flip xors the
    /// top bit, which the multiplication carries unchanged to the end, so two cancel). A corrected batch sent again under the
    /// same key was answered as the first one's retry: a 200 for rows that were never applied. It is a 409 now.
    /// </summary>
    [Fact]
    public async Task SameKey_BatchWithTwoSignsFlipped_ConflictNotAReplay()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("rs", ModelHarness.Gmm());
        Assert.False((await h.Service.AppendAsync("rs", new DataMatrix([1.5, 2.5], 1, 2), "first")).Replayed);

        var conflict = await Assert.ThrowsAsync<ModelConflictException>(() => h.Service.AppendAsync("rs", new DataMatrix([-1.5, -2.5], 1, 2), "first"));

        Assert.Contains("different batch", conflict.Message);
    }

    /// <summary>An answer stored before request fingerprints (64-bit hash) still answers a retry of its batch, and only of it.</summary>
    [Fact]
    public async Task AnswerStoredWithTheLegacyHash_SameBatchReplayed_OtherBatchConflict()
    {
        await using var h = await ModelHarness.StartAsync();
        await h.Service.PutModelAsync("rl", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(4, 2, 1);
        var legacy = RequestFingerprint.FromLegacy(RequestFingerprint.LegacyHash(EmStreaming.Grains.Observations.ModelInput.Validate(batch, 2)));
        await h.Registry.SaveAnswerAsync("rl", "old", new StoredAnswer(legacy, new AppendResult(4, [], 9)), CancellationToken.None);

        var replay = await h.Service.AppendAsync("rl", batch, "old");

        Assert.True(replay.Replayed);
        Assert.Equal(9, replay.FirstPosition);
        await Assert.ThrowsAsync<ModelConflictException>(() => h.Service.AppendAsync("rl", ModelHarness.Rows(4, 2, 2), "old"));
    }

    /// <summary>
    /// A request whose batch was appended and counted but whose answer was not recorded leaves a mark, so this process's retry
    /// does not count the rows again. A retry the model can no longer judge (its producer forgotten) is a 409, and so is every
    /// later one: none appends again, so the mark must go, or every such request leaves one behind for the process's life.
    /// </summary>
    [Fact]
    public async Task RetryInTheSameProcess_ModelCanNoLongerTell_LeavesNoUnansweredMark()
    {
        var clock = new ShiftedClock();
        await using var h = await ModelHarness.StartAsync(services: s =>
        {
            DyingAnswerRegistry.Decorate(s, "first", DiesAt.Save);
            ShiftedClock.Use(s, clock);
        });
        var service = (ModelService)h.Service;
        await service.PutModelAsync("ru", ModelHarness.Gmm());
        var batch = ModelHarness.Rows(10, 2, 1);
        await Assert.ThrowsAsync<IOException>(() => service.AppendAsync("ru", batch, "first"));
        Assert.Equal(1, service.UnansweredCount);
        await h.WaitForObservationsAsync("ru", 10);

        clock.Offset = TimeSpan.FromDays(8);
        await AppendFromGatewaysAsync(h, "ru", ProducerWindows.RecentProducers);
        await h.WaitForObservationsAsync("ru", 10 + ProducerWindows.RecentProducers);
        await Assert.ThrowsAsync<ModelConflictException>(() => service.AppendAsync("ru", batch, "first"));

        Assert.Equal(0, service.UnansweredCount);
    }

    /// <summary>
    /// An answer that could not be written, and no retry: the mark stayed until the process ended. Deleting the model takes its
    /// keys, so no retry will judge the record again, and the mark goes with them.
    /// </summary>
    [Fact]
    public async Task AnswerNotWrittenAndNoRetry_ModelDeleted_LeavesNoUnansweredMark()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "lost", DiesAt.Save));
        var service = (ModelService)h.Service;
        await service.PutModelAsync("ud", ModelHarness.Gmm());
        await Assert.ThrowsAsync<IOException>(() => service.AppendAsync("ud", ModelHarness.Rows(10, 2, 1), "lost"));
        Assert.Equal(1, service.UnansweredCount);

        Assert.True(await service.DeleteModelAsync("ud"));

        Assert.Equal(0, service.UnansweredCount);
    }

    /// <summary>
    /// The process dies right after taking the key (nothing appended: sequence 1 of its producer is a gap), and that producer's
    /// later records leave more gaps than its window keeps (MaxMissingRanges, 256 ranges) before they slide past it. The gap of the reserved
    /// sequence is the oldest, so it is forgotten; the retry was then judged "seen": a 200 for rows that were never applied,
    /// an acknowledged batch lost. The model cannot tell, so the retry is a 409 that says why, and nothing is applied.
    /// </summary>
    [Fact]
    public async Task RetryAfterNothingWasAppended_ItsGapForgottenUnderLaterGaps_ConflictNotAnAnswerForRowsNeverApplied()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Reserve));
        var (batch, later) = await ForgetTheReservedGapAsync(h, "rf");

        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        var conflict = await Assert.ThrowsAsync<ModelConflictException>(() => otherSilo.AppendAsync("rf", batch, "first"));
        Assert.Contains("can no longer tell", conflict.Message);
        Assert.Contains("gaps", conflict.Message);

        await otherSilo.AppendAsync("rf", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rf" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(later + 1 + 3, (await h.Service.GetStateAsync("rf")).Observations);
    }

    /// <summary>
    /// As above, but the model is deactivated (idle collection, a silo restart) between the forgotten gap and the retry. The
    /// stored state keeps the mark below which gaps were forgotten; an activation that restored the windows without it judged
    /// the retry "seen" again: a 200 for rows that were never applied.
    /// </summary>
    [Fact]
    public async Task RetryAfterNothingWasAppended_ItsGapForgotten_ModelReactivatedBeforeTheRetry_StillAConflict()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Reserve));
        var (batch, later) = await ForgetTheReservedGapAsync(h, "rv");
        var snapshots = (await h.Service.ListSnapshotsAsync("rv")).Count;
        await Task.Delay(50);
        await h.CollectIdleAsync(TimeSpan.FromMilliseconds(10));
        await Wait.UntilAsync(async () => (await h.Service.ListSnapshotsAsync("rv")).Count > snapshots, "the deactivation snapshot");

        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        var conflict = await Assert.ThrowsAsync<ModelConflictException>(() => otherSilo.AppendAsync("rv", batch, "first"));
        Assert.Contains("can no longer tell", conflict.Message);

        await otherSilo.AppendAsync("rv", ModelHarness.Rows(3, 2, 7));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rv" && a.Record.RowCount == 3), "the fence append");
        Assert.Equal(later + 1 + 3, (await h.Service.GetStateAsync("rv")).Observations);
    }

    /// <summary>
    /// A retry on another silo appends under the first request's producer id (a process that died after taking the key): no
    /// live service counts that producer's rows, so they were missing from <c>pendingObservations</c> until applied (applied +
    /// pending fell short of what was acknowledged). The grain is held in a turn (its state write gated) so the retry is
    /// acknowledged before it is applied.
    /// </summary>
    [Fact]
    public async Task RetryUnderTheFirstRequestsProducer_BeforeItIsApplied_CountsPending()
    {
        var gate = new GatedGrainStorage.Gate();
        await using var h = await ModelHarness.StartAsync(services: s =>
        {
            DyingAnswerRegistry.Decorate(s, "first", DiesAt.Reserve);
            GatedGrainStorage.Decorate(s, ModelStorageOptions.DefaultProviderName, gate);
        });
        await h.Service.PutModelAsync("rp", ModelHarness.Gmm(snapshotEvery: 10));
        var batch = ModelHarness.Rows(7, 2, 1);
        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("rp", batch, "first"));

        // The grain's next apply turn waits at its snapshot write; records behind it wait for the turn.
        gate.Close();
        await h.Service.AppendAsync("rp", ModelHarness.Rows(10, 2, 2));
        await gate.Held.WaitAsync(TimeSpan.FromSeconds(30));
        var otherSilo = ActivatorUtilities.CreateInstance<ModelService>(h.Services);
        Assert.Equal(7, (await otherSilo.AppendAsync("rp", batch, "first")).Accepted);

        var status = (await otherSilo.GetModelAsync("rp")).Status;
        Assert.Equal(17, status.Observations + status.PendingObservations);
        Assert.True(status.PendingObservations >= 7, $"pending {status.PendingObservations} with the retry's 7 rows not applied");

        gate.Open();
        await h.WaitForObservationsAsync("rp", 17);
        Assert.Equal(0, (await otherSilo.GetModelAsync("rp")).Status.PendingObservations);
    }

    /// <summary>
    /// A different batch under a key whose request failed after reaching the stream is refused, and the refusal says why (the
    /// first batch may still be applied). One refused before anything could be appended takes no key (see below).
    /// </summary>
    [Fact]
    public async Task SameKeyDifferentBatch_AfterAFailureAtTheStream_ConflictSaysWhy()
    {
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first", DiesAt.Save));
        await h.Service.PutModelAsync("rc", ModelHarness.Gmm());
        await Assert.ThrowsAsync<IOException>(() => h.Service.AppendAsync("rc", ModelHarness.Rows(10, 2, 1), "first"));

        var conflict = await Assert.ThrowsAsync<ModelConflictException>(() => h.Service.AppendAsync("rc", ModelHarness.Rows(10, 2, 2), "first"));
        Assert.Contains("different batch", conflict.Message);
        Assert.Contains("may still be applied", conflict.Message);
        Assert.Contains("new key", conflict.Message);
    }

    /// <summary>
    /// A request refused before anything could be appended (the model's stored state is unreadable: 503) does not take the key:
    /// once the model is restored, the client may send the batch under that key, or another batch (it may have fixed it);
    /// that batch is applied once and its retries are answered from the registry. It used to hold the key for the refused
    /// batch, so any other batch under it was a 409 although nothing had ever been appended.
    /// </summary>
    [Fact]
    public async Task KeyOfARequestRefusedBeforeTheStream_IsFree_AnotherBatchUnderItIsAppliedOnce()
    {
        using var directory = new TempDirectory();
        await using (var h = await ModelHarness.StartAsync(directory.Path))
        {
            await h.Service.PutModelAsync("rf", ModelHarness.Gmm(snapshotEvery: 100));
            await h.Service.AppendAsync("rf", ModelHarness.Rows(100, 2, 1));
            await h.WaitForObservationsAsync("rf", 100);
        }

        StoredStates.Corrupt(directory.Path, "rf", validChecksum: false);
        await using (var h = await ModelHarness.StartAsync(directory.Path))
        {
            await Assert.ThrowsAsync<ModelUnavailableException>(() => h.Service.AppendAsync("rf", ModelHarness.Rows(10, 2, 2), "k1"));
            var newest = (await h.Service.ListSnapshotsAsync("rf"))[^1];
            await h.Service.RestoreSnapshotAsync("rf", newest.Version);

            var fixedBatch = ModelHarness.Rows(12, 2, 3);
            Assert.Equal(12, (await h.Service.AppendAsync("rf", fixedBatch, "k1")).Accepted);
            Assert.True((await h.Service.AppendAsync("rf", fixedBatch, "k1")).Replayed);
            await h.WaitForObservationsAsync("rf", 112);
            await h.Service.AppendAsync("rf", ModelHarness.Rows(3, 2, 7));
            await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "rf" && a.Record.RowCount == 3), "the fence append");
            Assert.Equal(115, (await h.Service.GetStateAsync("rf")).Observations);
        }
    }

    private const int ProducerWindowsWidth = EmStreaming.Grains.Models.ProducerWindows.WindowBits;

    private enum DiesAt
    {
        Reserve,
        Save,
    }

    /// <summary>The silo's registry, except that the process "dies" once for one key: right after reserving it, or instead of recording its answer.</summary>
    private sealed class DyingAnswerRegistry(IModelRegistry inner, string dyingKey, DiesAt at) : ForwardingModelRegistry(inner)
    {
        private int _died;

        public override async ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken)
        {
            var stored = await Inner.ReserveAnswerAsync(id, key, reservation, cancellationToken);
            return at == DiesAt.Reserve && key == dyingKey && Interlocked.Exchange(ref _died, 1) == 0
                ? throw new IOException("the silo died right after reserving the key")
                : stored;
        }

        public override ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken) =>
            at == DiesAt.Save && key == dyingKey && Interlocked.Exchange(ref _died, 1) == 0
                ? ValueTask.FromException(new IOException("the silo died before recording the answer"))
                : Inner.SaveAnswerAsync(id, key, answer, cancellationToken);

        public static void Decorate(IServiceCollection services, string dyingKey, DiesAt at) =>
            ForwardingModelRegistry.Decorate(services, inner => new DyingAnswerRegistry(inner, dyingKey, at));
    }
}
