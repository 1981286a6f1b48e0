using EmStreaming.Runtime.Grains;

namespace EmStreaming.Runtime.Catalog;

/// <summary>
/// A timer whose tick is a turn. The underlying ITimer is one-shot; it is re-armed only when the tick's turn has finished,
/// which is what makes ticks non-overlapping even when a tick takes longer than the period.
/// </summary>
internal sealed class GrainTimer : IGrainTimer
{
    private readonly ActivationData _activation;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    private TimeSpan _period;
    private bool _disposed;

    public GrainTimer(ActivationData activation, TimeProvider timeProvider, Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        _activation = activation;
        Callback = callback;
        _period = period;
        _timer = timeProvider.CreateTimer(static state => ((GrainTimer)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
    }

    public Func<CancellationToken, Task> Callback { get; }

    public bool IsDisposed
    {
        get
        {
            lock (_lock)
            {
                return _disposed;
            }
        }
    }

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _period = period;
            _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Called after the tick's turn: arm the next tick.</summary>
    public void OnTickCompleted()
    {
        lock (_lock)
        {
            if (!_disposed && _period != Timeout.InfiniteTimeSpan)
            {
                _timer.Change(_period, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer.Dispose();
        }

        _activation.RemoveTimer(this);
    }

    private void Fire()
    {
        if (!IsDisposed)
        {
            _activation.EnqueueInternal(new TimerWork(this));
        }
    }
}
