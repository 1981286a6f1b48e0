using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// One glitch reading far from the rest (a counter that overflowed, a bit flip: 1e12 among values near 0). The sufficient
/// statistics were taken about the column means, which that one row drags 3e8 away from every other: the moments of the
/// other rows then lost their digits (variances about 1e17 minus 1e17), and the fits came out wrong (a GMM with every
/// weight on one component and variances of 1e-4 for data of variance 1; an HMM state of variance 32 for data of variance 1).
/// They are taken about the column medians now.
/// </summary>
public sealed class GlitchReadingTests
{
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    public void GmmFit_OneReadingOf1e12_TheOtherRowsFitAsWithoutIt(CovarianceType type)
    {
        var (clean, glitched) = Data(3_000, seed: 1);
        var options = new GmmFitOptions { Components = 3, Covariance = type, Seed = 1, Restarts = 2 };

        var fit = GaussianMixtureEM.Fit(glitched, options).Model;

        var glitch = Enumerable.Range(0, 3).MaxBy(k => fit.Means[k * 2]);
        Assert.Equal(1e12, fit.Means[glitch * 2], 1.0);
        Assert.InRange(fit.Weights[glitch], 0.5 / 3_000, 2.0 / 3_000);
        var reference = GaussianMixtureEM.Fit(clean, options with { Components = 2 }).Model;
        var bulk = Enumerable.Range(0, 3).Where(k => k != glitch).OrderBy(k => fit.Means[k * 2]).ToArray();
        var expected = Enumerable.Range(0, 2).OrderBy(k => reference.Means[k * 2]).ToArray();
        for (var i = 0; i < 2; i++)
        {
            for (var j = 0; j < 2; j++)
            {
                Assert.Equal(reference.Means[(expected[i] * 2) + j], fit.Means[(bulk[i] * 2) + j], 0.05);
                var v = reference.FullCovariance(expected[i])[(j * 2) + j];
                Assert.InRange(fit.FullCovariance(bulk[i])[(j * 2) + j], 0.9 * v, 1.1 * v);
            }
        }
    }

    [Fact]
    public void HmmFit_OneReadingOf1e12_TheOtherStateFitsTheRest()
    {
        var (_, glitched) = Data(3_000, seed: 2);
        var fit = GaussianHmmEM.Fit(glitched, new HmmFitOptions { States = 2, Covariance = CovarianceType.Diag, Seed = 0 }).Model;

        var bulk = fit.Means[0] < fit.Means[2] ? 0 : 1;
        var variance = fit.FullCovariance(bulk);
        Assert.InRange(variance[0], 9.0, 11.0); // two modes at ∓3 of variance 1 in column 0: 9 + 1
        Assert.InRange(variance[3], 3.6, 4.4); // column 1: variance 4
    }

    [Fact]
    public void OnlineGmm_GlitchInTheWarmUp_TheOtherRowsFitAsWithoutIt()
    {
        var (clean, glitched) = Data(3_000, seed: 3);
        var options = new OnlineGmmOptions { Components = 3, Covariance = CovarianceType.Diag, Seed = 3 };
        var online = OnlineGaussianMixture.Create(options, 2);
        online.Update(glitched.Values);

        // The glitch gets no component of its own (InfluenceBound.WithoutGlitches; before it did, weight 1/3,000, and the online
        // model kept it there): all three components are in the bulk, and the model is the one the clean rows give.
        var model = online.Model;
        Assert.All(Enumerable.Range(0, 3), k => Assert.InRange(model.Means[k * 2], -10, 10));
        var twin = OnlineGaussianMixture.Create(options, 2);
        twin.Update(clean.Values);
        Assert.True(Math.Abs(model.Score(clean) - twin.Model.Score(clean)) < 0.02, $"the clean rows score {model.Score(clean):F4} nats/row, {twin.Model.Score(clean):F4} without the glitch");
    }

    /// <summary>The origin: each column's median (of an even spread of at most 4,096 observed entries), sparse and empty columns too.</summary>
    [Fact]
    public void ObservedColumnCentres_Medians_SparseColumnsLookedAtRowByRow_EmptyIsZero()
    {
        const int rows = 100_000;
        var values = new double[rows * 3];
        for (var i = 0; i < rows; i++)
        {
            values[3 * i] = i % 1_000 == 0 ? 1e12 : i % 7; // 0..6 evenly, a glitch every 1,000 rows
            values[(3 * i) + 1] = i == 12_345 ? 42.0 : double.NaN; // one observed entry, between the sampled rows
            values[(3 * i) + 2] = double.NaN;
        }

        var centres = DataMatrix.ObservedColumnCentres(values, 3);

        Assert.Equal(3.0, centres[0]);
        Assert.Equal(42.0, centres[1]);
        Assert.Equal(0.0, centres[2]);
    }

    [Fact]
    public void Impute_RowWhoseDensityUnderflowsUnderEveryComponent_EachComponentKeepsItsWeight()
    {
        // Data at a scale of 1e-60 and a row at 1e100: every squared distance overflows, every density is 0, and 0/0 made
        // the imputed entry NaN (null in the service's JSON). The row cannot tell the components apart: weights w_k.
        var model = GaussianMixture.Create([0.25, 0.75], [0, 0, 4e-60, 1e-60], [1e-120, 5e-121, 5e-121, 1e-120, 1e-120, -5e-121, -5e-121, 1e-120], 2, 2, CovarianceType.Full);

        var imputed = model.Impute(new DataMatrix([1e100, double.NaN], 1, 2));

        // E[x1 | x0, k] = μ_k1 + (Σ_k10 / Σ_k00)(x0 − μ_k0): ±0.5·(1e100 − μ_k0).
        var expected = (0.25 * (0 + (0.5 * 1e100))) + (0.75 * (1e-60 - (0.5 * (1e100 - 4e-60))));
        Assert.Equal(1e100, imputed.Values[0]);
        Assert.Equal(expected, imputed.Values[1], Math.Abs(expected) * 1e-12);
    }

    /// <summary>Two modes (−3, 0) and (3, 0) in x, variance 1 and 4; the glitched copy has 1e12 in row 100.</summary>
    private static (DataMatrix Clean, DataMatrix Glitched) Data(int n, int seed)
    {
        var rng = new DeterministicRandom((ulong)seed);
        var values = new double[n * 2];
        for (var i = 0; i < n; i++)
        {
            values[2 * i] = (i % 2 == 0 ? -3.0 : 3.0) + rng.NextGaussian();
            values[(2 * i) + 1] = 2.0 * rng.NextGaussian();
        }

        var clean = new DataMatrix(values.ToArray(), n, 2);
        values[200] = 1e12;
        values[201] = -1e12;
        return (clean, new DataMatrix(values, n, 2));
    }
}
