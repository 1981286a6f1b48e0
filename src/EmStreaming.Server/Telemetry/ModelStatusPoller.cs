using EmStreaming.Grains;
using EmStreaming.Server.Hosting;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Telemetry;

/// <summary>
/// Feeds the gauges: reads every model's status at <c>Server:StatusPollInterval</c> while something reads the gauges, and
/// counts the events of all models by type. Failures are logged and retried at the next tick; this service never stops
/// the server.
/// </summary>
/// <remarks>
/// Asking a model for its status is a call to its grain: it activates the model, and Orleans counts it as activity, so an
/// active model asked at every tick is never idle-collected. Polled every 10 s whether or not anyone read the gauges, every
/// model of the data file was activated within 10 s of a start and kept in memory for good: an idle server with 2,000
/// models took 6–7 % of a core (docs/benchmarks.md, "Idle"). Now a tick runs only when a gauge was read since the tick
/// before, and it calls no grain (<see cref="IModelService.CensusAsync"/>): the registry's ids, and the status the models
/// active on this silo last published. A model not active counts with its refits and failure as last seen here (they
/// change only while it is active); one not seen active since the start counts in <c>emstreaming.models</c> alone.
/// </remarks>
internal sealed class ModelStatusPoller(
    IModelService models,
    ServerMetrics metrics,
    TimeProvider time,
    IOptions<ServerOptions> options,
    ILogger<ModelStatusPoller> logger) : BackgroundService
{
    // Refits and failure of every model seen active since the start, by id (only the poller's loop touches it).
    private readonly Dictionary<string, (long Refits, bool Failed)> _lastSeen = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var events = CountEventsAsync(stoppingToken);
        using var timer = new PeriodicTimer(options.Value.StatusPollInterval, time);
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false))
        {
            if (!metrics.TakeObserved())
            {
                continue;
            }

            try
            {
                metrics.Publish(await SummarizeAsync(stoppingToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Reading model statuses for the metrics failed; retrying in {Interval}", options.Value.StatusPollInterval);
            }
        }

        await events.ConfigureAwait(false);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<ModelStatusSummary> SummarizeAsync(CancellationToken cancellationToken)
    {
        var census = await models.CensusAsync(cancellationToken).ConfigureAwait(false);
        long pending = 0;
        var oldest = 0.0;
        var now = time.GetUtcNow();
        foreach (var model in census.Active)
        {
            _lastSeen[model.Id] = (model.Status.Refits, model.Status.Failure is not null);
            pending += model.Status.PendingObservations;
            if (model.Status.LastSnapshotAt is { } at && model.Status.Active)
            {
                oldest = Math.Max(oldest, (now - at).TotalSeconds);
            }
        }

        // A model that is not active now counts as last seen: its refits and failure change only while it is active.
        // Deleted models leave the counts.
        var known = census.Known.ToHashSet(StringComparer.Ordinal);
        foreach (var id in _lastSeen.Keys.Where(id => !known.Contains(id)).ToList())
        {
            _lastSeen.Remove(id);
        }

        long refits = 0, failed = 0;
        foreach (var (modelRefits, modelFailed) in _lastSeen.Values)
        {
            refits += modelRefits;
            failed += modelFailed ? 1 : 0;
        }

        return new ModelStatusSummary(census.Known.Count, pending, oldest, refits, failed);
    }

    private async Task CountEventsAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var e in models.SubscribeAsync(null, cancellationToken).ConfigureAwait(false))
                {
                    metrics.EventSeen(Api.Names.Of(e.Type));
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "The event subscription for the metrics ended; resubscribing");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
