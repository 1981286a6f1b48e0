namespace EmStreaming.Runtime.Streams;

/// <summary>
/// Per-partition flow control shared by the log implementations: a slot per undelivered batch (producers wait when none is free)
/// and a signal that wakes the partition's reader when new entries commit.
/// </summary>
/// <remarks>
/// Positions are dense (every committed append takes the next integer), so acknowledging position P frees exactly the slots of
/// the positions between the last acknowledgement and P. Entries that were already in the log when it opened never took a slot.
/// </remarks>
internal sealed class PartitionFlow
{
    private readonly SemaphoreSlim _slots;
    private readonly object _lock = new();
    private readonly int _partition;
    private readonly int _capacity;
    private long _acknowledged;
    private TaskCompletionSource _signal = NewSignal();

    public PartitionFlow(int partition, int capacity, long positionAtOpen)
    {
        _partition = partition;
        _capacity = capacity;
        _slots = new SemaphoreSlim(capacity);
        _acknowledged = positionAtOpen;
    }

    public async ValueTask ReserveAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None))
        {
            return;
        }

        using var timeoutSource = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutSource.Token, cancellationToken);
        try
        {
            await _slots.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new BackpressureTimeoutException($"stream partition {_partition}", _capacity, timeout, "StreamOptions.AppendTimeout or StreamOptions.PartitionCapacity");
        }
    }

    /// <summary>Gives back a slot whose append failed before taking a position.</summary>
    public void ReleaseUnused() => _slots.Release();

    public void Acknowledge(long position)
    {
        int freed;
        lock (_lock)
        {
            if (position <= _acknowledged)
            {
                return;
            }

            freed = (int)(position - _acknowledged);
            _acknowledged = position;
        }

        _slots.Release(freed);
    }

    /// <summary>A task that completes at the next <see cref="Signal"/>. Take it before checking for data, to never miss a wake-up.</summary>
    public Task WaitSignalAsync() => Volatile.Read(ref _signal).Task;

    public void Signal() => Interlocked.Exchange(ref _signal, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
