namespace EmStreaming.Providers.Streams;

/// <summary>
/// One bell per queue, rung when entries are committed to it, so that a receiver finding its queue empty can wait for the
/// next append instead of polling. A waiter takes the current bell, checks the queue, then waits: an append committed in
/// between rings the bell it holds, so no wake-up is lost.
/// </summary>
internal sealed class AppendBells
{
    private readonly TaskCompletionSource[] _bells;

    public AppendBells(int queues)
    {
        _bells = new TaskCompletionSource[queues];
        for (var i = 0; i < queues; i++)
        {
            _bells[i] = NewBell();
        }
    }

    /// <summary>The bell the next commit to <paramref name="queue"/> rings.</summary>
    public Task Current(int queue) => Volatile.Read(ref _bells[queue]).Task;

    /// <summary>Entries were committed to <paramref name="queue"/>: wakes its waiters (on the thread pool, never on the caller).</summary>
    public void Ring(int queue) => Interlocked.Exchange(ref _bells[queue], NewBell()).TrySetResult();

    /// <summary>
    /// Waits for <paramref name="bell"/> up to <paramref name="timeout"/> of real time (the wait saves polls; it has no meaning a
    /// test clock should control); false on the timeout or a cancellation.
    /// </summary>
    public static async Task<bool> WaitAsync(Task bell, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
        {
            return bell.IsCompleted;
        }

        try
        {
            await bell.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static TaskCompletionSource NewBell() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
