using EmStreaming.Runtime.Streams;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Catalog;

internal sealed partial class Silo
{
    /// <summary>
    /// The pulling agent of one partition: reads the log in position order from the committed checkpoint (replaying what was not yet
    /// persisted) and hands each item to the mailbox of every grain implicitly subscribed to its namespace. Waiting for mailbox room is
    /// what propagates backpressure from slow grains to the partition, and from there to producers.
    /// </summary>
    private async Task RunAgentAsync(int partition, PartitionTracker tracker, CancellationToken cancellationToken)
    {
        var cursor = tracker.Committed;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var items = await _log.ReadAsync(partition, cursor, StreamOptions.DeliveryBatchSize, cancellationToken).ConfigureAwait(false);
                foreach (var item in items)
                {
                    await DeliverAsync(item, tracker, cancellationToken).ConfigureAwait(false);
                    cursor = item.Position;
                    tracker.OnDelivered(cursor);
                    _log.Acknowledge(partition, cursor);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The agent never dies: log, back off, retry from the last delivered position.
                _logger.LogError(ex, "Pulling agent of partition {Partition} failed after position {Position}; retrying", partition, cursor);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task DeliverAsync(StreamItem item, PartitionTracker tracker, CancellationToken cancellationToken)
    {
        if (!_subscriptions.TryGetValue(item.Stream.Namespace, out var grainTypes))
        {
            lock (_unsubscribedWarned)
            {
                if (_unsubscribedWarned.Add(item.Stream.Namespace))
                {
                    _logger.LogWarning("Stream namespace {Namespace} has no implicit subscription; its items are skipped", item.Stream.Namespace);
                }
            }

            return;
        }

        foreach (var grainType in grainTypes)
        {
            tracker.OnDelivering(grainType, item.Stream, item.Position);
            await SendAsync(new GrainId(grainType, item.Stream.Key), new StreamWork(item), timeout: null, cancellationToken).ConfigureAwait(false);
            Counters.Delivered();
        }
    }
}
