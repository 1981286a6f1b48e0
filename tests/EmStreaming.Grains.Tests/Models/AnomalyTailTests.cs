using EmStreaming.Grains.Models;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>
/// Live anomaly events by tail probability (<see cref="ModelDefinition.AnomalyTailProbability"/>): scale-free, so one setting
/// flags about the same share of a model's own rows whether the data are returns of 1e-4 or temperatures of 300, with
/// values missing or not; and a real outlier is flagged.
/// </summary>
public sealed class AnomalyTailTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const double Alpha = 1e-3;

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());

    /// <summary>Two correlated clusters in 2-D at <paramref name="scale"/>, entries missing with probability <paramref name="missing"/> (never both).</summary>
    private static double[] MixtureRows(int n, double scale, double missing, Random random)
    {
        var values = new double[n * 2];
        for (var i = 0; i < n; i++)
        {
            var first = random.NextDouble() < 0.7;
            var (u, v) = (Gaussian(random), Gaussian(random));
            var x = first ? 5 + u : -5 + (2 * u);
            var y = first ? 1 + (0.8 * u) + (0.6 * v) : 3 + (0.5 * v);
            values[2 * i] = scale * x;
            values[(2 * i) + 1] = scale * y;
            if (random.NextDouble() < missing)
            {
                values[(2 * i) + random.Next(2)] = double.NaN;
            }
        }

        return values;
    }

    private static ModelStreamRecord Obs(long sequence, double[] values, int columns) => new()
    {
        Kind = ModelRecordKind.Observations, ProducerId = "p", Sequence = sequence, Generation = 1, Timestamp = T0, Values = values, Columns = columns,
    };

    /// <summary>Feeds <paramref name="values"/> in records of <paramref name="recordRows"/> rows; returns the anomaly events of the rows after the first <paramref name="skipRows"/>.</summary>
    private static List<ModelEvent> Feed(ModelCore core, double[] values, int columns, int skipRows, int recordRows = 500)
    {
        var anomalies = new List<ModelEvent>();
        var rows = values.Length / columns;
        long sequence = 0;
        for (var start = 0; start < rows; start += recordRows)
        {
            var count = Math.Min(recordRows, rows - start);
            var (events, _) = core.Apply(Obs(++sequence, values[(start * columns)..((start + count) * columns)], columns), "m");
            anomalies.AddRange((events ?? []).Where(e => e.Type == ModelEventType.Anomaly && e.Observations > skipRows));
        }

        return anomalies;
    }

    [Theory]
    [InlineData(1e-4, 0.0, 500)]
    [InlineData(1.0, 0.0, 500)]
    [InlineData(300.0, 0.3, 500)]
    [InlineData(1e-4, 0.3, 50_000)] // one record: the warm-up ends inside it
    public void Gmm_OwnRowsInAnyUnit_AtMostAlphaFlagged_AndAnOutlierFlagged(double scale, double missing, int recordRows)
    {
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Gmm, Dimension = 2, Components = 2, Seed = 3, AnomalyTailProbability = Alpha,
        };
        var core = new ModelCore(definition, 1);
        var random = new Random(17);
        const int Learn = 10_000, Judge = 40_000;
        var values = MixtureRows(Learn + Judge, scale, missing, random);
        // Row Learn + 20,000: 9 standard deviations out along the first cluster's thin direction (inside its x range).
        var outlier = Learn + 20_000;
        (values[2 * outlier], values[(2 * outlier) + 1]) = (scale * 5, scale * (1 + (0.6 * 9)));
        var anomalies = Feed(core, values, 2, Learn, recordRows);

        Assert.Contains(anomalies, e => e.Observations == outlier + 1 && e.TailProbability < 1e-9);
        var own = anomalies.Count(e => e.Observations != outlier + 1);
        Assert.InRange(own, (int)(0.3 * Alpha * Judge), (int)(1.3 * Alpha * Judge));
        Assert.All(anomalies, e => Assert.True(e.TailProbability < Alpha));
        Assert.True(core.Anomalies >= anomalies.Count, "the status counts every event");
    }

    [Theory]
    [InlineData(1e-4, 500)]
    [InlineData(10.0, 500)]
    [InlineData(1e-4, 50_000)] // one record: the warm-up ends inside it, and the tails start there
    public void Hmm_OwnRowsInAnyUnit_AtMostAlphaFlagged_AndAMoveOutOfTheCalmRegimeFlagged(double scale, int recordRows)
    {
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Hmm, Dimension = 1, Components = 2, Covariance = CovarianceType.Diag, Seed = 3, AnomalyTailProbability = Alpha,
        };
        var core = new ModelCore(definition, 1);
        var random = new Random(5);
        const int Learn = 10_000, Judge = 40_000;
        var values = new double[Learn + Judge];
        var volatileRegime = false;
        var calmRun = 0;
        var jump = -1;
        for (var t = 0; t < values.Length; t++)
        {
            if (random.NextDouble() < 0.01)
            {
                volatileRegime = !volatileRegime;
            }

            calmRun = volatileRegime ? 0 : calmRun + 1;
            values[t] = scale * (volatileRegime ? 4 : 1) * Gaussian(random);
            if (jump < 0 && t > Learn + 20_000 && calmRun >= 50)
            {
                // 10 calm standard deviations, 50 rows into a calm stretch: 2.5 volatile ones, not rare in the volatile
                // regime, but a switch is (about 1 %): the tail is 3.2e-4. Weighting the states' tails by their posterior
                // instead gives 0.0115, not flagged.
                jump = t;
                values[t] = scale * 10;
            }
        }

        var anomalies = Feed(core, values, 1, Learn, recordRows);

        Assert.Contains(anomalies, e => e.Observations == jump + 1);
        var own = anomalies.Count(e => e.Observations != jump + 1);
        Assert.InRange(own, (int)(0.3 * Alpha * Judge), (int)(1.3 * Alpha * Judge));
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void BothSettings_ARowFlaggedByItsScore_ItsEventReportsTheWholeTail(ModelKind kind)
    {
        // The tail's sum stops once it passes the tail threshold; a row the score threshold flags must still report its
        // whole tail, the same as under a tail threshold the sum never passes (learning does not depend on either setting).
        var definition = new ModelDefinition
        {
            Kind = kind, Dimension = 2, Components = 2, Seed = 3, AnomalyThreshold = kind == ModelKind.Gmm ? 4.5 : 5.5,
            Covariance = kind == ModelKind.Hmm ? CovarianceType.Diag : CovarianceType.Full,
        };
        var values = MixtureRows(20_000, 1, 0, new Random(6));
        var stopping = Feed(new ModelCore(definition with { AnomalyTailProbability = 1e-9 }, 1), values, 2, 0);
        var whole = Feed(new ModelCore(definition with { AnomalyTailProbability = 1 - 1e-12 }, 1), values, 2, 0).ToDictionary(e => e.Observations);

        var byScore = stopping.Where(e => e.TailProbability >= 1e-9).ToList();
        Assert.True(byScore.Count > 20, $"rows flagged by their score alone: {byScore.Count}");
        Assert.All(byScore, e => Assert.Equal(whole[e.Observations].TailProbability!.Value, e.TailProbability!.Value, 1e-12));
    }

    [Fact]
    public void Gmm_NoTailSetting_NoTailInEvents_TheScoreThresholdAloneFlags()
    {
        var definition = new ModelDefinition { Kind = ModelKind.Gmm, Dimension = 2, Components = 2, Seed = 3, AnomalyThreshold = 12 };
        var core = new ModelCore(definition, 1);
        var anomalies = Feed(core, MixtureRows(20_000, 1, 0, new Random(2)), 2, 0);
        Assert.NotEmpty(anomalies);
        Assert.All(anomalies, e => Assert.True(e.TailProbability is null && e.Score > 12));
    }
}
