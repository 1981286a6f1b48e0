using EmStreaming.Numerics.Hmm;
using static EmStreaming.Numerics.Tests.Hmm.HmmTestData;

namespace EmStreaming.Numerics.Tests.Hmm;

public sealed class GaussianHmmEMTests
{
    [Fact]
    public void Fit_StickyThreeStateHmm_ReachesTrueLogLikelihoodAndDecodesAbove99Percent()
    {
        var fit = GaussianHmmEM.Fit(Data, new HmmFitOptions { States = K });
        var trueMean = Truth.Score(Data);

        // The MLE can only be above the truth; EM must get within 0.001 nats/observation of it from below.
        Assert.True(fit.MeanLogLikelihood >= trueMean - 0.001, $"fit {fit.MeanLogLikelihood:R} vs truth {trueMean:R}");
        Assert.Equal(fit.Model.Score(Data), fit.MeanLogLikelihood, 1e-9);

        var perm = MatchByMeans(fit.Model.Means, TrueMeans, K, D);
        var path = fit.Model.Decode(Data);
        Assert.True(Accuracy(path, States, perm) >= 0.99, $"accuracy {Accuracy(path, States, perm)}");
        for (var i = 0; i < K; i++)
        {
            for (var j = 0; j < K; j++)
            {
                Assert.Equal(TrueTransitions[(i * K) + j], fit.Model.Transitions[(perm[i] * K) + perm[j]], 0.01);
            }
        }
    }

