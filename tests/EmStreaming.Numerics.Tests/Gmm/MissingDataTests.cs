using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Tests.Gmm;

public sealed class MissingDataTests
{
    [Fact]
    public void Fit_TwentyPercentMissing_MeansWithinPointOneOfCompleteDataFit()
    {
        var truth = Synthetic.Truth(3, 4);
        var complete = truth.Sample(3000, seed: 11);
        var holed = Synthetic.RemoveAtRandom(complete, 0.2, seed: 12);
        var options = new GmmFitOptions { Components = 3, Tolerance = 1e-8, MaxIterations = 500, Restarts = 3, Seed = 3 };

        var full = GaussianMixtureEM.Fit(complete, options).Model;
        var partial = GaussianMixtureEM.Fit(holed, options).Model;

        // Tolerance 0.1 (components have unit variances and sit 6 apart; the complete-data fit's own standard error is
        // about 0.03 per mean, losing 20% of entries may add a similar amount).
        var d = 4;
        for (var k = 0; k < 3; k++)
        {
            var mu = full.Means.Slice(k * d, d).ToArray();
            var best = Enumerable.Range(0, 3).MinBy(j => Distance(mu, partial.Means.Slice(j * d, d)));
            for (var i = 0; i < d; i++)
            {
                Assert.Equal(mu[i], partial.Means[(best * d) + i], 0.1);
            }
        }
    }

    [Fact]
    public void Impute_TwentyPercentMissing_RmseAtLeastThirtyPercentBelowColumnMean()
    {
        var truth = Synthetic.Truth(3, 4);
        var complete = truth.Sample(3000, seed: 21);
        var holed = Synthetic.RemoveAtRandom(complete, 0.2, seed: 22);
        var fit = GaussianMixtureEM.Fit(holed, new GmmFitOptions { Components = 3, Tolerance = 1e-6, Restarts = 3, Seed = 5 });

        var imputed = fit.Model.Impute(holed);

        var d = holed.Columns;
        var columnMean = Enumerable.Range(0, d).Select(j => Enumerable.Range(0, holed.Rows).Select(i => holed[i, j]).Where(v => !double.IsNaN(v)).Average()).ToArray();
        double errModel = 0, errMean = 0;
        var missing = 0;
        for (var i = 0; i < holed.Rows; i++)
        {
            for (var j = 0; j < d; j++)
            {
                if (double.IsNaN(holed[i, j]))
                {
                    missing++;
                    errModel += Math.Pow(imputed[i, j] - complete[i, j], 2);
                    errMean += Math.Pow(columnMean[j] - complete[i, j], 2);
                }
                else
                {
                    Assert.Equal(holed[i, j], imputed[i, j]);
                }
            }
        }

        Assert.InRange(missing, 2000, 2800);
        var rmseModel = Math.Sqrt(errModel / missing);
        var rmseMean = Math.Sqrt(errMean / missing);
        Assert.True(rmseModel <= 0.7 * rmseMean, $"model RMSE {rmseModel}, column-mean RMSE {rmseMean}");
    }

    [Fact]
    public void ScoreSamples_MissingEntry_EqualsMarginalDensityOfObservedPart()
    {
        // One component, Σ = [[2, 1], [1, 3]], μ = (1, −1); x = (NaN, 0.5) → log N(0.5; −1, 3).
        var model = GaussianMixture.Create([1.0], [1.0, -1.0], [2.0, 1.0, 1.0, 3.0], 1, 2, CovarianceType.Full);
        var data = new DataMatrix([double.NaN, 0.5, 0.2, double.NaN], 2, 2);
        var scores = new double[2];

        model.ScoreSamples(data, scores);

        Assert.Equal(LogNormal(0.5, -1.0, 3.0), scores[0], 1e-12);
        Assert.Equal(LogNormal(0.2, 1.0, 2.0), scores[1], 1e-12);
    }

