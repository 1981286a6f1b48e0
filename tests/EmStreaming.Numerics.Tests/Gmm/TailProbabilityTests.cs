using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>
/// The scale-free anomaly measure: the chi-square survival function it rests on, and the mixture tail probability, which
/// must be about uniform for the model's own rows whatever the unit and the missing values.
/// </summary>
public sealed class TailProbabilityTests
{
    /// <summary>P(χ²_ν ≥ x) for even ν in closed form, e^(−x/2) Σ_{j &lt; ν/2} (x/2)^j / j!, summed in logs (no underflow).</summary>
    private static double EvenSurvival(int nu, double x)
    {
        var half = x / 2;
        var logTerms = new double[nu / 2];
        for (var j = 0; j < nu / 2; j++)
        {
            var logFactorial = 0.0;
            for (var i = 2; i <= j; i++)
            {
                logFactorial += Math.Log(i);
            }

            logTerms[j] = -half + (j == 0 ? 0 : j * Math.Log(half)) - logFactorial;
        }

        var max = logTerms.Max();
        return Math.Exp(max) * logTerms.Sum(t => Math.Exp(t - max));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(10)]
    [InlineData(64)]
    public void Survival_EvenDegrees_MatchesTheClosedForm_IntoTheFarTail(int nu)
    {
        foreach (var x in new[] { 1e-8, 0.01, 0.5, 1, nu - 1.0, nu, nu + 3.0, 2.0 * nu, 50, 120, 400, 1200 })
        {
            var expected = EvenSurvival(nu, x);
            var actual = ChiSquare.Survival(nu, x);
            Assert.True(Math.Abs(actual - expected) <= 1e-12 * expected + 1e-15, $"ν={nu}, x={x}: {actual} against {expected}");
        }
    }

    [Theory]
    [InlineData(1, 3.841458820694124, 0.05)]
    [InlineData(1, 10.827566170662733, 0.001)]
    [InlineData(3, 7.814727903251178, 0.05)]
    [InlineData(5, 11.070497693516351, 0.05)]
    [InlineData(7, 24.32188642083694, 0.001)]
    [InlineData(1, 0.003932140000019525, 0.95)]
    public void Survival_OddDegrees_MatchesTabulatedQuantiles(int nu, double x, double expected)
    {
        Assert.Equal(expected, ChiSquare.Survival(nu, x), 1e-9);
    }

    /// <summary>
    /// The closed forms (finite sums from Q(1, y) = e^(−y) and Q(½, y) = erfc(√y)) against the expansions they replace,
    /// for every ν they take, from y = 1e-12 to their limit and just past it, where the expansions take over: the same
    /// values to 1e-12 relative, down to tails of 1e-300.
    /// </summary>
    [Fact]
    public void UpperRegularizedGammaHalf_ClosedForms_MatchTheExpansions_ForEveryDegreeTheyTake()
    {
        var ys = new List<double> { 1e-12, 1e-6, 0.001, 0.1, 0.25, 0.5, 0.9, 1, 1.5, 2, 3.3, 5, 8, 12.5, 20, 31, 47, 64, 100, 180, 333, 512, 699.9, 700, 700.1, 750 };
        for (var nu = 1; nu <= ChiSquare.ClosedFormMaxDegrees + 1; nu++)
        {
            var logGamma = ChiSquare.LogGammaHalf(nu);
            foreach (var y in ys.Concat([(nu / 2.0) - 0.5, nu / 2.0, (nu / 2.0) + 1, nu, 2.0 * nu]))
            {
                var expected = ChiSquare.UpperRegularizedGamma(0.5 * nu, y, logGamma);
                var actual = ChiSquare.UpperRegularizedGammaHalf(nu, y, logGamma);
                Assert.True(
                    Math.Abs(actual - expected) <= (1e-12 * expected) + 1e-300,
                    $"ν={nu}, y={y}: closed form {actual:R} against the expansion {expected:R}");
            }
        }
    }

