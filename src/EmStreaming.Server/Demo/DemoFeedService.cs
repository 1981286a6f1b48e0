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
/// restarts) and defined again if someone deletes them. A failing append is logged and the feed goes on.
/// </summary>
internal sealed class DemoFeedService(
    IModelService models,
    TimeProvider time,
    IOptions<DemoOptions> options,
    ILogger<DemoFeedService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var feeds = CreateFeeds(options.Value);
        foreach (var feed in feeds)
        {
            await DefineAsync(feed, stoppingToken).ConfigureAwait(false);
        }

        logger.LogInformation("Demo feeds started: {Count} models under '{Prefix}'", feeds.Count, options.Value.ModelPrefix);
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var feed in feeds)
                {
                    await AppendAsync(feed, stoppingToken).ConfigureAwait(false);
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
                HalfLife = 2_000,
                BatchSize = 32,
                Refit = new RefitPolicy { EveryObservations = 20_000, Every = TimeSpan.FromMinutes(2), Window = 2_000, Restarts = 1 },
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
                Seed = (ulong)(options.Seed + 1_000 + i),
            };
            feeds.Add(new DemoFeed(id, definition, options.MarketRowsPerTick, simulator.Next));
        }

        return feeds;
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

    private async Task AppendAsync(DemoFeed feed, CancellationToken cancellationToken)
    {
        var d = feed.Definition.Dimension;
        var values = new double[feed.RowsPerTick * d];
        feed.Generate(values, feed.RowsPerTick);
        try
        {
            await models.AppendAsync(feed.Id, new DataMatrix(values, feed.RowsPerTick, d), null, cancellationToken).ConfigureAwait(false);
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
    }
}

/// <summary>One demo model: its id, definition, rows per tick and the simulator writing them.</summary>
internal sealed record DemoFeed(string Id, ModelDefinition Definition, int RowsPerTick, DemoFeed.Generator Generate)
{
    public delegate void Generator(Span<double> destination, int rows);
}
