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
    public void ChooseByBic_AnyData_BestHasTheLowestBicOfItsCandidates()
    {
        Prop.ForAll(Arb.From(from seed in Gen.Choose(0, 1_000_000) from d in Gen.Choose(1, 3) select (seed, d)), c =>
        {
            var data = Synthetic.Random(90, c.d, (ulong)c.seed);
            var choice = GaussianMixtureEM.ChooseByBic(data, new GmmFitOptions { Components = 1, Seed = (ulong)c.seed, MaxIterations = 30 }, 4, AllTypes);
            return choice.Candidates.All(x => x.Bic >= choice.Best.Bic)
                && choice.Candidates.All(x => Math.Abs(x.Bic - x.Fit.Bic) < 1e-9 * Math.Max(1, Math.Abs(x.Bic)))
                && AllTypes.All(t => choice.Candidates.Any(x => x.Covariance == t && x.Components == 1));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(15));
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
