using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// A fit must not depend on the unit the data are in: data times c fit to means times c and covariances times c² (powers
/// of two, so the scaled data are exact). An absolute covariance floor (scikit-learn's reg_covar = 1e-6, our default until
/// it broke this) is as large as the variance of one-minute returns, and made a calm and a volatile market look alike.
/// </summary>
public sealed class ScaleEquivarianceTests
{
    public static TheoryData<int> Exponents => new() { -24, -12, 12 };

    [Theory]
    [MemberData(nameof(Exponents))]
    public void GmmFit_DataTimesAPowerOfTwo_MeansAndCovariancesScaleWithIt(int exponent)
    {
        var c = Math.ScaleB(1.0, exponent);
        var data = TestData.Faithful();
        var options = new GmmFitOptions { Components = 2, Seed = 4, Restarts = 2 };

        var reference = GaussianMixtureEM.Fit(data, options).Model;
        var scaled = GaussianMixtureEM.Fit(Scale(data, c), options).Model;

        AssertClose(reference.Means, scaled.Means, c);
        for (var k = 0; k < 2; k++)
        {
            AssertClose(reference.FullCovariance(k), scaled.FullCovariance(k), c * c);
        }
    }

    [Theory]
    [MemberData(nameof(Exponents))]
    public void HmmFit_DataTimesAPowerOfTwo_MeansAndCovariancesScaleWithIt(int exponent)
    {
        var c = Math.ScaleB(1.0, exponent);
        var (data, _) = Market(4_000, seed: 11);
        var options = new HmmFitOptions { States = 2, Covariance = CovarianceType.Diag, Seed = 2 };

        var reference = GaussianHmmEM.Fit(data, options).Model;
        var scaled = GaussianHmmEM.Fit(Scale(data, c), options).Model;

        AssertClose(reference.Transitions, scaled.Transitions, 1.0);
        AssertClose(reference.Means, scaled.Means, c);
        for (var k = 0; k < 2; k++)
        {
            AssertClose(reference.FullCovariance(k), scaled.FullCovariance(k), c * c);
        }
    }

    /// <summary>One-minute returns: a calm regime (sd 3e-4) and a volatile one (sd 1.2e-3), in the unit they come in.</summary>
    [Fact]
    public void HmmFit_OneMinuteReturns_FindsTheCalmAndTheVolatileRegime()
    {
        var (data, states) = Market(6_000, seed: 7, unit: 1.0);
        var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2, Covariance = CovarianceType.Diag, Seed = 0 }).Model;

        var calm = fit.FullCovariance(0)[0] < fit.FullCovariance(1)[0] ? 0 : 1;
        Assert.InRange(fit.FullCovariance(calm)[0], 0.8 * 9e-8, 1.25 * 9e-8);
        Assert.InRange(fit.FullCovariance(1 - calm)[0], 0.8 * 1.44e-6, 1.25 * 1.44e-6);
        Assert.True(fit.Transitions[(calm * 2) + calm] > 0.98, $"calm stays calm with probability {fit.Transitions[(calm * 2) + calm]}");

        var path = new int[data.Rows];
        fit.Viterbi(data, path);
        var agree = path.Select((s, t) => (s == calm ? 0 : 1) == states[t]).Count(x => x);
        Assert.True(agree > 0.95 * data.Rows, $"{agree} of {data.Rows} minutes in the right regime");
    }

    /// <summary>The same stream through the online HMM with its defaults, as a model grain runs it.</summary>
    [Fact]
    public void OnlineHmm_OneMinuteReturns_FiltersTheRegimes()
    {
        var (data, states) = Market(12_000, seed: 8, unit: 1.0);
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, Covariance = CovarianceType.Diag }, 2);
        var regimes = new int[data.Rows];
        for (var t = 0; t < data.Rows; t++)
        {
            online.Update(data.Row(t));
            regimes[t] = online.Regime;
        }

        var model = online.CurrentModel!;
        var calm = model.FullCovariance(0)[0] < model.FullCovariance(1)[0] ? 0 : 1;
        Assert.True(model.FullCovariance(1 - calm)[0] > 5 * model.FullCovariance(calm)[0], "the two regimes' variances differ by 16 times");
        var second = Enumerable.Range(data.Rows / 2, data.Rows / 2);
        var agree = second.Count(t => (regimes[t] == calm ? 0 : 1) == states[t]);
        Assert.True(agree > 0.9 * (data.Rows / 2), $"{agree} of {data.Rows / 2} minutes in the right regime");
    }

    /// <summary>The online GMM with its defaults on the two regimes' returns as a mixture: a narrow and a wide component.</summary>
    [Fact]
    public void OnlineGmm_OneMinuteReturns_KeepsANarrowAndAWideComponent()
    {
        var (data, _) = Market(12_000, seed: 9, unit: 1.0);
        var online = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2, Covariance = CovarianceType.Diag }, 2);
        for (var t = 0; t < data.Rows; t += 100)
        {
            online.Update(data.Values.Slice(t * 2, Math.Min(100, data.Rows - t) * 2));
        }

        var model = online.Model;
        var narrow = model.FullCovariance(0)[0] < model.FullCovariance(1)[0] ? 0 : 1;
        Assert.InRange(model.FullCovariance(narrow)[0], 0.5 * 9e-8, 2 * 9e-8);
        Assert.InRange(model.FullCovariance(1 - narrow)[0], 0.5 * 1.44e-6, 2 * 1.44e-6);
    }

    /// <summary>
    /// Returns of two assets in a two-regime market: calm (sd 3e-4 and 2.4e-4) stays with probability 0.995, volatile (sd
    /// 1.2e-3 and 9.6e-4) with 0.99; times <paramref name="unit"/>.
    /// </summary>
    private static (DataMatrix Data, int[] States) Market(int n, int seed, double unit = 1.0)
    {
        var rng = new DeterministicRandom((ulong)seed);
        var values = new double[n * 2];
        var states = new int[n];
        var state = 0;
        for (var t = 0; t < n; t++)
        {
            if (rng.NextDouble() < (state == 0 ? 0.005 : 0.01))
            {
                state = 1 - state;
            }

            var sd = state == 0 ? 3e-4 : 1.2e-3;
            values[2 * t] = unit * sd * rng.NextGaussian();
            values[(2 * t) + 1] = unit * 0.8 * sd * rng.NextGaussian();
            states[t] = state;
        }

        return (new DataMatrix(values, n, 2), states);
    }

    private static DataMatrix Scale(DataMatrix data, double c) => new(data.Values.ToArray().Select(v => v * c).ToArray(), data.Rows, data.Columns);

    private static void AssertClose(ReadOnlySpan<double> reference, ReadOnlySpan<double> scaled, double factor)
    {
        Assert.Equal(reference.Length, scaled.Length);
        for (var i = 0; i < reference.Length; i++)
        {
            var expected = reference[i] * factor;
            Assert.True(
                Math.Abs(scaled[i] - expected) <= (1e-4 * Math.Abs(expected)) + (1e-9 * factor),
                $"entry {i}: {scaled[i]:R} against {expected:R} (the unscaled fit's {reference[i]:R} × {factor:R})");
        }
    }
}