    [Fact]
    public void Fit_LevelChangeSeriesDefaultSettings_PlacesChangeAtTrueIndex()
    {
        // ~100 noisy points, one abrupt level change at index 60 (noise sd 1, jump 2.5 sd).
        const int n = 100;
        const int change = 60;
        var rng = new Random(7);
        var values = new double[n];
        for (var t = 0; t < n; t++)
        {
            var level = t < change ? 1.0 : 3.5;
            values[t] = level + Gaussian(rng);
        }

        var data = new DataMatrix(values, n, 1);
        var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2 });
        var path = fit.Model.Decode(data);
        var first = path[0];
        Assert.All(path.AsSpan(0, change).ToArray(), s => Assert.Equal(first, s));
        Assert.All(path.AsSpan(change).ToArray(), s => Assert.NotEqual(first, s));
    }

    [Fact]
    public void Fit_ColumnMajorSourceConvertedToRows_GivesBitIdenticalResult()
    {
        // The trap: a column-major buffer handed over as if it were row-major. DataMatrix is row-major only, so
        // the caller converts; the converted matrix and the jagged-array matrix must give the very same fit.
        var data = Data;
        var n = 2000;
        var rowMajor = data.Values[..(n * D)].ToArray();
        var columnMajor = new double[n * D];
        for (var t = 0; t < n; t++)
        {
            for (var i = 0; i < D; i++)
            {
                columnMajor[(i * n) + t] = rowMajor[(t * D) + i];
            }
        }

        var fromColumns = new double[n * D];
        for (var t = 0; t < n; t++)
        {
            for (var i = 0; i < D; i++)
            {
                fromColumns[(t * D) + i] = columnMajor[(i * n) + t];
            }
        }

        var jagged = Enumerable.Range(0, n).Select(t => new[] { rowMajor[t * D], rowMajor[(t * D) + 1] }).ToArray();
        var fromJagged = jagged.SelectMany(r => r).ToArray();

        var options = new HmmFitOptions { States = K, Seed = 3 };
        var a = GaussianHmmEM.Fit(new DataMatrix(rowMajor, n, D), options);
        var b = GaussianHmmEM.Fit(new DataMatrix(fromColumns, n, D), options);
        var c = GaussianHmmEM.Fit(new DataMatrix(fromJagged, n, D), options);
        Assert.Equal(a.MeanLogLikelihood, b.MeanLogLikelihood);
        Assert.Equal(a.MeanLogLikelihood, c.MeanLogLikelihood);
        Assert.Equal(a.Model.Means.ToArray(), b.Model.Means.ToArray());
        Assert.Equal(a.Model.Transitions.ToArray(), c.Model.Transitions.ToArray());

        // And the mistake itself is visible: reading the column-major buffer as rows is a different data set.
        var wrong = GaussianHmmEM.Fit(new DataMatrix(columnMajor, n, D), options);
        Assert.NotEqual(a.MeanLogLikelihood, wrong.MeanLogLikelihood);
    }

    [Fact]
    public void Fit_MoreStatesThanClusters_NoNaNAnywhere()
    {
        // Two well-separated clusters, five states: some states end up with (near) zero occupancy.
        var rng = new Random(11);
        const int n = 400;
        var values = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            var c = t < n / 2 ? 0.0 : 50.0;
            values[t * 2] = c + (0.01 * Gaussian(rng));
            values[(t * 2) + 1] = c + (0.01 * Gaussian(rng));
        }

        var data = new DataMatrix(values, n, 2);
        foreach (var type in new[] { CovarianceType.Full, CovarianceType.Diag })
        {
            var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 5, Covariance = type, MaxIterations = 50 });
            AssertFinite(fit.Model);
            Assert.True(double.IsFinite(fit.MeanLogLikelihood));
        }

        // A warm start with a state far from every observation: its occupancy is exactly zero after one E-step.
        var warm = GaussianHmm.Create(
            [0.5, 0.25, 0.25],
            [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8],
            [0, 0, 50, 50, 1e6, 1e6],
            [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1],
            3,
            2,
            CovarianceType.Full);
        var warmFit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 3, WarmStart = warm, MaxIterations = 5 });
        AssertFinite(warmFit.Model);
    }

    [Fact]
    public void Fit_ConstantSeries_FiniteModelWithFlooredVariance()
    {
        var data = new DataMatrix(Enumerable.Repeat(2.5, 200).ToArray(), 100, 2);
        var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2 });
        AssertFinite(fit.Model);
        Assert.True(double.IsFinite(fit.MeanLogLikelihood));
        Assert.All(fit.Model.Means.ToArray(), m => Assert.Equal(2.5, m, 1e-9));
    }

    [Fact]
    public void Fit_TenPercentMissingEntries_RecoversParametersAndDecodes()
    {
        var n = 20_000;
        var full = Data.Values[..(n * D)].ToArray();
        var holed = (double[])full.Clone();
        var rng = new Random(5);
        for (var t = 0; t < n; t++)
        {
            if (rng.NextDouble() < 0.1)
            {
                holed[(t * D) + rng.Next(D)] = double.NaN;
            }
        }

        var data = new DataMatrix(holed, n, D);
        var fit = GaussianHmmEM.Fit(data, new HmmFitOptions { States = K });
        AssertFinite(fit.Model);
        var perm = MatchByMeans(fit.Model.Means, TrueMeans, K, D);
        for (var s = 0; s < K; s++)
        {
            for (var i = 0; i < D; i++)
            {
                Assert.Equal(TrueMeans[(s * D) + i], fit.Model.Means[(perm[s] * D) + i], 0.06);
            }

            for (var i = 0; i < D * D; i++)
            {
                Assert.Equal(TrueCovariances[(s * D * D) + i], fit.Model.Covariances[(perm[s] * D * D) + i], 0.1);
            }
        }

        Assert.True(Accuracy(fit.Model.Decode(data), States.AsSpan(0, n), perm) >= 0.98);
    }

    [Fact]
    public void Fit_RowWithNoObservedValue_ThrowsNamingTheRow()
    {
        var values = new double[] { 1, 2, 3, 4, double.NaN, double.NaN, 5, 6 };
        var ex = Assert.Throws<ArgumentException>(() => GaussianHmmEM.Fit(new DataMatrix(values, 4, 2), new HmmFitOptions { States = 2 }));
        Assert.Contains("row 2", ex.Message);
    }

    /// <summary>Two sticky regimes in column 0 (near 1000 and 1010) and column 1 (near 500 and 520), 300 rows.</summary>
    private static DataMatrix TwoColumnRegimes(ulong seed) =>
        GaussianHmm.Create([0.5, 0.5], [0.95, 0.05, 0.05, 0.95], [1000, 500, 1010, 520], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full).Sample(300, seed);

    private static DataMatrix WithColumnMissing(DataMatrix data, int column)
    {
        var values = data.Values.ToArray();
        for (var i = column; i < values.Length; i += data.Columns)
        {
            values[i] = double.NaN;
        }

        return new DataMatrix(values, data.Rows, data.Columns);
    }

    [Theory]
    [InlineData(CovarianceType.Full, false)]
    [InlineData(CovarianceType.Diag, false)]
    [InlineData(CovarianceType.Full, true)]
    public void Fit_ColumnNeverObserved_ThrowsNamingTheColumnInsteadOfInventingMeanZeroVarianceOne(CovarianceType type, bool warmStart)
    {
        // Column 1 is missing in every row. Baum–Welch used to keep the initializer's placeholders for it (μ = 0, σ² = 1, a
        // fixed point: the conditional mean of a never-observed column is its own mean), so filters, scores and imputation
        // used a column at 0 whose real values sit near 500; with a warm start it kept the start's values unchecked.
        var data = WithColumnMissing(TwoColumnRegimes(3), 1);
        var options = new HmmFitOptions { States = 2, Covariance = type, Seed = 1 };
        if (warmStart)
        {
            options = options with { WarmStart = GaussianHmmEM.Fit(TwoColumnRegimes(4), options).Model };
        }

        var ex = Assert.Throws<ArgumentException>(() => GaussianHmmEM.Fit(data, options));

        Assert.Contains("column 1 has no observed value", ex.Message);
    }

    [Fact]
    public void Fit_ColumnObservedInOneSequenceOnly_FitsItFromThatSequence()
    {
        // The check is over all sequences: a column missing from one sequence and observed in another is estimable.
        var a = WithColumnMissing(TwoColumnRegimes(5), 1);
        var b = TwoColumnRegimes(6);
        Assert.Throws<ArgumentException>(() => GaussianHmmEM.Fit([a, WithColumnMissing(b, 1)], new HmmFitOptions { States = 2, Seed = 1 }));

        var fit = GaussianHmmEM.Fit([a, b], new HmmFitOptions { States = 2, Seed = 1 });

        var means = new[] { fit.Model.Means[1], fit.Model.Means[3] }.Order().ToArray();
        Assert.Equal(500, means[0], 2.0);
        Assert.Equal(520, means[1], 2.0);
    }

    [Fact]
    public void Fit_TwoSequences_LikelihoodIsSumOverSequencesWithoutCrossTransition()
    {
        var a = new DataMatrix(Data.Values[..(3000 * D)].ToArray(), 3000, D);
        var b = new DataMatrix(Data.Values.Slice(50_000 * D, 2000 * D).ToArray(), 2000, D);
        var fit = GaussianHmmEM.Fit([a, b], new HmmFitOptions { States = K });
        var sum = fit.Model.LogLikelihood(a) + fit.Model.LogLikelihood(b);
        Assert.Equal(sum / 5000, fit.MeanLogLikelihood, 1e-9);
        Assert.Equal(5000, fit.Observations);

        // Concatenating would add one transition between the sequences: a different likelihood.
        var joined = new DataMatrix([.. a.Values, .. b.Values], 5000, D);
        Assert.NotEqual(sum, fit.Model.LogLikelihood(joined));
        var perm = MatchByMeans(fit.Model.Means, TrueMeans, K, D);
        for (var i = 0; i < K * D; i++)
        {
            Assert.Equal(TrueMeans[i], fit.Model.Means[(perm[i / D] * D) + (i % D)], 0.1);
        }
    }

    [Fact]
    public void Fit_InvalidOptions_ThrowNamingTheOption()
    {
        var data = new DataMatrix([1, 2, 3, 4], 4, 1);
        Assert.Equal("States", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianHmmEM.Fit(data, new HmmFitOptions { States = 0 })).ParamName);
        Assert.Equal("Covariance", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2, Covariance = CovarianceType.Tied })).ParamName);
        Assert.Equal("TransitionPseudoCount", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianHmmEM.Fit(data, new HmmFitOptions { States = 2, TransitionPseudoCount = -1 })).ParamName);
    }

    internal static void AssertFinite(GaussianHmm model)
    {
        Assert.All(model.StartProbabilities.ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(model.Transitions.ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(model.Means.ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(model.Covariances.ToArray(), v => Assert.True(double.IsFinite(v)));
        for (var i = 0; i < model.States; i++)
        {
            Assert.Equal(1.0, model.Transitions.Slice(i * model.States, model.States).ToArray().Sum(), 1e-12);
        }
    }

    internal static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
