using System.Globalization;
using EmStreaming.Grains;
using EmStreaming.Numerics;
using EmStreaming.Server.Hosting;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Demo;

/// <summary>
/// The <c>--demo</c> feeds: a dozen simulated sensors (GMM, d = 2..3) and two simulated markets (HMM, calm and
/// volatile regimes), appended through <see cref="IModelService"/> at a modest rate on the injected
/// <see cref="TimeProvider"/>. Models are defined on start (an unchanged definition keeps its learned state across
/// restarts) and defined again if someone deletes them. A fresh model first gets a burst of simulated history
/// (<see cref="DemoOptions.HistoryRows"/>, from the same seeded simulator, through the same append path as live
/// rows) so its parameters show within seconds; then the live feed continues. A failing append is logged and the
/// feed goes on.
/// </summary>
internal sealed class DemoFeedService(
    IModelService models,
    TimeProvider time,
    IOptions<DemoOptions> options,
    ILogger<DemoFeedService> logger) : BackgroundService
{
    /// <summary>Rows per append while seeding history: large enough to be quick, small enough to interleave the models.</summary>
    internal const int HistoryBatchRows = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var feeds = CreateFeeds(options.Value);
        foreach (var feed in feeds)
        {
            await DefineAsync(feed, stoppingToken).ConfigureAwait(false);
        }

        await SeedHistoryAsync(feeds, stoppingToken).ConfigureAwait(false);
        logger.LogInformation("Demo feeds started: {Count} models under '{Prefix}'", feeds.Count, options.Value.ModelPrefix);
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var feed in feeds)
                {
                    await AppendAsync(feed, feed.RowsPerTick, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The demo's models and their simulators, in a fixed order (same seed, same feed).</summary>
    internal static List<DemoFeed> CreateFeeds(DemoOptions options)
    {
        var feeds = new List<DemoFeed>();
        for (var i = 0; i < options.Sensors; i++)
        {
            var dimension = i % 3 == 2 ? 3 : 2;
            var simulator = new SensorSimulator(dimension, modes: 3, seed: options.Seed + i);
            var id = options.ModelPrefix + "sensor-" + (i + 1).ToString("D2", CultureInfo.InvariantCulture);
            var definition = new ModelDefinition
            {
                Kind = ModelKind.Gmm,
                Dimension = dimension,
                Components = 3,
                // A short memory (about 30 s of the live feed) so the ellipses visibly follow a drifting mode.
                HalfLife = 1_000,
                BatchSize = 32,
                Refit = new RefitPolicy { EveryObservations = 20_000, Every = TimeSpan.FromMinutes(1), Window = 2_000, Restarts = 1 },
                Snapshots = new SnapshotPolicy { EveryObservations = 5_000, Every = TimeSpan.FromSeconds(20), Retain = 50 },
                AnomalyThreshold = dimension * 6.0,
                Seed = (ulong)(options.Seed + i),
            };
            feeds.Add(new DemoFeed(id, definition, options.SensorRowsPerTick, simulator.Next));
        }

        for (var i = 0; i < 2; i++)
        {
            var dimension = i + 1;
            var simulator = new MarketSimulator(dimension, seed: options.Seed + 1_000 + i);
            var id = options.ModelPrefix + "market-" + (i == 0 ? "north" : "south");
            var definition = new ModelDefinition
            {
                Kind = ModelKind.Hmm,
                Dimension = dimension,
                Components = 2,
                HalfLife = 4_000,
                BatchSize = 16,
                Refit = new RefitPolicy { EveryObservations = 10_000, Every = TimeSpan.FromMinutes(1), Window = 3_000, Restarts = 1 },
                Snapshots = new SnapshotPolicy { EveryObservations = 5_000, Every = TimeSpan.FromSeconds(20), Retain = 50 },
                // Returns have no natural unit for a log-density threshold: flag a move the regimes make rarer than 1 in 10,000.
                AnomalyTailProbability = 1e-4,
                // The regime shown and announced changes once another is 80 % likely, not at every row that tips the filter past
                // one half: about as often as the market switches (docs/models-stay-right.md §15).
                RegimeConfidence = Numerics.Hmm.RegimeTracking.Recommended,
                Seed = (ulong)(options.Seed + 1_000 + i),
            };
            feeds.Add(new DemoFeed(id, definition, options.MarketRowsPerTick, simulator.Next));
        }

        return feeds;
    }

    /// <summary>
    /// Appends <see cref="DemoOptions.HistoryRows"/> simulated rows to every model that holds fewer, in bursts of
    /// <see cref="HistoryBatchRows"/> taken in turn across the models, so all of them warm up at about the same time.
    /// </summary>
    internal async Task SeedHistoryAsync(List<DemoFeed> feeds, CancellationToken cancellationToken)
    {
        var target = options.Value.HistoryRows;
        if (target == 0)
        {
            return;
        }

        var remaining = new int[feeds.Count];
        for (var f = 0; f < feeds.Count; f++)
        {
            remaining[f] = await RowsMissingAsync(feeds[f], target, cancellationToken).ConfigureAwait(false);
        }

        var seeded = 0L;
        var started = time.GetTimestamp();
        while (remaining.Any(r => r > 0))
        {
            for (var f = 0; f < feeds.Count; f++)
            {
                var rows = Math.Min(remaining[f], HistoryBatchRows);
                if (rows == 0)
                {
                    continue;
                }

                // A burst the silo cannot take (backpressure, a failure) ends this model's history: the live feed warms it up.
                if (await AppendAsync(feeds[f], rows, cancellationToken).ConfigureAwait(false))
                {
                    remaining[f] -= rows;
                    seeded += rows;
                }
                else
                {
                    remaining[f] = 0;
                }
            }
        }

        if (seeded > 0)
        {
            logger.LogInformation("Demo: seeded {Rows} rows of simulated history in {Elapsed:0.0} s", seeded, time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task<int> RowsMissingAsync(DemoFeed feed, int target, CancellationToken cancellationToken)
    {
        try
        {
            var status = (await models.GetModelAsync(feed.Id, cancellationToken).ConfigureAwait(false)).Status;
            return (int)Math.Max(0, target - status.Observations - status.PendingObservations);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Demo: reading {Model} failed; it gets no simulated history", feed.Id);
            return 0;
        }
    }

    private async Task DefineAsync(DemoFeed feed, CancellationToken cancellationToken)
    {
        try
        {
            await models.PutModelAsync(feed.Id, feed.Definition, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Demo: defining {Model} failed; will retry on its next append", feed.Id);
        }
    }

    /// <summary>Appends the next <paramref name="rows"/> simulated rows; false when they were not accepted.</summary>
    private async Task<bool> AppendAsync(DemoFeed feed, int rows, CancellationToken cancellationToken)
    {
        var d = feed.Definition.Dimension;
        var values = new double[rows * d];
        feed.Generate(values, rows);
        try
        {
            await models.AppendAsync(feed.Id, new DataMatrix(values, rows, d), null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ModelNotFoundException)
        {
            await DefineAsync(feed, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Backpressure: the silo is behind. Dropping a demo tick is the right answer; the next one comes soon.
            logger.LogDebug("Demo: {Model} is behind; skipped a tick", feed.Id);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Demo: appending to {Model} failed", feed.Id);
        }

        return false;
    }
}

/// <summary>One demo model: its id, definition, rows per tick and the simulator writing them.</summary>
internal sealed record DemoFeed(string Id, ModelDefinition Definition, int RowsPerTick, DemoFeed.Generator Generate)
{
    public delegate void Generator(Span<double> destination, int rows);
}