    [Fact]
    public void Impute_SingleComponent_ReturnsConditionalMean()
    {
        var model = GaussianMixture.Create([1.0], [1.0, -1.0], [2.0, 1.0, 1.0, 3.0], 1, 2, CovarianceType.Full);
        var data = new DataMatrix([double.NaN, 0.5], 1, 2);

        var imputed = model.Impute(data);

        // E[x1 | x2] = μ1 + Σ12/Σ22 (x2 − μ2) = 1 + (1/3)(1.5) = 1.5.
        Assert.Equal(1.5, imputed[0, 0], 1e-12);
        Assert.Equal(0.5, imputed[0, 1]);
    }

    [Fact]
    public void Impute_RowWithNoObservedValue_GetsTheMixtureMean_OtherRowsAsWithoutIt()
    {
        var model = GaussianMixture.Create([0.25, 0.75], [0.0, 4.0, 8.0, -2.0], [1.0, 0.3, 0.3, 2.0, 1.5, -0.2, -0.2, 0.5], 2, 2, CovarianceType.Full);
        var alone = model.Impute(new DataMatrix([double.NaN, 3.0, 7.5, double.NaN], 2, 2));

        var imputed = model.Impute(new DataMatrix([double.NaN, double.NaN, double.NaN, 3.0, 7.5, double.NaN, double.NaN, double.NaN], 4, 2));

        // E[x] with nothing to condition on: Σ w_k μ_k = (0.25·0 + 0.75·8, 0.25·4 + 0.75·(−2)) = (6, −0.5).
        Assert.Equal(6.0, imputed[0, 0], 1e-12);
        Assert.Equal(-0.5, imputed[0, 1], 1e-12);
        Assert.Equal(6.0, imputed[3, 0], 1e-12);
        Assert.Equal(-0.5, imputed[3, 1], 1e-12);
        Assert.Equal(alone[0, 0], imputed[1, 0]);
        Assert.Equal(3.0, imputed[1, 1]);
        Assert.Equal(7.5, imputed[2, 0]);
        Assert.Equal(alone[1, 1], imputed[2, 1]);
        Assert.Equal(model.MixtureMean(), new[] { imputed[0, 0], imputed[0, 1] });
    }

    [Fact]
    public void Impute_EveryRowEmpty_AllGetTheMixtureMean()
    {
        var model = GaussianMixture.Create([0.5, 0.5], [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0], 2, 2, CovarianceType.Full);

        var imputed = model.Impute(new DataMatrix([double.NaN, double.NaN], 1, 2));

        Assert.Equal(2.0, imputed[0, 0], 1e-12);
        Assert.Equal(3.0, imputed[0, 1], 1e-12);
    }

