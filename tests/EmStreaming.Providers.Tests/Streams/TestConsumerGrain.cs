using System.Collections.Concurrent;
using EmStreaming.Providers.Streams;
using Orleans.Runtime;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace EmStreaming.Providers.Tests.Streams;

/// <summary>Any Orleans-serializable event type travels through the provider; this one is ours.</summary>
[GenerateSerializer, Immutable, Alias("providers-tests.test-event")]
public sealed record TestEvent([property: Id(0)] int Value);

public static class TestStreams
{
    public const string Namespace = "test-models";
}

public interface ITestConsumerGrain : IGrainWithStringKey
{
    /// <summary>Reports the last applied event's token to <see cref="IStreamPersistenceTracker"/>, as a grain does after a state write.</summary>
    Task<long> PersistAsync();
}

/// <summary>What the consumers of one silo received, in order, per stream key; and a gate that can hold consumption.</summary>
public sealed class DeliveryRecorder
{
    private readonly ConcurrentDictionary<string, List<(int Value, long Position)>> _received = new(StringComparer.Ordinal);
    private volatile TaskCompletionSource? _gate;
    private readonly ConcurrentDictionary<string, TimeSpan> _slow = new(StringComparer.Ordinal);

    public int Total => _received.Values.Sum(list => { lock (list) { return list.Count; } });

    public IReadOnlyList<int> Values(string key)
    {
        if (!_received.TryGetValue(key, out var list))
        {
            return [];
        }

        lock (list)
        {
            return list.ConvertAll(e => e.Value);
        }
    }

    public IReadOnlyList<long> Positions(string key)
    {
        if (!_received.TryGetValue(key, out var list))
        {
            return [];
        }

        lock (list)
        {
            return list.ConvertAll(e => e.Position);
        }
    }

    /// <summary>Makes the consumer of <paramref name="key"/> take <paramref name="delay"/> per event.</summary>
    public void Slow(string key, TimeSpan delay) => _slow[key] = delay;

    internal TimeSpan DelayOf(string key) => _slow.TryGetValue(key, out var delay) ? delay : TimeSpan.Zero;

    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate?.TrySetResult();

    internal Task WaitGateAsync() => _gate?.Task ?? Task.CompletedTask;

    internal void Record(string key, int value, long position)
    {
        var list = _received.GetOrAdd(key, _ => []);
        lock (list)
        {
            list.Add((value, position));
        }
    }
}

[ImplicitStreamSubscription(TestStreams.Namespace)]
public sealed class TestConsumerGrain(DeliveryRecorder recorder, IStreamPersistenceTracker persistence)
    : Grain, ITestConsumerGrain, IStreamSubscriptionObserver, IAsyncObserver<TestEvent>
{
    private StreamSequenceToken? _last;

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) => handleFactory.Create<TestEvent>().ResumeAsync(this);

    public async Task OnNextAsync(TestEvent item, StreamSequenceToken? token = null)
    {
        await recorder.WaitGateAsync();
        if (recorder.DelayOf(this.GetPrimaryKeyString()) is { } delay && delay > TimeSpan.Zero)
        {
            await Task.Delay(delay);
        }

        recorder.Record(this.GetPrimaryKeyString(), item.Value, token?.SequenceNumber ?? -1);
        _last = token;
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;

    public Task<long> PersistAsync()
    {
        if (_last is null)
        {
            return Task.FromResult(-1L);
        }

        persistence.Persisted(StreamId.Create(TestStreams.Namespace, this.GetPrimaryKeyString()), _last);
        return Task.FromResult(_last.SequenceNumber);
    }
}
