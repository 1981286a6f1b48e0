using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// k-means++ starts spread over raw, standardized and within-cluster scaled columns (<see cref="SeedingSpaces"/>). The
/// data: a column in thousands that carries no regime (uniform on [0, 10,000]) next to one in hundredths where two regimes
/// sit 0.1 apart with a spread of 0.01 (ten standard deviations). Raw distances are all column 0, so raw k-means splits the
/// noise column in two, a local optimum EM stays in (1.5 nats/row below the regimes); the regime is plain once the columns
/// are scaled. Every one of these fits ends in the noise split with every start on raw columns.
/// </summary>
public sealed class SeedingSpacesTests
{
    private const double Separation = 0.1;
    private const double Spread = 0.01;

    [Theory]
    [InlineData(CovarianceType.Full, 0UL)]
    [InlineData(CovarianceType.Full, 1UL)]
    [InlineData(CovarianceType.Diag, 2UL)]
    [InlineData(CovarianceType.Tied, 3UL)]
    public void Fit_RegimeOnlyInHundredthsColumnNextToThousands_FoundWithDefaultRestarts(CovarianceType type, ulong seed)
    {
        var (data, regime) = SmallScaleRegime(1_000, seed);

        var fit = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 2, Covariance = type, Seed = seed });

        Assert.True(Agreement(fit.Model, data, regime) >= 0.99, $"labels agree with the regimes on {Agreement(fit.Model, data, regime):P1} of rows");
    }

    [Fact]
    public void WarmUp_RegimeOnlyInHundredthsColumnNextToThousands_Found()
    {
        var (data, regime) = SmallScaleRegime(OnlineGmmOptions.MinimumAutomaticWarmUp, 4);
        var online = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2, WarmUpObservations = data.Rows, Seed = 4 }, 2);

        online.Update(data);

        Assert.False(online.IsWarmingUp);
        Assert.True(Agreement(online.Model, data, regime) >= 0.99, $"labels agree with the regimes on {Agreement(online.Model, data, regime):P1} of rows");
    }

    [Fact]
    public void FitHmm_RegimeOnlyInHundredthsColumnNextToThousandsThreeRestarts_Decoded()
    {
        // Sticky regimes (runs of 50 rows) in the hundredths column; noise in thousands in the other.
        var rng = new DeterministicRandom(5);
        const int n = 1_000;
        var values = new double[n * 2];
        var regime = new int[n];
        for (var t = 0; t < n; t++)
        {
            regime[t] = (t / 50) % 2;
            values[2 * t] = 10_000 * rng.NextDouble();
            values[(2 * t) + 1] = (Separation * regime[t]) + (Spread * rng.NextGaussian());
        }

        var data = new DataMatrix(values, n, 2);
        var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2, Restarts = 3, Seed = 5 });

        var path = fit.Model.Decode(data);
        var same = path.Select((s, t) => s == regime[t] ? 1 : 0).Sum();
        var agreement = Math.Max(same, n - same) / (double)n;
        Assert.True(agreement >= 0.99, $"decoded path agrees with the regimes on {agreement:P1} of rows");
    }

    [Fact]
    public void Fit_SameSeedOneOrTwoThreads_BitIdentical()
    {
        var (data, _) = SmallScaleRegime(1_000, 6);
        var options = new GmmFitOptions { Components = 3, Restarts = 2, Seed = 6 };

        var a = GaussianMixtureEM.Fit(data, options with { MaxDegreeOfParallelism = 1 });
        var b = GaussianMixtureEM.Fit(data, options with { MaxDegreeOfParallelism = 2 });
        var c = GaussianMixtureEM.Fit(data, options with { MaxDegreeOfParallelism = 1 });

        Assert.Equal(a.Model.Means.ToArray(), b.Model.Means.ToArray());
        Assert.Equal(a.Model.Covariances.ToArray(), b.Model.Covariances.ToArray());
        Assert.Equal(a.Model.Weights.ToArray(), c.Model.Weights.ToArray());
        Assert.Equal(a.MeanLogLikelihood, c.MeanLogLikelihood);
        Assert.Equal(a.BestRestart, c.BestRestart);
    }

    [Fact]
    public void FitHmm_SameSeed_BitIdentical()
    {
        var (data, _) = SmallScaleRegime(600, 7);
        var options = new HmmFitOptions { States = 2, Restarts = 3, Seed = 7 };

        var a = GaussianHmmEM.Fit(data, options with { MaxDegreeOfParallelism = 1 });
        var b = GaussianHmmEM.Fit(data, options with { MaxDegreeOfParallelism = 2 });

        Assert.Equal(a.Model.Means.ToArray(), b.Model.Means.ToArray());
        Assert.Equal(a.Model.Transitions.ToArray(), b.Model.Transitions.ToArray());
        Assert.Equal(a.MeanLogLikelihood, b.MeanLogLikelihood);
    }

    [Fact]
    public void Fit_OneStart_SameAsRawSeeding()
    {
        // Start 0 is always raw: a fit with one start is the fit it was before the spaces.
        var (data, _) = SmallScaleRegime(500, 8);
        var options = new GmmFitOptions { Components = 2, ShortRuns = 1, Seed = 8 };

        var diverse = GaussianMixtureEM.Fit(data, options);
        var raw = GaussianMixtureEM.Fit(data, options with { DiverseSeeding = false });

        Assert.Equal(raw.Model.Means.ToArray(), diverse.Model.Means.ToArray());
        Assert.Equal(raw.MeanLogLikelihood, diverse.MeanLogLikelihood);
    }

    [Fact]
    public void ColumnScale_NarrowModesFarApart_WithinClusterWeighsByTheModesStandardizedByTheColumn()
    {
        // Column 1 holds the regimes (modes 0.1 apart, spread 0.01): its standard deviation (≈ 0.05) includes the gap, its
        // within-cluster spread does not. Column 0 is uniform noise in thousands.
        var (data, _) = SmallScaleRegime(2_000, 9);

        var standardized = SeedingSpaces.ColumnScale(data.Values, 2, SeedingSpace.Standardized)!;
        var within = SeedingSpaces.ColumnScale(data.Values, 2, SeedingSpace.WithinCluster)!;

        Assert.InRange(1 / standardized[1], 0.045, 0.055);
        // The densest quarter of the rows lies inside the larger mode (60 % of them): about 1.7 × the mode's 0.01.
        Assert.InRange(1 / within[1], 0.01, 0.025);
        Assert.InRange(1 / standardized[0], 2_700, 3_050); // uniform on [0, 10,000]: 10,000 / √12 ≈ 2,887
        Assert.Null(SeedingSpaces.ColumnScale(data.Values, 2, SeedingSpace.Raw));
        Assert.Null(SeedingSpaces.ColumnScale(data.Values, 1, SeedingSpace.Standardized));
    }

    private static (DataMatrix Data, int[] Regime) SmallScaleRegime(int n, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var values = new double[n * 2];
        var regime = new int[n];
        for (var i = 0; i < n; i++)
        {
            regime[i] = rng.NextDouble() < 0.4 ? 1 : 0;
            values[2 * i] = 10_000 * rng.NextDouble();
            values[(2 * i) + 1] = (Separation * regime[i]) + (Spread * rng.NextGaussian());
        }

        return (new DataMatrix(values, n, 2), regime);
    }

    /// <summary>Share of rows whose predicted component matches the regime, under the better of the two label matchings.</summary>
    private static double Agreement(GaussianMixture model, DataMatrix data, int[] regime)
    {
        var labels = new int[data.Rows];
        model.Predict(data, labels);
        var same = labels.Select((l, i) => l == regime[i] ? 1 : 0).Sum();
        return Math.Max(same, data.Rows - same) / (double)data.Rows;
    }
}