    [Fact]
    public void Fit_RowWithNoObservedValue_ThrowsNamingTheRow()
    {
        var values = Synthetic.Random(20, 2, 1).Values.ToArray();
        values[34] = double.NaN;
        values[35] = double.NaN;
        var data = new DataMatrix(values, 20, 2);

        var ex = Assert.Throws<ArgumentException>(() => GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 2 }));

        Assert.Contains("row 17 has no observed value", ex.Message);
    }

    [Fact]
    public void Fit_ColumnNeverObserved_ThrowsNamingTheColumnInsteadOfInventingMeanZeroVarianceOne()
    {
        // Column 1 is missing in every row: nothing in the data says where it lies. The fit used to return μ = 0, σ² = 1 for
        // it (the provisional model's placeholders, a fixed point of EM) and Impute then filled 0 for a column of values near
        // 1000; the online estimator refuses such warm-up data and the drift refit and ChooseForImputation expect Fit to throw.
        var values = new double[40 * 2];
        var rng = new DeterministicRandom(3);
        for (var i = 0; i < 40; i++)
        {
            values[2 * i] = 1000 + rng.NextGaussian();
            values[(2 * i) + 1] = double.NaN;
        }

        var data = new DataMatrix(values, 40, 2);

        var ex = Assert.Throws<ArgumentException>(() => GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 1, Seed = 1 }));

        Assert.Contains("column 1 has no observed value", ex.Message);
    }

    [Fact]
    public void ChooseForImputation_ColumnWithOneObservedValue_NeverHidesItAndReturnsCandidates()
    {
        // A column observed in one row only: hiding that entry would leave the fold with a column the fit cannot estimate.
        var values = Synthetic.Random(60, 3, 5).Values.ToArray();
        for (var i = 1; i < 60; i++)
        {
            values[(3 * i) + 2] = double.NaN;
        }

        for (ulong seed = 0; seed < 20; seed++)
        {
            var choice = GaussianMixtureEM.ChooseForImputation(new DataMatrix(values, 60, 3), new GmmFitOptions { Components = 1, Seed = seed, MaxIterations = 20 }, 2, [CovarianceType.Diag]);
            Assert.Equal(2, choice.Candidates.Count);
        }
    }

    [Fact]
    public void ChooseForImputation_ColumnNeverObserved_ThrowsNamingTheColumn()
    {
        var values = Synthetic.Random(60, 3, 5).Values.ToArray();
        for (var i = 0; i < 60; i++)
        {
            values[3 * i] = double.NaN;
        }

        var ex = Assert.Throws<ArgumentException>(() => GaussianMixtureEM.ChooseForImputation(new DataMatrix(values, 60, 3), new GmmFitOptions { Components = 1, Seed = 1 }, 2, [CovarianceType.Diag]));

        Assert.Contains("column 0 has no observed value", ex.Message);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void WorkspaceAccumulate_GivenResponsibilitiesWithMissing_EqualsRowByRowStatistics(CovarianceType type)
    {
        var truth = Synthetic.Truth(2, 3);
        var data = Synthetic.RemoveAtRandom(truth.Sample(9000, seed: 31), 0.25, seed: 32);
        var model = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = 2, Covariance = type, MaxIterations = 3, Seed = 1 }).Model.Parameters;
        var rng = new DeterministicRandom(33);
        var resp = new double[data.Rows * 2];
        for (var i = 0; i < resp.Length; i++)
        {
            resp[i] = rng.NextDouble();
        }

        using var workspace = new GmmWorkspace(data, 2, type, maxDegreeOfParallelism: 2);
        var chunked = workspace.CreateStatistics();
        workspace.Accumulate(model, resp, chunked);
        var rowByRow = workspace.CreateStatistics();
        rowByRow.ResetOrigins(model.Means); // a pass takes each component's statistics about the mean it runs under
        var scratch = new double[GmmParameters.RowScratchLength(3)];
        for (var i = 0; i < data.Rows; i++)
        {
            rowByRow.AccumulateRow(data.Row(i), resp.AsSpan(i * 2, 2), model, scratch);
        }

        AssertClose(rowByRow.S0, chunked.S0);
        AssertClose(rowByRow.S1, chunked.S1);
        AssertClose(rowByRow.S2, chunked.S2);
    }

    /// <summary>
    /// Rows through the full precision (Schur complements of Σ⁻¹, the path for rare patterns) give what factoring each
    /// pattern's Σ_oo gives: log densities, log-likelihood, statistics (conditional means and covariances) and imputations,
    /// for every covariance type, on a wide data set where nearly every row has its own pattern, and with strongly
    /// correlated columns (a condition number near 1e6).
    /// </summary>
    [Theory]
    [InlineData(CovarianceType.Full, 0.0)]
    [InlineData(CovarianceType.Diag, 0.0)]
    [InlineData(CovarianceType.Spherical, 0.0)]
    [InlineData(CovarianceType.Tied, 0.0)]
    [InlineData(CovarianceType.Full, 0.9995)]
    public void Workspace_RowsThroughThePrecision_EqualTheFactoredPatterns(CovarianceType type, double correlation)
    {
        const int n = 600, d = 24, k = 3;
        var rng = new DeterministicRandom(41);
        var values = new double[n * d];
        for (var i = 0; i < n; i++)
        {
            var centre = 4.0 * rng.NextInt(k);
            var shared = rng.NextGaussian();
            for (var j = 0; j < d; j++)
            {
                // Columns share a common factor: their correlation is about `correlation`.
                values[(i * d) + j] = centre + (j * 0.1) + (Math.Sqrt(correlation) * shared) + (Math.Sqrt(1 - correlation) * rng.NextGaussian());
            }
        }

        for (var i = 0; i < n; i++)
        {
            // 1 to 6 missing values per row, some rows complete: hundreds of distinct patterns.
            var missing = rng.NextInt(7);
            for (var a = 0; a < missing; a++)
            {
                values[(i * d) + rng.NextInt(d)] = double.NaN;
            }
        }

        var data = new DataMatrix(values, n, d);
        var model = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = k, Covariance = type, MaxIterations = 5, Seed = 1 }).Model.Parameters;
        using var factored = new GmmWorkspace(data, k, type, maxDegreeOfParallelism: 2, byPrecision: false);
        using var direct = new GmmWorkspace(data, k, type, maxDegreeOfParallelism: 2, byPrecision: true);
        var tolerance = correlation > 0 ? 1e-7 : 1e-10;

        var densitiesF = new double[n * k];
        var densitiesD = new double[n * k];
        factored.LogDensities(model, densitiesF);
        direct.LogDensities(model, densitiesD);
        AssertClose(densitiesF, densitiesD, tolerance);

        var statsF = factored.CreateStatistics();
        var statsD = direct.CreateStatistics();
        var llF = factored.Expectation(model, statsF);
        var llD = direct.Expectation(model, statsD);
        Assert.Equal(llF, llD, tolerance * Math.Abs(llF));
        AssertClose(statsF.S0, statsD.S0, tolerance);
        AssertClose(statsF.S1, statsD.S1, tolerance);
        AssertClose(statsF.S2, statsD.S2, tolerance);

        var imputedF = (double[])values.Clone();
        var imputedD = (double[])values.Clone();
        factored.Impute(model, imputedF);
        direct.Impute(model, imputedD);
        AssertClose(imputedF, imputedD, tolerance);
    }

    /// <summary>
    /// The row-by-row kernels the online estimators use (log densities with their normalizers, and statistics) take the
    /// precision for rows missing few of many values: they equal the factored patterns of a workspace, for every
    /// covariance type.
    /// </summary>
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diag)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void RowKernels_ThroughThePrecision_EqualTheFactoredPatterns(CovarianceType type)
    {
        const int n = 300, d = 20, k = 2;
        var truth = Synthetic.Truth(k, d);
        var data = Synthetic.RemoveAtRandom(truth.Sample(n, seed: 51), 0.1, seed: 52);
        Assert.True(GmmParameters.RowByPrecision(18, 2, densityOnly: true) && GmmParameters.RowByPrecision(18, 2, densityOnly: false));
        var model = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = k, Covariance = type, MaxIterations = 3, Seed = 1 }).Model.Parameters;
        using var factored = new GmmWorkspace(data, k, type, maxDegreeOfParallelism: 1, byPrecision: false);
        var expected = new double[n * k];
        factored.LogDensities(model, expected);

        var scratch = new double[GmmParameters.RowScratchLength(d)];
        var row = new double[k];
        var normalizers = new double[k];
        var resp = new double[n * k];
        var rowByRow = factored.CreateStatistics();
        rowByRow.ResetOrigins(model.Means); // a pass takes each component's statistics about the mean it runs under
        for (var i = 0; i < n; i++)
        {
            model.LogDensitiesRow(data.Row(i), row, scratch, normalizers);
            for (var c = 0; c < k; c++)
            {
                Assert.Equal(expected[(i * k) + c], row[c], 1e-10 * Math.Max(1, Math.Abs(row[c])));
            }

            resp[i * k] = 0.3 + (0.4 * (i % 2));
            resp[(i * k) + 1] = 1 - resp[i * k];
            rowByRow.AccumulateRow(data.Row(i), resp.AsSpan(i * k, k), model, scratch);
        }

        var chunked = factored.CreateStatistics();
        factored.Accumulate(model, resp, chunked);
        AssertClose(chunked.S0, rowByRow.S0, 1e-10);
        AssertClose(chunked.S1, rowByRow.S1, 1e-10);
        AssertClose(chunked.S2, rowByRow.S2, 1e-10);
    }

    /// <summary>
    /// A component whose two missing columns are almost the same variable (given the observed ones) can have a P_mm whose
    /// computed entries, of size 1/ε², lose its Schur pivot of size 1: its Cholesky factor fails while Σ's did not. Every
    /// kernel on the precision path then factors the row's own Σ_oo instead and still gets the exact answer. Here
    /// x_o ~ N(0, I), x_0 = aᵀx_o + u and x_1 = x_0 + ε(bᵀx_o + w) (u, w standard normal), the columns in a random order:
    /// the log density of a row missing x_0 and x_1 is the observed columns' standard normal, the conditional means are
    /// aᵀx_o and (a + εb)ᵀx_o, and the conditional covariance is [[1, 1], [1, 1 + ε²]]. The cases are drawn until three
    /// refuse the precision path (about one in 30 does, ε between 1e-9 and 1e-6).
    /// </summary>
    [Fact]
    public void PrecisionPath_PmmNotFactorable_FallsBackToTheRowsOwnFactorOfSigmaOo()
    {
        const int d = 24, o = d - 2;
        Assert.True(GmmWorkspace.ByPrecision(o, m: 2, rows: 1));
        Assert.True(GmmParameters.RowByPrecision(o, 2, densityOnly: true) && GmmParameters.RowByPrecision(o, 2, densityOnly: false));
        var rng = new Random(1);
        var checkedCases = 0;
        for (var attempt = 0; attempt < 3_000 && checkedCases < 3; attempt++)
        {
            var eps = Math.Pow(10, -6 - (3 * rng.NextDouble()));
            var a = new double[o];
            var b = new double[o];
            for (var j = 0; j < o; j++)
            {
                (a[j], b[j]) = (rng.NextDouble() - 0.5, rng.NextDouble() - 0.5);
            }

            // Variables in the order (x_0, x_1, x_o), placed at the columns `at`.
            var at = Enumerable.Range(0, d).OrderBy(_ => rng.Next()).ToArray();
            double aa = a.Sum(v => v * v), ab = a.Zip(b, (u, v) => u * v).Sum(), bb = b.Sum(v => v * v);
            var covariance = new double[d * d];
            void Set(int i, int j, double value) => covariance[(at[i] * d) + at[j]] = covariance[(at[j] * d) + at[i]] = value;
            Set(0, 0, aa + 1);
            Set(0, 1, aa + 1 + (eps * ab));
            Set(1, 1, aa + 1 + (2 * eps * ab) + (eps * eps * (bb + 1)));
            for (var j = 0; j < o; j++)
            {
                Set(2 + j, 2 + j, 1);
                Set(0, 2 + j, a[j]);
                Set(1, 2 + j, a[j] + (eps * b[j]));
            }

            GaussianMixture model;
            try
            {
                model = GaussianMixture.Create([1.0], new double[d], covariance, 1, d, CovarianceType.Full);
            }
            catch (ArgumentException)
            {
                continue; // Σ itself not numerically positive definite at this ε
            }

            var x = new double[d];
            double expected = -0.5 * o * Math.Log(2 * Math.PI), mean0 = 0, mean1 = 0;
            for (var j = 0; j < o; j++)
            {
                var v = (0.1 * j) - 1.2;
                x[at[2 + j]] = v;
                expected -= 0.5 * v * v;
                mean0 += a[j] * v;
                mean1 += (a[j] + (eps * b[j])) * v;
            }

            x[at[0]] = x[at[1]] = double.NaN;
            int[] mis = [.. new[] { at[0], at[1] }.Order()];
            int[] obs = [.. Enumerable.Range(0, d).Where(j => !mis.Contains(j))];
            if (model.Parameters.TryLogDensityMissing(x, obs, mis, 0, new double[d], new double[d * d], new double[d], out _, out _))
            {
                continue; // the precision path works for this one: not the case under test
            }

            checkedCases++;
            var row = new DataMatrix(x, 1, d);
            var logDensity = new double[1];
            model.ScoreSamples(row, logDensity);
            Assert.Equal(expected, logDensity[0], 1e-8);
            var rowKernel = new double[1];
            model.Parameters.LogDensitiesRow(x, rowKernel, new double[GmmParameters.RowScratchLength(d)]);
            Assert.Equal(expected, rowKernel[0], 1e-8);

            var imputed = model.Impute(row);
            Assert.Equal(mean0, imputed[0, at[0]], 1e-7);
            Assert.Equal(mean1, imputed[0, at[1]], 1e-7);
            Assert.Equal(x[at[5]], imputed[0, at[5]]);

            // The statistics of that row about μ = 0: E[x_m] the conditional means, E[x_m x_mᵀ] their products plus the
            // conditional covariance; by the batch workspace and by the online row kernel.
            using var workspace = new GmmWorkspace(row, 1, CovarianceType.Full, maxDegreeOfParallelism: 1);
            var stats = workspace.CreateStatistics();
            stats.ResetOrigins(model.Parameters.Means);
            workspace.Accumulate(model.Parameters, new double[] { 1.0 }, stats);
            var rowByRow = workspace.CreateStatistics();
            rowByRow.ResetOrigins(model.Parameters.Means);
            rowByRow.AccumulateRow(x, [1.0], model.Parameters, new double[GmmParameters.RowScratchLength(d)]);
            foreach (var s in new[] { stats, rowByRow })
            {
                double S2(int i, int j) => s.S2[(Math.Min(i, j) * d) + Math.Max(i, j)]; // the upper triangle is kept
                Assert.Equal(mean0, s.S1[at[0]], 1e-7);
                Assert.Equal(mean1, s.S1[at[1]], 1e-7);
                Assert.Equal(x[at[7]], s.S1[at[7]], 1e-12);
                Assert.Equal((mean0 * mean1) + 1, S2(at[0], at[1]), 1e-6);
                Assert.Equal((mean1 * mean1) + 1, S2(at[1], at[1]), 1e-6);
                Assert.Equal(mean0 * x[at[7]], S2(at[0], at[7]), 1e-7);
                Assert.Equal(x[at[7]] * x[at[9]], S2(at[7], at[9]), 1e-12);
            }
        }

        Assert.Equal(3, checkedCases);
    }

    /// <summary>The choice: a pattern of its own among many columns goes through the precision; a common one, or few columns, is factored.</summary>
    [Fact]
    public void ByPrecision_RarePatternsOfManyColumns_CommonOrNarrowOnesFactored()
    {
        Assert.True(GmmWorkspace.ByPrecision(o: 95, m: 5, rows: 1));
        Assert.True(GmmWorkspace.ByPrecision(o: 30, m: 2, rows: 3));
        Assert.False(GmmWorkspace.ByPrecision(o: 1, m: 1, rows: 1_000));
        Assert.False(GmmWorkspace.ByPrecision(o: 2, m: 1, rows: 50));
        Assert.False(GmmWorkspace.ByPrecision(o: 95, m: 5, rows: 10_000));
        Assert.False(GmmWorkspace.ByPrecision(o: 10, m: 90, rows: 1));
    }

    private static void AssertClose(Span<double> expected, Span<double> actual, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Max(1, Math.Abs(expected[i])), $"entry {i}: {actual[i]:R} against {expected[i]:R}");
        }
    }

    private static void AssertClose(Span<double> expected, Span<double> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-9 * Math.Max(1, Math.Abs(expected[i])));
        }
    }

    private static double LogNormal(double x, double mu, double variance) =>
        (-0.5 * Math.Log(2 * Math.PI * variance)) - ((x - mu) * (x - mu) / (2 * variance));

    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }

        return s;
    }
}