    [Fact]
    public void Survival_Edges_OneAtZero_ZeroAtInfinity_NaNForNaN()
    {
        Assert.Equal(1.0, ChiSquare.Survival(3, 0));
        Assert.Equal(1.0, ChiSquare.Survival(3, -1));
        Assert.Equal(0.0, ChiSquare.Survival(3, double.PositiveInfinity));
        Assert.True(double.IsNaN(ChiSquare.Survival(3, double.NaN)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChiSquare.Survival(0, 1));
    }

    /// <summary>Rows drawn from <paramref name="mixture"/>, each entry missing with probability <paramref name="missing"/> (never a whole row).</summary>
    private static DataMatrix Draw(GaussianMixture mixture, int n, double missing, ulong seed)
    {
        var rows = mixture.Sample(n, seed);
        var rng = new Random((int)seed);
        var d = rows.Columns;
        var values = rows.Values.ToArray();
        for (var i = 0; i < n; i++)
        {
            var kept = rng.Next(d);
            for (var j = 0; j < d; j++)
            {
                if (j != kept && rng.NextDouble() < missing)
                {
                    values[(i * d) + j] = double.NaN;
                }
            }
        }

        return new DataMatrix(values, n, d);
    }

    private static double[] Tails(GaussianMixture mixture, DataMatrix rows)
    {
        var tail = new double[rows.Rows];
        mixture.TailProbabilities(rows, tail);
        return tail;
    }

    private static double Share(double[] tails, double alpha) => tails.Count(t => t <= alpha) / (double)tails.Length;

    private static GaussianMixture OneGaussian(double scale) => GaussianMixture.Create(
        [1.0], [1 * scale, -2 * scale, 5 * scale],
        [4 * scale * scale, 1.2 * scale * scale, 0.3 * scale * scale, 1.2 * scale * scale, 1 * scale * scale, 0.1 * scale * scale, 0.3 * scale * scale, 0.1 * scale * scale, 0.5 * scale * scale],
        1, 3, CovarianceType.Full);

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.4)]
    public void TailProbabilities_OneGaussiansOwnRows_AreUniform(double missing)
    {
        var model = OneGaussian(1);
        var tails = Tails(model, Draw(model, 100_000, missing, 7));
        // Kolmogorov–Smirnov distance to Uniform(0, 1): 1.63/√n is its 1 % critical value (0.0052 here).
        Array.Sort(tails);
        var ks = tails.Select((t, i) => Math.Max(Math.Abs(((i + 1) / (double)tails.Length) - t), Math.Abs((i / (double)tails.Length) - t))).Max();
        Assert.True(ks < 0.0052, $"KS distance {ks}");
        Assert.InRange(Share(tails, 1e-3), 0.0006, 0.0014);
    }

    [Fact]
    public void TailProbabilities_DataAndModelInAnotherUnit_SameTails()
    {
        var rows = Draw(OneGaussian(1), 2_000, 0.3, 11);
        var scaled = new DataMatrix(rows.Values.ToArray().Select(v => v * 1e-6).ToArray(), rows.Rows, rows.Columns);
        var a = Tails(OneGaussian(1), rows);
        var b = Tails(OneGaussian(1e-6), scaled);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 1e-9);
        }
    }

    [Theory]
    [InlineData(8.0, 0.0)]
    [InlineData(8.0, 0.3)]
    [InlineData(2.0, 0.0)]
    [InlineData(2.0, 0.3)]
    public void TailProbabilities_MixturesOwnRows_FlagAtMostAboutAlphaOfThem(double separation, double missing)
    {
        // Unequal weights and a thin component. Two simpler measures miss here: Σ_k w_k·P(χ² ≥ D²_k), each component's
        // tail at the row's own distance, flagged 1.5–3.0 α (about K·α when components are apart: a row at the centre of
        // a 10 % component scores 0.1); the posterior-weighted Σ_k r_k·P(χ² ≥ D²_k) flagged as few as 0.45 α, and it scores a
        // 10-calm-sd move in a calm stretch 0.0115 (the bound: 3.2e-4) when only a rare regime explains it (AnomalyTailTests).
        var s = separation;
        var model = GaussianMixture.Create(
            [0.6, 0.3, 0.1],
            [0, 0, s, 0, 0, s],
            [1, 0.5, 0.5, 1, 2, -0.4, -0.4, 0.5, 0.3, 0, 0, 3],
            3, 2, CovarianceType.Full);
        var tails = Tails(model, Draw(model, 400_000, missing, 5));
        // Measured: 0.45–1.01 α. Rows between overlapping components get the posterior's mix of their tails, which is
        // larger than the mixture's own tail there: the measure errs towards fewer alarms, never many more than α.
        // The tail bounds P(p(X) ≤ p(x)) from above, so at most α of the model's rows score below α (measured: 0.5–1.0 α;
        // the bound is loosest where components overlap). 1.15 α leaves room for sampling noise (±16 % at 1e-4).
        foreach (var alpha in new[] { 1e-4, 1e-3, 1e-2, 0.1 })
        {
            Assert.InRange(Share(tails, alpha), 0.35 * alpha, 1.15 * alpha);
        }
    }

    [Fact]
    public void Probability_StoppingAtAThreshold_ExactBelowIt_AtLeastItAbove()
    {
        var model = GaussianMixture.Create([0.5, 0.3, 0.2], [0, 0, 3, 0, 0, 3], [1, 0.5, 0.5, 1, 2, -0.4, -0.4, 0.5, 0.3, 0, 0, 3], 3, 2, CovarianceType.Full);
        var rows = Draw(model, 20_000, 0.2, 8);
        var tail = MixtureTail.Of(model);
        var below = 0;
        for (var i = 0; i < rows.Rows; i++)
        {
            var exact = tail.Probability(rows.Row(i), model.Weights);
            foreach (var stopAt in new[] { 1e-3, 0.05, 0.5 })
            {
                var stopped = tail.Probability(rows.Row(i), model.Weights, stopAt);
                if (exact < stopAt)
                {
                    Assert.Equal(exact, stopped);
                    below++;
                }
                else
                {
                    Assert.True(stopped >= stopAt && stopped <= exact + 1e-15, $"row {i}: {stopped} against {exact}, stop at {stopAt}");
                }
            }
        }

        Assert.True(below > 2_000, $"the check must see rows on both sides: {below} below");
    }

    /// <summary>A calm/volatile market (sd 1 and 4, 1 % switches a row) in 2-D, at <paramref name="scale"/>.</summary>
    /// <summary>
    /// A row missing few of many values takes the precision (no factor of its own pattern is made or kept): its tail equals
    /// that of the complete sub-row under the mixture's marginal on the observed coordinates (the tail's definition).
    /// </summary>
    [Fact]
    public void Probability_RowsMissingFewOfManyValues_EqualTheMarginalMixturesTailOfTheirObservedPart()
    {
        const int k = 3, d = 14;
        var rng = new DeterministicRandom(61);
        var means = new double[k * d];
        var covariances = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            // Σ = A·Aᵀ + I: correlated columns, positive definite.
            var a = new double[d * d];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = 0.4 * rng.NextGaussian();
            }

            for (var i = 0; i < d; i++)
            {
                means[(c * d) + i] = 3.0 * c + rng.NextGaussian();
                for (var j = 0; j < d; j++)
                {
                    var v = i == j ? 1.0 : 0.0;
                    for (var r = 0; r < d; r++)
                    {
                        v += a[(i * d) + r] * a[(j * d) + r];
                    }

                    covariances[(c * d * d) + (i * d) + j] = v;
                }
            }
        }

        double[] weights = [0.5, 0.3, 0.2];
        Assert.True(GmmParameters.RowByPrecision(d - 2, 2, densityOnly: true));
        var tail = new MixtureTail(means, covariances, k, d);
        for (var trial = 0; trial < 200; trial++)
        {
            var x = new double[d];
            var c0 = rng.NextInt(k);
            for (var j = 0; j < d; j++)
            {
                x[j] = means[(c0 * d) + j] + (2.0 * rng.NextGaussian());
            }

            var missing = 1 + rng.NextInt(2);
            for (var a = 0; a < missing; a++)
            {
                x[rng.NextInt(d)] = double.NaN;
            }

            var obs = Enumerable.Range(0, d).Where(j => !double.IsNaN(x[j])).ToArray();
            var o = obs.Length;
            var subMeans = new double[k * o];
            var subCovariances = new double[k * o * o];
            for (var c = 0; c < k; c++)
            {
                for (var i = 0; i < o; i++)
                {
                    subMeans[(c * o) + i] = means[(c * d) + obs[i]];
                    for (var j = 0; j < o; j++)
                    {
                        subCovariances[(c * o * o) + (i * o) + j] = covariances[(c * d * d) + (obs[i] * d) + obs[j]];
                    }
                }
            }

            var expected = new MixtureTail(subMeans, subCovariances, k, o).Probability(obs.Select(j => x[j]).ToArray(), weights);
            var actual = tail.Probability(x, weights);
            Assert.True(Math.Abs(actual - expected) <= (1e-9 * expected) + 1e-300, $"trial {trial}: {actual:R} against {expected:R}");
        }
    }

    private static GaussianHmm Market(double scale) => GaussianHmm.Create(
        [0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [0, 0, 0, 0],
        [scale * scale, 0.3 * scale * scale, 0.3 * scale * scale, scale * scale, 16 * scale * scale, 0, 0, 16 * scale * scale],
        2, 2, CovarianceType.Full);

    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(1e-4, 0.3)]
    public void HmmTailProbabilities_ItsOwnSequence_AtMostAboutAlphaFlagged_AndAMoveInACalmStretchFlagged(double scale, double missing)
    {
        var hmm = Market(scale);
        var states = new int[300_000];
        var rows = hmm.Sample(states.Length, 9, states);
        var values = rows.Values.ToArray();
        var rng = new Random(4);
        for (var i = 0; i < states.Length; i++)
        {
            if (rng.NextDouble() < missing)
            {
                values[(2 * i) + rng.Next(2)] = double.NaN;
            }
        }

        // A row becomes (8, 8) calm sds after 50 calm rows: 2 volatile sds in each column, yet a switch is rare (1 %), so the row is.
        var move = Enumerable.Range(150_000, 100_000).First(t => Enumerable.Range(t - 50, 51).All(u => states[u] == 0));
        (values[2 * move], values[(2 * move) + 1]) = (8 * scale, 8 * scale);
        var tail = new double[states.Length];
        hmm.TailProbabilities(new DataMatrix(values, states.Length, 2), tail);

        Assert.True(tail[move] < 1e-3, $"the move: {tail[move]}");
        tail[move] = 1;
        foreach (var alpha in new[] { 1e-3, 1e-2, 0.1 })
        {
            Assert.InRange(Share(tail, alpha), 0.35 * alpha, 1.15 * alpha);
        }
    }

    [Fact]
    public void TailProbabilities_FarRowsAreTiny_NearRowsLarge_AndMissingValuesDoNotMakeARowAnomalous()
    {
        var model = OneGaussian(1);
        var rows = new DataMatrix([1, -2, 5, 1, -2, double.NaN, 1 + 30, -2, 5, double.NaN, double.NaN, 5 + 100], 4, 3);
        var tails = Tails(model, rows);
        Assert.True(tails[0] > 0.99, $"the mean: {tails[0]}");
        Assert.True(tails[1] > 0.99, $"the mean, one value missing: {tails[1]}");
        Assert.True(tails[2] < 1e-20, $"15 sd out: {tails[2]}");
        Assert.InRange(tails[3], 0.0, 1e-300);
    }
}
