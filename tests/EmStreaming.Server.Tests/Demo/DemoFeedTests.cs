using EmStreaming.Grains;
using EmStreaming.Numerics;
using EmStreaming.Server.Demo;
using EmStreaming.Server.Hosting;
using EmStreaming.Server.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Tests.Demo;

public sealed class DemoFeedTests
{
    [Fact]
    public void CreateFeeds_Defaults_TwelveSensorsAndTwoMarketsWithValidIds()
    {
        var feeds = DemoFeedService.CreateFeeds(new DemoOptions());
        Assert.Equal(12, feeds.Count(f => f.Definition.Kind == ModelKind.Gmm));
        Assert.Equal(2, feeds.Count(f => f.Definition.Kind == ModelKind.Hmm));
        Assert.All(feeds.Where(f => f.Definition.Kind == ModelKind.Gmm), f => Assert.InRange(f.Definition.Dimension, 2, 3));
        Assert.All(feeds.Where(f => f.Definition.Kind == ModelKind.Hmm), f => Assert.InRange(f.Definition.Dimension, 1, 2));
        Assert.All(feeds, f => Assert.Null(EmStreaming.Server.Api.ModelIds.Validate(f.Id)));
        Assert.Equal(feeds.Count, feeds.Select(f => f.Id).Distinct().Count());
    }

    [Fact]
    public void SensorSimulator_SameSeed_SameReadings()
    {
        var a = new double[300];
        var b = new double[300];
        new SensorSimulator(3, 3, seed: 5).Next(a, 100);
        new SensorSimulator(3, 3, seed: 5).Next(b, 100);
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void SensorSimulator_LongRun_VisitsSeveralModes()
    {
        var sensor = new SensorSimulator(2, 3, seed: 11);
        var modes = new HashSet<int>();
        var buffer = new double[2];
        for (var i = 0; i < 2_000; i++)
        {
            sensor.Next(buffer, 1);
            modes.Add(sensor.Mode);
        }

        Assert.Equal(3, modes.Count);
    }

    [Fact]
    public void MarketSimulator_LongRun_VolatileRegimeHasLargerSpread()
    {
        var market = new MarketSimulator(2, seed: 3);
        var calm = new List<double>();
        var wild = new List<double>();
        var row = new double[2];
        for (var i = 0; i < 20_000; i++)
        {
            market.Next(row, 1);
            (market.Volatile ? wild : calm).Add(row[0]);
        }

        static double Sd(List<double> x)
        {
            var mean = x.Average();
            return Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Count - 1));
        }

        // Stationary share of the volatile regime is 0.01 / (0.01 + 0.03) = 25 %; the true spreads are 0.4 and 2.2.
        Assert.InRange(wild.Count / 20_000.0, 0.15, 0.35);
        Assert.InRange(Sd(calm), 0.35, 0.45);
        Assert.InRange(Sd(wild), 1.9, 2.5);
    }

    private static (DemoFeedService Service, List<DemoFeed> Feeds) Seeder(FakeModelService models, DemoOptions options) =>
        (new DemoFeedService(models, TimeProvider.System, Options.Create(options), NullLogger<DemoFeedService>.Instance), DemoFeedService.CreateFeeds(options));

    [Fact]
    public async Task SeedHistory_FreshModels_EachGetsHistoryRowsThroughTheService()
    {
        var models = new FakeModelService();
        var options = new DemoOptions { Sensors = 3, HistoryRows = 1_200 };
        var (service, feeds) = Seeder(models, options);
        foreach (var feed in feeds)
        {
            await models.PutModelAsync(feed.Id, feed.Definition);
        }

        await service.SeedHistoryAsync(feeds, CancellationToken.None);

        foreach (var feed in feeds)
        {
            Assert.Equal(1_200, (await models.GetModelAsync(feed.Id)).Status.Observations);
        }

        // 1,200 rows in bursts of 500, taken in turn: three appends per model.
        Assert.Equal(3 * feeds.Count, models.AppendCalls);
    }

    [Fact]
    public async Task SeedHistory_ModelAlreadyHoldingRows_GetsOnlyTheMissingOnes()
    {
        var models = new FakeModelService();
        var options = new DemoOptions { Sensors = 1, HistoryRows = 800 };
        var (service, feeds) = Seeder(models, options);
        foreach (var feed in feeds)
        {
            await models.PutModelAsync(feed.Id, feed.Definition);
        }

        var sensor = feeds[0];
        await models.AppendAsync(sensor.Id, new DataMatrix(new double[300 * sensor.Definition.Dimension], 300, sensor.Definition.Dimension));
        await service.SeedHistoryAsync(feeds, CancellationToken.None);
        Assert.Equal(800, (await models.GetModelAsync(sensor.Id)).Status.Observations);

        // A restart on the same data: every model already holds its history, nothing more is appended.
        var calls = models.AppendCalls;
        await service.SeedHistoryAsync(feeds, CancellationToken.None);
        Assert.Equal(calls, models.AppendCalls);
        foreach (var feed in feeds)
        {
            Assert.Equal(800, (await models.GetModelAsync(feed.Id)).Status.Observations);
        }
    }

    [Fact]
    public async Task SeedHistory_Zero_AppendsNothing()
    {
        var models = new FakeModelService();
        var (service, feeds) = Seeder(models, new DemoOptions { Sensors = 2, HistoryRows = 0 });
        await service.SeedHistoryAsync(feeds, CancellationToken.None);
        Assert.Equal(0, models.AppendCalls);
    }
}
