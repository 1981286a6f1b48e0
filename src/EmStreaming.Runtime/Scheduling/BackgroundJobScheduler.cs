using EmStreaming.Runtime.Grains;

namespace EmStreaming.Runtime.Scheduling;

/// <summary>Runs grains' long work off their turns, at most <c>maxConcurrency</c> jobs at once; the rest queue on the semaphore.</summary>
internal sealed class BackgroundJobScheduler(int maxConcurrency)
{
    private readonly SemaphoreSlim _slots = new(maxConcurrency, maxConcurrency);
    private int _running;

    public int Running => Volatile.Read(ref _running);

    public async Task<BackgroundJobResult<TResult>> RunAsync<TResult>(Func<CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
    {
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return new BackgroundJobResult<TResult>(default, null, canceled: true);
        }

        Interlocked.Increment(ref _running);
        try
        {
            // Task.Run: the job must not run on (and so block) the caller's turn, even if it is synchronous.
            var value = await Task.Run(() => work(cancellationToken), cancellationToken).ConfigureAwait(false);
            return new BackgroundJobResult<TResult>(value, null, canceled: false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new BackgroundJobResult<TResult>(default, null, canceled: true);
        }
        catch (Exception ex)
        {
            return new BackgroundJobResult<TResult>(default, ex, canceled: false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }
}
