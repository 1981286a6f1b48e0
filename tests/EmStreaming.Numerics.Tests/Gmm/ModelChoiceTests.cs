using EmStreaming.Numerics.Gmm;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>Model choice by default (issue 11): K and the covariance type by BIC for fitting, by held-out entries for imputing.</summary>
public sealed class ModelChoiceTests
{
    private static readonly CovarianceType[] AllTypes = [CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diag, CovarianceType.Spherical];

    [Fact]
    public void ChooseByBic_Faithful_PicksMclustsChoiceThreeTied()
    {
        // R mclust 6.0 on faithful: best model EEE (tied) with 3 components, BIC 2314.3 in our sign convention; full K=2 is 2322.2.
        var choice = GaussianMixtureEM.ChooseByBic(TestData.Faithful(), new GmmFitOptions { Components = 1, Seed = 1 }, 6, AllTypes);
        Assert.Equal(3, choice.Best.Components);
        Assert.Equal(CovarianceType.Tied, choice.Best.Covariance);
        // Default stopping (1e-2 nats in total) ends within 0.1 BIC units of the optimum (2314.30 run to 1e-10).
        Assert.InRange(choice.Best.Bic, 2314.30 - 0.01, 2314.32 + 0.1);
    }

    [Fact]
    public void ChooseByBic_AnyData_BestHasTheLowestBicOfItsSupportedCandidates()
    {
        Prop.ForAll(Arb.From(from seed in Gen.Choose(0, 1_000_000) from d in Gen.Choose(1, 3) select (seed, d)), c =>
        {
            var data = Synthetic.Random(90, c.d, (ulong)c.seed);
            var choice = GaussianMixtureEM.ChooseByBic(data, new GmmFitOptions { Components = 1, Seed = (ulong)c.seed, MaxIterations = 30 }, 4, AllTypes);
            return choice.Best.Fit.UnderdeterminedComponents == 0
                && choice.Candidates.Where(x => x.Fit.UnderdeterminedComponents == 0).All(x => x.Bic >= choice.Best.Bic)
                && choice.Candidates.All(x => Math.Abs(x.Bic - x.Fit.Bic) < 1e-9 * Math.Max(1, Math.Abs(x.Bic)))
                && AllTypes.All(t => choice.Candidates.Any(x => x.Covariance == t && x.Components == 1));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(15));
    }

    /// <summary>
    /// Ten rows of one 2-D Gaussian: K = 6 put components on one or two rows each, whose variances are the covariance floor's,
    /// and BIC fell with every K (59.3, 41.7, … 2.9), so --select-k 1..6 chose 6. A fit with a component on fewer rows than
    /// determine it (d + 1 for a full covariance) is passed over.
    /// </summary>
    [Fact]
    public void SelectByBic_TenRowsOfOneGaussian_PassesOverComponentsOnTooFewRows()
    {
        var rng = new Random(10);
        var rows = new double[20];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        }

        var data = new DataMatrix(rows, 10, 2);
        var selection = GaussianMixtureEM.SelectByBic(data, 1, 6, new GmmFitOptions { Components = 1, Seed = 3 });
        Assert.Equal(0, selection.Best.UnderdeterminedComponents);
        Assert.True(selection.Candidates[^1].Fit.UnderdeterminedComponents > 0);
        Assert.True(selection.Candidates[^1].Bic < selection.Candidates[0].Bic, "the floor-bound fit has the lower BIC: what the rule is for");
        Assert.Equal(1, selection.BestComponents);

        var choice = GaussianMixtureEM.ChooseByBic(data, new GmmFitOptions { Components = 1, Seed = 3 }, 6, AllTypes);
        Assert.Equal(0, choice.Best.Fit.UnderdeterminedComponents);
    }

    /// <summary>The count: 3 clusters of 60, 60 and 2 rows in 2-D; the third, full, holds 2 of the 3 rows that determine it.</summary>
    [Theory]
    [InlineData(CovarianceType.Full, 1)]
    [InlineData(CovarianceType.Diag, 0)]
    [InlineData(CovarianceType.Tied, 0)]
    public void UnderdeterminedComponents_ASmallCluster_CountedByWhatDeterminesItsCovariance(CovarianceType type, int expected)
    {
        var rng = new Random(4);
        var rows = new List<double>();
        foreach (var (n, cx) in new[] { (60, 0.0), (60, 30.0), (2, 60.0) })
        {
            for (var i = 0; i < n; i++)
            {
                rows.Add(cx + rng.NextDouble());
                rows.Add(rng.NextDouble());
            }
        }

        var fit = GaussianMixtureEM.Fit(new DataMatrix([.. rows], 122, 2), new GmmFitOptions { Components = 3, Covariance = type, Seed = 1 });
        Assert.Equal(expected, fit.UnderdeterminedComponents);
    }

    [Fact]
    public void ChooseForImputation_RowsWithOneObservedValue_NeverHiddenAndBestHasTheLowestError()
    {
        Prop.ForAll(Arb.From(from seed in Gen.Choose(0, 1_000_000) select seed), seed =>
        {
            var full = Synthetic.Random(120, 3, (ulong)seed);
            var values = full.Values.ToArray();
            // Every third row keeps only its first column: hiding that entry would leave the row with nothing.
            for (var i = 0; i < 120; i += 3)
            {
                values[(i * 3) + 1] = double.NaN;
                values[(i * 3) + 2] = double.NaN;
            }

            var choice = GaussianMixtureEM.ChooseForImputation(new DataMatrix(values, 120, 3), new GmmFitOptions { Components = 1, Seed = (ulong)seed, MaxIterations = 30 }, 3, AllTypes);
            return choice.Candidates.All(x => x.Bic >= choice.Best.Bic && double.IsFinite(x.Bic));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(15));
    }
}
