using EmStreaming.Numerics.Hmm;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>Invariants over random small data sets (FsCheck): what must hold for any input, not one example.</summary>
public sealed class HmmPropertyTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(25);

    private static Arbitrary<(int Seed, int States, bool Diag)> Cases() =>
        (from seed in Gen.Choose(0, 1_000_000)
         from states in Gen.Choose(1, 4)
         from diag in ArbMap.Default.GeneratorFor<bool>()
         select (seed, states, diag)).ToArbitrary();

    private static DataMatrix RandomData(int seed, int n = 120, int d = 2)
    {
        var rng = new Random(seed);
        var values = new double[n * d];
        var level = 0.0;
        for (var t = 0; t < n; t++)
        {
            if (rng.NextDouble() < 0.05)
            {
                level = rng.Next(-3, 4) * 2.0;
            }

            for (var i = 0; i < d; i++)
            {
                values[(t * d) + i] = level + GaussianHmmEMTests.Gaussian(rng) + (rng.NextDouble() < 0.03 ? double.NaN : 0.0);
            }

            if (double.IsNaN(values[t * d]) && double.IsNaN(values[(t * d) + 1]))
            {
                values[t * d] = level;
            }
        }

        return new DataMatrix(values, n, d);
    }

    [Fact]
    public void Fit_RandomData_TransitionRowsSumToOne()
    {
        Prop.ForAll(Cases(), c =>
        {
            var fit = GaussianHmmEM.Fit(RandomData(c.Seed), new HmmFitOptions { States = c.States, Covariance = c.Diag ? CovarianceType.Diag : CovarianceType.Full, MaxIterations = 20, Seed = (ulong)c.Seed });
            var k = fit.Model.States;
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(1.0, fit.Model.Transitions.Slice(i * k, k).ToArray().Sum(), 1e-12);
            }

            Assert.Equal(1.0, fit.Model.StartProbabilities.ToArray().Sum(), 1e-12);
        }).Check(Quick);
    }

    [Fact]
    public void Fit_RandomData_LogLikelihoodNeverDecreases()
    {
        // Exact EM (no pseudo-counts, negligible floor) is monotone; 1e-9 nats/observation allows float noise.
        Prop.ForAll(Cases(), c =>
        {
            var options = new HmmFitOptions
            {
                States = c.States,
                Covariance = c.Diag ? CovarianceType.Diag : CovarianceType.Full,
                MaxIterations = 30,
                Tolerance = 0,
                TransitionPseudoCount = 0,
                RegCovar = 1e-12,
                RelativeRegCovar = 0,
                Seed = (ulong)c.Seed,
            };
            var data = RandomData(c.Seed);
            var fit = GaussianHmmEM.Fit(data, options);
            var trace = fit.LogLikelihoodTrace;
            Assert.All(trace, v => Assert.True(double.IsFinite(v)));

            // Monotonicity holds when every state's covariance is determined by its data: a state whose expected
            // occupancy is at most d + 1 rows has a (near-)singular covariance held up by the floor, and the floored
            // M-step is not the maximizer any more (the same reason as in the GMM property test).
            var posteriors = new double[data.Rows * c.States];
            fit.Model.Smooth(data, posteriors);
            for (var k = 0; k < c.States; k++)
            {
                var occupancy = 0.0;
                for (var t = 0; t < data.Rows; t++)
                {
                    occupancy += posteriors[(t * c.States) + k];
                }

                if (occupancy < 2 * (data.Columns + 1))
                {
                    return;
                }
            }

            for (var i = 1; i < trace.Count; i++)
            {
                Assert.True(trace[i] >= trace[i - 1] - 1e-9, $"iteration {i}: {trace[i - 1]:R} -> {trace[i]:R}");
            }
        }).Check(Quick);
    }

    [Fact]
    public void Filter_RandomModelAndData_RowsSumToOneAndMatchSmoothedAtTheEnd()
    {
        Prop.ForAll(Cases(), c =>
        {
            var data = RandomData(c.Seed, n: 60);
            var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = c.States, MaxIterations = 3, Seed = (ulong)c.Seed });
            var k = c.States;
            var filtered = new double[60 * k];
            var smoothed = new double[60 * k];
            var l1 = fit.Model.Filter(data, filtered);
            var l2 = fit.Model.Smooth(data, smoothed);
            Assert.Equal(l1, l2);
            for (var t = 0; t < 60; t++)
            {
                Assert.Equal(1.0, filtered.AsSpan(t * k, k).ToArray().Sum(), 1e-12);
                Assert.Equal(1.0, smoothed.AsSpan(t * k, k).ToArray().Sum(), 1e-12);
                Assert.All(filtered.AsSpan(t * k, k).ToArray(), v => Assert.InRange(v, 0.0, 1.0));
            }

            // At the last observation filtering and smoothing condition on the same data.
            for (var j = 0; j < k; j++)
            {
                Assert.Equal(filtered[(59 * k) + j], smoothed[(59 * k) + j], 1e-12);
            }
        }).Check(Quick);
    }

    [Fact]
    public void Fit_Defaults_StopOnlyWhenTheTotalChangeIsBelowTheAbsoluteTolerance()
    {
        // The default rule is hmmlearn's: a fit reported converged moved the total log-likelihood by less than 1e-2 nats in its
        // last iteration, and one that did not converge used its whole iteration budget.
        Prop.ForAll(Cases(), c =>
        {
            var data = RandomData(c.Seed);
            var options = new HmmFitOptions { States = c.States, Covariance = c.Diag ? CovarianceType.Diag : CovarianceType.Full, Seed = (ulong)c.Seed, MaxIterations = 200 };
            var fit = GaussianHmmEM.Fit(data, options);
            var trace = fit.LogLikelihoodTrace;
            if (!fit.Converged)
            {
                return fit.Iterations == options.MaxIterations;
            }

            // The trace holds one value per E-step; the last two are the iteration that stopped the fit.
            var change = Math.Abs(trace[^1] - trace[^2]) * data.Rows;
            return change < HmmFitOptions.DefaultAbsoluteTolerance && fit.Iterations < options.MaxIterations;
        }).Check(Quick);
    }
}
