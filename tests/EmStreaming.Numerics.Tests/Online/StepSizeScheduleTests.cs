using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

public sealed class StepSizeScheduleTests
{
    [Fact]
    public void StepAt_Decaying_IsPowerOfShiftedIndex()
    {
        var s = StepSizeSchedule.Decaying(alpha: 0.7, offset: 3);
        Assert.Equal(Math.Pow(13, -0.7), s.StepAt(10), 1e-15);
    }

    [Fact]
    public void StepAt_Floor_NeverBelowFloor()
    {
        var s = StepSizeSchedule.Decaying(alpha: 1.0, floor: 0.01);
        Assert.Equal(0.01, s.StepAt(1_000_000));
        Assert.Equal(0.5, s.StepAt(2));
    }

    [Fact]
    public void FromHalfLife_WeightHalvesAfterHalfLife()
    {
        var s = StepSizeSchedule.FromHalfLife(500);
        Assert.Equal(0.5, Math.Pow(1 - s.Gamma, 500), 1e-12);
        Assert.Equal(500, s.HalfLife, 1e-9);
        // Applying 500 observations at once keeps exactly half of the old statistics.
        Assert.Equal(0.5, s.BatchStep(1234, 500), 1e-12);
    }

    [Theory]
    [InlineData(0.6, 0.0, 0.0)]
    [InlineData(0.8, 10.0, 0.0)]
    [InlineData(0.6, 0.0, 0.02)]
    [InlineData(1.0, 5.0, 0.001)]
    public void BatchStep_EqualsSequentialSingleSteps(double alpha, double offset, double floor)
    {
        var s = StepSizeSchedule.Decaying(alpha, offset, floor);
        var keep = 1.0;
        for (var i = 1; i <= 64; i++)
        {
            keep *= 1 - s.StepAt(100 + i);
        }

        Assert.Equal(1 - keep, s.BatchStep(100, 64), 1e-13);
    }

    [Fact]
    public void BatchStep_AlphaOneNoOffset_IsRunningMeanWeight()
    {
        var s = StepSizeSchedule.Decaying(alpha: 1.0);
        Assert.Equal(1.0, s.BatchStep(0, 7));
        Assert.Equal(64.0 / 164.0, s.BatchStep(100, 64));
    }

    [Fact]
    public void AveragingWeight_StraddlingCutOff_CountsOnlyObservationsPastIt()
    {
        var s = StepSizeSchedule.Decaying(averagingStart: 1000);
        Assert.Equal(0.0, s.AveragingWeight(900, 100));
        Assert.Equal(1.0, s.AveragingWeight(990, 64));
        Assert.Equal(64.0 / 118.0, s.AveragingWeight(1054, 64), 1e-15);
        Assert.Equal(0.0, StepSizeSchedule.Decaying().AveragingWeight(5000, 64));
    }

    [Fact]
    public void Average_RunningMeanOfConstantBatches_IsArithmeticMean()
    {
        var s = StepSizeSchedule.Decaying(averagingStart: 0);
        double[] avg = [0.0];
        long seen = 0;
        foreach (var v in new[] { 1.0, 2.0, 6.0 })
        {
            StepSizeSchedule.Average(avg, [v], s.AveragingWeight(seen, 10));
            seen += 10;
        }

        Assert.Equal(3.0, avg[0], 1e-15);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void Decaying_AlphaOutOfRange_ThrowsNamingAlpha(double alpha)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => StepSizeSchedule.Decaying(alpha));
        Assert.Equal("alpha", e.ParamName);
    }

    [Fact]
    public void FromHalfLife_NonPositive_ThrowsNamingHalfLife()
    {
        Assert.Equal("halfLife", Assert.Throws<ArgumentOutOfRangeException>(() => StepSizeSchedule.FromHalfLife(0)).ParamName);
        Assert.Equal("floor", Assert.Throws<ArgumentOutOfRangeException>(() => StepSizeSchedule.Decaying(floor: 1.0)).ParamName);
    }

    [Fact]
    public void Schedule_JsonRoundTrip_Equal()
    {
        var s = StepSizeSchedule.Decaying(0.65, 20, 0.001, 5000);
        var json = System.Text.Json.JsonSerializer.Serialize(s);
        Assert.Equal(s, System.Text.Json.JsonSerializer.Deserialize<StepSizeSchedule>(json));
    }
}
