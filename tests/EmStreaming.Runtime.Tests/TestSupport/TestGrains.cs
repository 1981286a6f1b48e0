using System.Buffers.Binary;
using System.Collections.Concurrent;
using EmStreaming.Runtime.Grains;
using EmStreaming.Runtime.Streams;

namespace EmStreaming.Runtime.Tests.TestSupport;

/// <summary>What a <see cref="CounterGrain"/> publishes: an order-sensitive fold of every value applied.</summary>
public sealed record CounterView(long Count, long Sum, long Hash, long LastValue, long OutOfOrder);

public sealed record ClearState;

/// <summary>
/// Counts and sums 8-byte values from its stream, persisting every <see cref="SnapshotEvery"/> items and on deactivation.
/// The hash chain is order sensitive, so a duplicate, a loss or a reordering changes it. A negative value makes the turn fail.
/// </summary>
internal sealed class CounterGrain : Grain
{
    public const int SnapshotEvery = 5;
    public const long InitialHash = 17;

    private CounterView _state = new(0, 0, InitialHash, 0, 0);

    public static CounterView Fold(CounterView state, long value) => new(
        state.Count + 1, state.Sum + value, unchecked((state.Hash * 31) + value), value,
        state.OutOfOrder + (value == state.LastValue + 1 ? 0 : 1));

    public static byte[] Encode(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    protected override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var snapshot = await ReadSnapshotAsync(cancellationToken);
        if (snapshot is not null)
        {
            var s = snapshot.Data.Span;
            _state = new CounterView(
                BinaryPrimitives.ReadInt64LittleEndian(s), BinaryPrimitives.ReadInt64LittleEndian(s[8..]), BinaryPrimitives.ReadInt64LittleEndian(s[16..]),
                BinaryPrimitives.ReadInt64LittleEndian(s[24..]), BinaryPrimitives.ReadInt64LittleEndian(s[32..]));
        }

        PublishView(_state);
    }

    protected override async Task OnStreamItemAsync(StreamItem item, CancellationToken cancellationToken)
    {
        var value = BinaryPrimitives.ReadInt64LittleEndian(item.Payload.Span);
        if (value < 0)
        {
            throw new InvalidOperationException($"negative value {value}");
        }

        // Compute, then swap: a failure above leaves the previous state.
        var next = Fold(_state, value);
        _state = next;
        if (next.Count % SnapshotEvery == 0)
        {
            await WriteSnapshotAsync(Serialize(next), tag: $"count={next.Count}", cancellationToken: cancellationToken);
        }

        PublishView(next);
    }

    protected override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        await WriteSnapshotAsync(Serialize(_state), cancellationToken: cancellationToken);

    protected override async ValueTask<object?> ReceiveAsync(object message, CancellationToken cancellationToken)
    {
        if (message is not ClearState)
        {
            return await base.ReceiveAsync(message, cancellationToken);
        }

        await ClearSnapshotsAsync(cancellationToken);
        _state = new CounterView(0, 0, InitialHash, _state.LastValue, 0);
        PublishView(_state);
        return null;
    }

    private static byte[] Serialize(CounterView state)
    {
        var bytes = new byte[40];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, state.Count);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), state.Sum);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), state.Hash);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(24), state.LastValue);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(32), state.OutOfOrder);
        return bytes;
    }
}

/// <summary>Shared between a test and its <see cref="ProbeGrain"/> activations: records what happened and lets the test hold turns.</summary>
public sealed class Probe
{
    private int _concurrent;
    private int _maxConcurrent;

    public ConcurrentQueue<string> Log { get; } = new();

    public int Activations;
    public int Deactivations;
    public int TimerTicks;
    public TaskCompletionSource TickGate { get; set; } = Completed();
    public Exception? ActivationFailure { get; set; }

    public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

    public void Enter()
    {
        var now = Interlocked.Increment(ref _concurrent);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxConcurrent)) && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
        {
        }
    }

    public void Exit() => Interlocked.Decrement(ref _concurrent);

    public static TaskCompletionSource Completed()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }
}

public sealed record ProbeView(int Value);

public sealed record Note(string Text);

public sealed record Hold(TaskCompletionSource Started, Task Release);

public sealed record SpendTime(FakeTimeProvider Clock, TimeSpan Duration);

public sealed record StartTimer(TimeSpan DueTime, TimeSpan Period);

public sealed record StartJob(Task<int> Work);

public sealed record Publish(int Value);

public sealed record SetThenFail(int Value);

public sealed record AskSelf;

public sealed record Get;

public sealed record DeactivateMe;

/// <summary>A scriptable grain: each message type exercises one runtime feature.</summary>
internal sealed class ProbeGrain(Probe probe) : Grain
{
    private int _value;

    protected override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref probe.Activations);
        if (probe.ActivationFailure is { } failure)
        {
            throw failure;
        }

        PublishView(new ProbeView(_value));
        return Task.CompletedTask;
    }

    protected override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref probe.Deactivations);
        probe.Log.Enqueue($"deactivate:{reason}");
        return Task.CompletedTask;
    }

    protected override async ValueTask<object?> ReceiveAsync(object message, CancellationToken cancellationToken)
    {
        probe.Enter();
        try
        {
            switch (message)
            {
                case Note note:
                    probe.Log.Enqueue(note.Text);
                    return null;
                case Hold hold:
                    hold.Started.TrySetResult();
                    await hold.Release;
                    probe.Log.Enqueue("released");
                    return null;
                case SpendTime spend:
                    spend.Clock.Advance(spend.Duration);
                    return null;
                case StartTimer timer:
                    RegisterGrainTimer(OnTickAsync, timer.DueTime, timer.Period);
                    return null;
                case StartJob job:
                    probe.Log.Enqueue("job-started");
                    StartBackgroundJob(_ => job.Work, (result, _) =>
                    {
                        probe.Log.Enqueue(result.Succeeded ? $"job-result:{result.Value}" : $"job-failed:{result.Exception?.Message}");
                        return Task.CompletedTask;
                    });
                    return null;
                case Publish publish:
                    _value = publish.Value;
                    PublishView(new ProbeView(_value));
                    return null;
                case SetThenFail fail:
                    var next = fail.Value; // computed...
                    throw new InvalidOperationException($"refusing {next}"); // ...but never swapped in
                case AskSelf:
                    return await Silo.AskAsync<int>(GrainId, new Get(), cancellationToken);
                case Get:
                    return _value;
                case DeactivateMe:
                    DeactivateOnIdle();
                    probe.Log.Enqueue("asked-to-deactivate");
                    return null;
                default:
                    return await base.ReceiveAsync(message, cancellationToken);
            }
        }
        finally
        {
            probe.Exit();
        }
    }

    private async Task OnTickAsync(CancellationToken cancellationToken)
    {
        probe.Enter();
        try
        {
            Interlocked.Increment(ref probe.TimerTicks);
            await probe.TickGate.Task;
        }
        finally
        {
            probe.Exit();
        }
    }
}
