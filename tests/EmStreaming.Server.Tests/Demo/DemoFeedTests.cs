using EmStreaming.Grains;
using EmStreaming.Server.Demo;
using EmStreaming.Server.Hosting;

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
}
