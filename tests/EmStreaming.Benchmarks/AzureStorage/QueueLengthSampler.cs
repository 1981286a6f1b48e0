using Azure.Storage.Queues;

namespace EmStreaming.Benchmarks.AzureStorage;

/// <summary>
/// Samples, once a second, how many messages some queues hold in all (visible and in flight: Azure's approximate count
/// includes messages read and not yet deleted). Azurite's queue operations cost more the more messages its account
/// holds (every dequeue and delete re-sorts its message indexes), so the ceiling and the cluster are compared at the
/// lengths they ran with.
/// </summary>
internal sealed class QueueLengthSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<long> _samples = [];
    private readonly Task _loop;

    public QueueLengthSampler(Func<CancellationToken, Task<IReadOnlyList<QueueClient>>> queues)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    long total = 0;
                    foreach (var queue in await queues(_stop.Token).ConfigureAwait(false))
                    {
                        total += (await queue.GetPropertiesAsync(_stop.Token).ConfigureAwait(false)).Value.ApproximateMessagesCount;
                    }

                    lock (_samples)
                    {
                        _samples.Add(total);
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        });
    }

    /// <summary>Stops sampling; "mean M, max X messages held (N samples; first F, last L)": a rising count is a backlog building.</summary>
    public async Task<string> StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        lock (_samples)
        {
            return _samples.Count == 0 ? "no samples" : $"mean {_samples.Average():N0}, max {_samples.Max():N0} messages held ({_samples.Count} samples; first {_samples[0]:N0}, last {_samples[^1]:N0})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
