using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;

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
        await using var h = await ModelHarness.StartAsync(services: s => DyingAnswerRegistry.Decorate(s, "first"));
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

    /// <summary>The silo's registry, except that recording the answer of one key fails once (the process died right there).</summary>
    private sealed class DyingAnswerRegistry(IModelRegistry inner, string dyingKey) : IModelRegistry
    {
        private int _died;

        public ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

        public ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken) =>
            inner.PutAsync(id, definition, onlyIfAbsent, cancellationToken);

        public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken) => inner.DeleteAsync(id, cancellationToken);

        public ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken) =>
            inner.ListAsync(prefix, after, limit, cancellationToken);

        public ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken) => inner.GetAnswerAsync(id, key, cancellationToken);

        public ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken) =>
            inner.ReserveAnswerAsync(id, key, reservation, cancellationToken);

        public ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken) =>
            key == dyingKey && Interlocked.Exchange(ref _died, 1) == 0
                ? ValueTask.FromException(new IOException("the silo died before recording the answer"))
                : inner.SaveAnswerAsync(id, key, answer, cancellationToken);

        public static void Decorate(IServiceCollection services, string dyingKey)
        {
            var original = services.Last(d => d.ServiceType == typeof(IModelRegistry));
            var factory = original.ImplementationFactory ?? throw new InvalidOperationException("the registry is not registered by a factory");
            services.AddSingleton<IModelRegistry>(sp => new DyingAnswerRegistry((IModelRegistry)factory(sp), dyingKey));
        }
    }
}
