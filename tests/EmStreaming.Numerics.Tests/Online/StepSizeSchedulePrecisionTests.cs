using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// The constant step γ = 1 − 2^(−1/h) and the quantities built on it, against references computed in System.Decimal
/// (28 digits) from power series, not with the functions under test. γ ≈ ln2 / h is tiny for a long half-life, so the
/// references are of γ·h = ln2 · S(ln2 / h), S(x) = (1 − e^(−x)) / x, which Decimal holds to full precision.
/// </summary>
public sealed class StepSizeSchedulePrecisionTests
{
    private const decimal Ln2 = 0.6931471805599453094172321215m;

    public static TheoryData<double> HalfLives => new() { 1, 2, 10, 1e3, 1e6, 1e9, 1e12, 1e15, 1e18 };

    public static TheoryData<double> ExtremeHalfLives => new()
    {
        1e16, 3e16, 1e17, 1e20, 1e100, 1e300, double.MaxValue, 1e-300, double.Epsilon, 0.5, 1e-3,
    };

    [Theory]
    [MemberData(nameof(HalfLives))]
    public void FromHalfLife_Gamma_WithinAnUlpOfOneMinusTwoToMinusOneOverH(double halfLife)
    {
        var gamma = StepSizeSchedule.FromHalfLife(halfLife).Gamma;

        var expected = (double)(Ln2 * OneMinusExpMinusXOverX(Ln2 / (decimal)halfLife));
        Assert.True(Math.Abs((gamma * halfLife) - expected) <= 1e-15 * expected, $"γ·h = {gamma * halfLife:R}, expected {expected:R}");
    }

    [Theory]
    [MemberData(nameof(ExtremeHalfLives))]
    public void FromHalfLife_AnyAllowedHalfLife_GammaPositiveAndAtMostOne(double halfLife)
    {
        var gamma = StepSizeSchedule.FromHalfLife(halfLife).Gamma;

        Assert.InRange(gamma, double.Epsilon, 1.0);
    }

    [Theory]
    [InlineData(1e16)]
    [InlineData(1e18)]
    [InlineData(1e300)]
    public void FromHalfLife_BeyondDoubleResolutionOfOneMinusGamma_GammaIsLn2OverH(double halfLife)
    {
        // e^(−x) rounds to 1 here, so γ = x − x²/2 = ln2 / h to double precision.
        var gamma = StepSizeSchedule.FromHalfLife(halfLife).Gamma;

        Assert.Equal(1.0, gamma * halfLife / Math.Log(2.0), 1e-15);
    }

    [Theory]
    [MemberData(nameof(HalfLives))]
    public void HalfLife_OfFromHalfLife_RoundTrips(double halfLife)
    {
        var back = StepSizeSchedule.FromHalfLife(halfLife).HalfLife;

        Assert.True(Math.Abs(back - halfLife) <= 2e-15 * halfLife, $"half-life {halfLife:R} came back as {back:R}");
    }

    [Theory]
    [InlineData(1e6, 1000)]
    [InlineData(1e12, 1000)]
    [InlineData(1e15, 7)]
    [InlineData(1e18, 64)]
    public void BatchStep_Constant_IsOneMinusTwoToMinusCountOverH(double halfLife, int count)
    {
        var step = StepSizeSchedule.FromHalfLife(halfLife).BatchStep(12_345, count);

        var expected = (double)(Ln2 * OneMinusExpMinusXOverX(Ln2 * count / (decimal)halfLife));
        var scaled = step * halfLife / count;
        Assert.True(Math.Abs(scaled - expected) <= 4e-15 * expected, $"step·h/count = {scaled:R}, expected {expected:R}");
    }

