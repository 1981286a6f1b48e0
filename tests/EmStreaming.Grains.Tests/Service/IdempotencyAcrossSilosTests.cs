using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Service;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.Service;

public sealed class IdempotencyAcrossSilosTests
{
    /// <summary>
    /// Two silos (two <see cref="ModelService"/>s, each with its own producer and its own per-key lock) take two requests with
    /// one Idempotency-Key and different rows at the same time: both find no answer for the key, both append, and the grain
    /// applies the first copy it reads and skips the other by its key hash. Both are answered 200 with their rows accepted,
    /// but only one batch is applied: an acknowledged append lost. On one silo the second request waits for the first
    /// (its key lock) and is refused (409). Across silos it must not be acknowledged either.
    /// </summary>
    [Fact]
    public async Task SameKeyDifferentRows_OnTwoSilosAtOnce_NotBothAcknowledgedUnlessBothApplied()
    {
        var barrier = new AnswerReadBarrier(2);
        await using var h = await ModelHarness.StartAsync(services: s => AnswerReadBarrier.Decorate(s, barrier));
        await h.Service.PutModelAsync("idem", ModelHarness.Gmm());
        var silos = new[] { (ModelService)h.Service, ActivatorUtilities.CreateInstance<ModelService>(h.Services) };
        Assert.NotEqual(silos[0].ProducerId, silos[1].ProducerId);

        var appends = silos.Select((silo, i) => Outcome(silo.AppendAsync("idem", ModelHarness.Rows(10 + i, 2, i), "batch-0001"))).ToArray();
        var outcomes = await Task.WhenAll(appends);

        var acknowledged = outcomes.Where(o => o.Accepted is not null).Sum(o => o.Accepted!.Value);
        // Every acknowledged row is applied (the fence: an append after them, on the ordered stream).
        await h.Service.AppendAsync("idem", ModelHarness.Rows(5, 2, 9));
        await h.WaitForObservationsAsync("idem", 5 + Math.Min(10, acknowledged));
        await Wait.UntilAsync(() => h.Recorder.Applied.Any(a => a.Model == "idem" && a.Record.RowCount == 5), "the fence append");
        Assert.True(
            (await h.Service.GetStateAsync("idem")).Observations >= acknowledged + 5,
            $"acknowledged {acknowledged} rows ({string.Join(", ", outcomes.Select(o => o.ToString()))}), applied {(await h.Service.GetStateAsync("idem")).Observations - 5}");
    }

    private static async Task<(int? Accepted, string? Error)> Outcome(Task<AppendResult> append)
    {
        try
        {
            return ((await append).Accepted, null);
        }
        catch (ModelConflictException e)
        {
            return (null, e.GetType().Name);
        }
    }

    /// <summary>
    /// Holds every look at an idempotency key (a read or a reservation) until <c>count</c> wait, and every save until
    /// <c>count</c> looks are done: the requests of both silos look before either saves (as two requests a few milliseconds
    /// apart do).
    /// </summary>
    private sealed class AnswerReadBarrier(int count)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _allRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _waiting;
        private int _read;

        public void Read()
        {
            if (Interlocked.Increment(ref _read) >= count)
            {
                _allRead.TrySetResult();
            }
        }

        public Task AllReadAsync() => _allRead.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public async Task PassAsync()
        {
            if (Interlocked.Increment(ref _waiting) >= count)
            {
                _all.TrySetResult();
            }

            await _all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }

        public static void Decorate(IServiceCollection services, AnswerReadBarrier barrier) =>
            ForwardingModelRegistry.Decorate(services, inner => new Registry(inner, barrier));

        private sealed class Registry(IModelRegistry inner, AnswerReadBarrier barrier) : ForwardingModelRegistry(inner)
        {
            public override async ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken)
            {
                await barrier.PassAsync();
                var answer = await Inner.GetAnswerAsync(id, key, cancellationToken);
                barrier.Read();
                return answer;
            }

            public override async ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken)
            {
                await barrier.PassAsync();
                var answer = await Inner.ReserveAnswerAsync(id, key, reservation, cancellationToken);
                barrier.Read();
                return answer;
            }

            public override async ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken)
            {
                await barrier.AllReadAsync();
                await Inner.SaveAnswerAsync(id, key, answer, cancellationToken);
            }
        }
    }
}
