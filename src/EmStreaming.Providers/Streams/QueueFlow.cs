namespace EmStreaming.Providers.Streams;

/// <summary>
/// Producer flow control of one queue: a slot per unconsumed batch (producers wait when none is free, up to a timeout).
/// </summary>
/// <remarks>
/// Positions are dense (every committed append takes the next integer), so acknowledging position P frees exactly the slots of
/// the positions between the last acknowledgement and P. Entries already in the log when it opened never took a slot.
/// </remarks>
internal sealed class QueueFlow(string provider, int queue, int capacity, long positionAtOpen)
{
    private readonly SemaphoreSlim _slots = new(capacity);
    private readonly object _lock = new();
    private long _acknowledged = positionAtOpen;

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
            throw new LogBackpressureException(provider, queue, capacity, timeout);
        }
    }

    /// <summary>False while every slot is taken: producers then wait for an acknowledgement, not the other way round.</summary>
    public bool HasRoom => _slots.CurrentCount > 0;

    /// <summary>Gives back a slot whose append failed before taking a position.</summary>
    public void ReleaseUnused() => _slots.Release();

    /// <summary>Entries up to <paramref name="position"/> were consumed: their slots are free again.</summary>
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
}