    [Theory]
    [InlineData(0.8, 1e15, 64)]
    [InlineData(0.6, 1e12, 300)]
    [InlineData(1.0, 1e13, 5)]
    public void BatchStep_DecayingTinySteps_EqualsSequentialSingleStepsRelatively(double alpha, double seen, int count)
    {
        var s = StepSizeSchedule.Decaying(alpha, floor: 0.0, offset: 0.5);
        var from = (long)seen;

        // Applying the steps in turn: r ← r + γ (1 − r). Every term is positive and r stays tiny, so this loses
        // nothing to cancellation (error ≤ count ulps).
        var r = 0.0;
        for (var i = 1; i <= count; i++)
        {
            var g = s.StepAt(from + i);
            r += g - (g * r);
        }

        var step = s.BatchStep(from, count);
        Assert.True(Math.Abs(step - r) <= 1e-13 * r, $"batch step {step:R}, sequential {r:R}");
    }

    [Theory]
    [InlineData(-1e-16)]
    [InlineData(-1e-12)]
    [InlineData(1e-10)]
    [InlineData(-0.00001)]
    [InlineData(0.00001)]
    [InlineData(-0.001)]
    [InlineData(0.25)]
    [InlineData(-0.5)]
    [InlineData(1)]
    public void ExpM1_SmallArguments_MatchesSeries(double x)
    {
        // e^x − 1 = x · Σ x^(k−1)/k!.
        var sum = 0m;
        var term = 1m;
        for (var k = 1; k < 40; k++)
        {
            term = k == 1 ? 1m : term * (decimal)x / k;
            sum += term;
        }

        var expected = x * (double)sum;
        Assert.True(Math.Abs(PreciseMath.ExpM1(x) - expected) <= 4e-16 * Math.Abs(expected), $"ExpM1({x:R}) = {PreciseMath.ExpM1(x):R}, expected {expected:R}");
    }

    [Theory]
    [InlineData(-1e-16)]
    [InlineData(-1e-12)]
    [InlineData(1e-10)]
    [InlineData(-0.00001)]
    [InlineData(0.25)]
    [InlineData(-0.5)]
    public void LogP1_SmallArguments_MatchesSeries(double x)
    {
        // ln(1 + x) = x · Σ (−x)^(k−1)/k.
        var sum = 0m;
        var power = 1m;
        for (var k = 1; k < 120; k++)
        {
            sum += power / k;
            power *= -(decimal)x;
        }

        var expected = x * (double)sum;
        Assert.True(Math.Abs(PreciseMath.LogP1(x) - expected) <= 4e-16 * Math.Abs(expected), $"LogP1({x:R}) = {PreciseMath.LogP1(x):R}, expected {expected:R}");
    }

    [Fact]
    public void ExpM1AndLogP1_Limits_AreExact()
    {
        Assert.Equal(-1.0, PreciseMath.ExpM1(double.NegativeInfinity));
        Assert.Equal(-1.0, PreciseMath.ExpM1(-800));
        Assert.Equal(double.PositiveInfinity, PreciseMath.ExpM1(800));
        Assert.Equal(double.PositiveInfinity, PreciseMath.ExpM1(double.PositiveInfinity));
        Assert.True(double.IsNaN(PreciseMath.ExpM1(double.NaN)));
        Assert.Equal(0.0, PreciseMath.ExpM1(0.0));
        Assert.Equal(double.NegativeInfinity, PreciseMath.LogP1(-1.0));
        Assert.Equal(double.PositiveInfinity, PreciseMath.LogP1(double.PositiveInfinity));
        Assert.True(double.IsNaN(PreciseMath.LogP1(-1.5)));
        Assert.True(double.IsNaN(PreciseMath.LogP1(double.NaN)));
        Assert.Equal(Math.Log(double.MaxValue), PreciseMath.LogP1(double.MaxValue), 1e-15);
    }

    private static decimal OneMinusExpMinusXOverX(decimal x)
    {
        // (1 − e^(−x)) / x = Σ_{k≥1} (−x)^(k−1)/k!.
        var sum = 0m;
        var term = 1m;
        for (var k = 1; k < 40 && term != 0m; k++)
        {
            term = k == 1 ? 1m : term * -x / k;
            sum += term;
        }

        return sum;
    }
}
