using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>The number of states chosen by BIC when none is given (<c>emstream fit --model hmm</c> without --states).</summary>
public sealed class HmmStateChoiceTests
{
    [Theory]
    [InlineData(2, 1UL)]
    [InlineData(3, 2UL)]
    [InlineData(4, 3UL)]
    public void ByBic_SampledFromKWellSeparatedRegimes_ChoosesK(int states, ulong seed)
    {
        var truth = Regimes(states);
        var data = truth.Sample(4_000, seed);
        var choice = HmmStateChoice.ByBic(data, new HmmFitOptions { States = 1, Seed = seed }, 8);
        Assert.Equal(states, choice.Best.States);
        Assert.Equal(0, choice.Best.UnderdeterminedStates);
        Assert.All(choice.Candidates, c => Assert.True(c.Bic >= choice.Best.Bic || c.UnderdeterminedStates > 0));
    }

    /// <summary>A state on two rows of a 2-D sequence (full covariance: 3 determine it) is counted; with 4 rows it is not.</summary>
    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 0)]
    public void Underdetermined_AStateOnFewRows_CountedByItsOccupancy(int rowsInState, int expected)
    {
        var rng = new Random(5);
        var n = 200 + rowsInState;
        var rows = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            var far = t >= 100 && t < 100 + rowsInState;
            rows[2 * t] = (far ? 50.0 : 0.0) + rng.NextDouble();
            rows[(2 * t) + 1] = rng.NextDouble();
        }

        var data = new DataMatrix(rows, n, 2);
        var model = GaussianHmm.Create(
            [0.99, 0.01], [0.99, 0.01, 0.3, 0.7], [0.5, 0.5, 50.5, 0.5], [0.1, 0.0, 0.0, 0.1, 0.1, 0.0, 0.0, 0.1], 2, 2, CovarianceType.Full);
        Assert.Equal(expected, HmmStateChoice.Underdetermined(model, data));
    }

    /// <summary>
    /// Two readings far from the rest (a glitch pair): a state on them has the floor's likelihood and the lowest BIC; it is
    /// passed over, and the one regime there is stays the choice.
    /// </summary>
    [Fact]
    public void ByBic_AGlitchPair_NotAState()
    {
        var rng = new Random(6);
        const int n = 300;
        var rows = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            var glitch = t is 150 or 151;
            rows[2 * t] = (glitch ? 50.0 : 0.0) + rng.NextDouble();
            rows[(2 * t) + 1] = rng.NextDouble();
        }

        var choice = HmmStateChoice.ByBic(new DataMatrix(rows, n, 2), new HmmFitOptions { States = 1, Seed = 1 }, 3);
        Assert.Contains(choice.Candidates, c => c.UnderdeterminedStates > 0 && c.Bic < choice.Best.Bic);
        Assert.Equal(1, choice.Best.States);
    }

    /// <summary>
    /// With full and diag to choose from, the states and the covariance type are chosen together: independent columns in
    /// 6-D (a full covariance adds 15 parameters per state that explain nothing) give diag, correlated ones (ρ = 0.8) full;
    /// and the number of states is right either way.
    /// </summary>
    [Theory]
    [InlineData(0.0, CovarianceType.Diag)]
    [InlineData(0.8, CovarianceType.Full)]
    public void ByBic_FullOrDiag_ChoosesTheTypeThatExplainsTheColumns(double rho, CovarianceType expected)
    {
        const int d = 6, k = 3;
        var covariance = new double[d * d];
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                covariance[(i * d) + j] = i == j ? 1 : rho;
            }
        }

        var means = new double[k * d];
        for (var s = 0; s < k; s++)
        {
            means[(s * d) + s] = 6; // state s sits 6 SDs out along column s
        }

        double[] transitions = [0.95, 0.03, 0.02, 0.02, 0.95, 0.03, 0.03, 0.02, 0.95];
        var truth = GaussianHmm.Create([0.4, 0.3, 0.3], transitions, means, [.. covariance, .. covariance, .. covariance], k, d, CovarianceType.Full);
        var data = truth.Sample(3_000, 9);
        var choice = HmmStateChoice.ByBic(data, new HmmFitOptions { States = 1, Seed = 3 }, 6, [CovarianceType.Full, CovarianceType.Diag]);
        Assert.Equal(expected, choice.Best.Covariance);
        Assert.Equal(k, choice.Best.States);
        Assert.Contains(choice.Candidates, c => c.Covariance == CovarianceType.Full);
        Assert.Contains(choice.Candidates, c => c.Covariance == CovarianceType.Diag);
        Assert.All(choice.Candidates, c => Assert.True(c.Bic >= choice.Best.Bic || c.UnderdeterminedStates > 0));

        // One type given: only that type is fitted, as before.
        var diagOnly = HmmStateChoice.ByBic(data, new HmmFitOptions { States = 1, Seed = 3, Covariance = CovarianceType.Diag }, 6);
        Assert.All(diagOnly.Candidates, c => Assert.Equal(CovarianceType.Diag, c.Covariance));
    }

    [Fact]
    public void ByBic_ATypeAnHmmDoesNotSupport_IsRefused()
    {
        var data = Regimes(2).Sample(200, 1);
        Assert.Throws<ArgumentException>(() => HmmStateChoice.ByBic(data, new HmmFitOptions { States = 1 }, 3, [CovarianceType.Full, CovarianceType.Spherical]));
        Assert.Throws<ArgumentException>(() => HmmStateChoice.ByBic(data, new HmmFitOptions { States = 1 }, 3, []));
    }

    private static GaussianHmm Regimes(int k)
    {
        var start = new double[k];
        var transitions = new double[k * k];
        var means = new double[k * 2];
        var covariances = new double[k * 4];
        for (var i = 0; i < k; i++)
        {
            start[i] = 1.0 / k;
            for (var j = 0; j < k; j++)
            {
                transitions[(i * k) + j] = i == j ? 0.97 : 0.03 / (k - 1);
            }

            means[2 * i] = 6.0 * i;
            means[(2 * i) + 1] = i % 2 == 0 ? 0.0 : 4.0;
            covariances[4 * i] = 1.0 + (0.2 * i);
            covariances[(4 * i) + 3] = 0.5;
        }

        return GaussianHmm.Create(start, transitions, means, covariances, k, 2, CovarianceType.Full);
    }
}
