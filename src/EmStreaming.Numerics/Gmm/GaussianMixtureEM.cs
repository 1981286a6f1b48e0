namespace EmStreaming.Numerics.Gmm;

/// <summary>Batch expectation–maximization for Gaussian mixtures, with missing values marginalized.</summary>
public static class GaussianMixtureEM
{
    /// <summary>
    /// Fits a mixture by EM with <see cref="GmmFitOptions.Restarts"/> restarts and keeps the best final log-likelihood.
    /// The same data, options and seed give a bit-identical result whatever the degree of parallelism.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">Fewer rows than components, a row or a column with no observed value (named), or a warm start of the wrong shape.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled (checked between iterations).</exception>
    public static GmmFitResult Fit(DataMatrix data, GmmFitOptions options, IProgress<GmmProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var k = options.Components;
        if (data.Rows < k)
        {
            throw new ArgumentException($"data has {data.Rows} rows, fewer than Components = {k}", nameof(data));
        }

        if (data.HasMissing)
        {
            // A column with no observed value has no estimate: EM would keep the provisional placeholders (mean 0, variance 1)
            // as a fixed point and impute 0 for it. Refuse it, as the online estimator refuses such warm-up data.
            var empty = DataMatrix.ObservedColumnMeans(data.Values, data.Columns, new double[data.Columns]);
            if (empty >= 0)
            {
                throw new ArgumentException($"column {empty} has no observed value, so the fit cannot estimate it", nameof(data));
            }
        }

        if (options.WarmStart is { } warm && (warm.Components != k || warm.Dimension != data.Columns || warm.CovarianceType != options.Covariance))
        {
            throw new ArgumentException(
                $"WarmStart has K={warm.Components}, D={warm.Dimension}, {warm.CovarianceType}; the fit asks K={k}, D={data.Columns}, {options.Covariance}",
                nameof(options));
        }

        using var workspace = new GmmWorkspace(data, k, options.Covariance, options.MaxDegreeOfParallelism);
        var engine = new GmmEmEngine(workspace, options.RegCovar, options.RelativeRegCovar);
        var restarts = options.WarmStart is null ? options.Restarts : 1;
        GmmParameters? bestParameters = null;
        var bestScore = double.NegativeInfinity;
        List<double>? bestTrace = null;
        var bestConverged = false;
        var bestIterations = 0;
        var bestRestart = 0;
        var n = (double)data.Rows;
        GmmParameters? shortBest = null;
        GmmWorkspace? shortWorkspace = null;
        GmmEmEngine? shortEngine = null;
        try
        {
            for (var restart = 0; restart < restarts; restart++)
            {
                ct.ThrowIfCancellationRequested();
                if (options.WarmStart is { } start)
                {
                    engine.InitializeFrom(start.Parameters);
                }
                else if (options.ShortRuns > 1)
                {
                    // "Small EM" (Biernacki, Celeux & Govaert 2003): a few EM iterations from several k-means++ starts, then the
                    // best of them continues to convergence on all the rows. Most bad starts show within a few iterations; the
                    // short runs use a seeded sample of at most ShortRunRows rows, so they cost a fraction of a full start.
                    shortBest ??= new GmmParameters(k, data.Columns, options.Covariance);
                    shortEngine ??= CreateShortRunEngine(data, options, ref shortWorkspace);
                    var shortScore = double.NegativeInfinity;
                    for (var run = 0; run < options.ShortRuns; run++)
                    {
                        ct.ThrowIfCancellationRequested();
                        shortEngine.Initialize(
                            options.Initialization,
                            DeterministicRandom.DeriveSeed(DeterministicRandom.DeriveSeed(options.Seed, (ulong)restart), (ulong)run),
                            SeedingSpaces.OfStart((restart * options.ShortRuns) + run, options.DiverseSeeding));
                        for (var iteration = 0; iteration < options.ShortRunIterations; iteration++)
                        {
                            shortEngine.Iterate();
                        }

                        if (shortEngine.LogLikelihood > shortScore)
                        {
                            shortScore = shortEngine.LogLikelihood;
                            shortBest.CopyFrom(shortEngine.Parameters);
                        }
                    }

                    engine.InitializeFrom(shortBest);
                }
                else
                {
                    engine.Initialize(options.Initialization, DeterministicRandom.DeriveSeed(options.Seed, (ulong)restart), SeedingSpaces.OfStart(restart, options.DiverseSeeding));
                }

                // Capacity capped: MaxIterations is a bound, not a size (int.MaxValue allocated 16 GiB up front).
                var trace = new List<double>(Math.Min(options.MaxIterations, 1_024));
                var previous = engine.LogLikelihood / n;
                var converged = false;
                var iterations = 0;
                for (var iteration = 1; iteration <= options.MaxIterations; iteration++)
                {
                    ct.ThrowIfCancellationRequested();
                    var current = engine.Iterate() / n;
                    trace.Add(current);
                    iterations = iteration;
                    progress?.Report(new GmmProgress(restart, iteration, current));
                    var change = Math.Abs(current - previous);
                    if (engine.Reseeded == 0 && (change < options.Tolerance || change * n < options.AbsoluteTolerance))
                    {
                        converged = true;
                        break;
                    }

                    previous = current;
                }

                var score = engine.LogLikelihood / n;
                if (bestParameters is null || score > bestScore)
                {
                    bestParameters ??= new GmmParameters(k, data.Columns, options.Covariance);
                    bestParameters.CopyFrom(engine.Parameters);
                    bestScore = score;
                    bestTrace = trace;
                    bestConverged = converged;
                    bestIterations = iterations;
                    bestRestart = restart;
                }
            }

        }
        finally
        {
            shortWorkspace?.Dispose();
        }

        return new GmmFitResult(new GaussianMixture(bestParameters!), bestConverged, bestIterations, bestTrace!, bestScore, bestRestart, data.Rows);
    }

    /// <summary>The engine of the short runs: on all the rows, or on a seeded sample of <see cref="GmmFitOptions.ShortRunRows"/> of them.</summary>
    private static GmmEmEngine CreateShortRunEngine(DataMatrix data, GmmFitOptions options, ref GmmWorkspace? workspace)
    {
        var sample = data;
        var rows = Math.Max(options.ShortRunRows, options.Components);
        if (data.Rows > rows)
        {
            // A partial Fisher–Yates shuffle picks the sample; sorted back so the rows keep their order (and their chunks).
            var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(options.Seed, 0x5EEDu));
            var index = Enumerable.Range(0, data.Rows).ToArray();
            for (var i = 0; i < rows; i++)
            {
                var j = i + rng.NextInt(data.Rows - i);
                (index[i], index[j]) = (index[j], index[i]);
            }

            Array.Sort(index, 0, rows);
            var d = data.Columns;
            var values = new double[rows * d];
            for (var i = 0; i < rows; i++)
            {
                data.Row(index[i]).CopyTo(values.AsSpan(i * d, d));
            }

            sample = new DataMatrix(values, rows, d);
        }

        workspace = new GmmWorkspace(sample, options.Components, options.Covariance, options.MaxDegreeOfParallelism);
        return new GmmEmEngine(workspace, options.RegCovar, options.RelativeRegCovar);
    }

    /// <summary>
    /// Chooses the number of components and the covariance type by BIC: for each type in <paramref name="covarianceTypes"/>,
    /// K = 1, 2, … up to <paramref name="maxComponents"/> (stopping a type once its BIC rose for two K in a row, as a larger K
    /// then only adds parameters), each fitted with <paramref name="options"/> (its Components and Covariance are replaced).
    /// The lowest BIC wins; on a tie, the fewer free parameters.
    /// </summary>
    /// <param name="data">Rows to fit (NaN = missing).</param>
    /// <param name="options">Fit settings (WarmStart must be null).</param>
    /// <param name="maxComponents">Largest K tried (≥ 1); also capped at the rows.</param>
    /// <param name="covarianceTypes">Types to try (at least one).</param>
    /// <param name="progress">Per-iteration progress of every fit, or null.</param>
    /// <param name="ct">Checked between iterations.</param>
    /// <exception cref="ArgumentException">No covariance type, or a warm start.</exception>
    public static GmmModelChoice ChooseByBic(DataMatrix data, GmmFitOptions options, int maxComponents, IReadOnlyList<CovarianceType> covarianceTypes, IProgress<GmmProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(covarianceTypes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxComponents, 1);
        if (covarianceTypes.Count == 0)
        {
            throw new ArgumentException("at least one covariance type is needed", nameof(covarianceTypes));
        }

        if (options.WarmStart is not null)
        {
            throw new ArgumentException("WarmStart cannot be used when choosing the model", nameof(options));
        }

        var candidates = new List<GmmChoiceCandidate>();
        foreach (var type in covarianceTypes)
        {
            var previous = double.PositiveInfinity;
            var rises = 0;
            for (var k = 1; k <= Math.Min(maxComponents, data.Rows); k++)
            {
                var fit = Fit(data, options with { Components = k, Covariance = type }, progress, ct);
                candidates.Add(new GmmChoiceCandidate(k, type, fit.Bic, fit.MeanLogLikelihood, fit));
                rises = fit.Bic > previous ? rises + 1 : 0;
                previous = Math.Min(previous, fit.Bic);
                if (rises >= 2)
                {
                    break;
                }
            }
        }

        return new GmmModelChoice(candidates, bySupportedFits: true);
    }

    /// <summary>
    /// Chooses K and the covariance type for imputation: BIC measures the density, but imputation needs the conditional
    /// distribution of the missing entries given the observed ones (a diagonal mixture can win BIC and impute no better than
    /// the column means). So, three times, a different tenth of the observed entries (seeded; never a row's last observed one)
    /// is hidden, every candidate K = 1..<paramref name="maxComponents"/> × <paramref name="covarianceTypes"/> is fitted on what
    /// remains, and the candidate whose conditional expectations put the hidden entries back with the smallest mean error (per
    /// column in units of the column's standard deviation) wins. Returned candidates carry that error in place of the BIC and
    /// the fit of the last fold.
    /// </summary>
    /// <param name="data">Rows with missing entries (NaN).</param>
    /// <param name="options">Fit settings (WarmStart must be null).</param>
    /// <param name="maxComponents">Largest K tried (≥ 1).</param>
    /// <param name="covarianceTypes">Types to try (at least one).</param>
    /// <param name="progress">Per-iteration progress of every fit, or null.</param>
    /// <param name="ct">Checked between iterations.</param>
    /// <exception cref="ArgumentException">No covariance type, a warm start, a column with no observed value, or too few observed entries to hide any.</exception>
    public static GmmModelChoice ChooseForImputation(DataMatrix data, GmmFitOptions options, int maxComponents, IReadOnlyList<CovarianceType> covarianceTypes, IProgress<GmmProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(covarianceTypes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxComponents, 1);
        if (covarianceTypes.Count == 0 || options.WarmStart is not null)
        {
            throw new ArgumentException("at least one covariance type and no warm start are needed", nameof(covarianceTypes));
        }

        // Three folds: each observed entry is hidden in at most one of them (a tenth of the entries per fold, never a row's last
        // observed one in that fold); a candidate's error is the mean over the folds, steadier than one random split on small data.
        const int folds = 3;
        var d = data.Columns;
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(options.Seed, 0x1A9u));
        var masked = new double[folds][];
        var hidden = new List<int>[folds];
        for (var f = 0; f < folds; f++)
        {
            masked[f] = data.Values.ToArray();
            hidden[f] = [];
        }

        var observedLeft = new int[folds];

        // Per fold and column, observed entries not yet hidden: a column's last one stays, or the fold's fit has nothing to
        // estimate that column from.
        var observedInColumn = new int[d];
        for (var i = 0; i < data.Values.Length; i++)
        {
            if (!double.IsNaN(data.Values[i]))
            {
                observedInColumn[i % d]++;
            }
        }

        if (Array.IndexOf(observedInColumn, 0) is var empty and >= 0)
        {
            throw new ArgumentException($"column {empty} has no observed value, so no model can impute it", nameof(data));
        }

        var columnLeft = new int[folds * d];
        for (var f = 0; f < folds; f++)
        {
            observedInColumn.CopyTo(columnLeft, f * d);
        }

        for (var i = 0; i < data.Rows; i++)
        {
            var observed = 0;
            for (var j = 0; j < d; j++)
            {
                observed += double.IsNaN(data.Values[(i * d) + j]) ? 0 : 1;
            }

            Array.Fill(observedLeft, observed);
            for (var j = 0; j < d; j++)
            {
                var at = (i * d) + j;
                var u = rng.NextDouble();
                var f = (int)(u * 10); // folds 0..2 take a tenth of the entries each; the rest stay observed everywhere
                if (double.IsNaN(data.Values[at]) || f >= folds || observedLeft[f] <= 1 || columnLeft[(f * d) + j] <= 1)
                {
                    continue;
                }

                hidden[f].Add(at);
                masked[f][at] = double.NaN;
                observedLeft[f]--;
                columnLeft[(f * d) + j]--;
            }
        }

        if (hidden.Any(h => h.Count == 0))
        {
            throw new ArgumentException("too few observed entries to validate an imputation model", nameof(data));
        }

        var scale = CovarianceFloor.ColumnVariances(data.Values, d);
        var candidates = new List<GmmChoiceCandidate>();
        foreach (var type in covarianceTypes)
        {
            for (var k = 1; k <= Math.Min(maxComponents, data.Rows); k++)
            {
                var error = 0.0;
                GmmFitResult? fit = null;
                try
                {
                    for (var f = 0; f < folds; f++)
                    {
                        var foldData = new DataMatrix(masked[f], data.Rows, d);
                        fit = Fit(foldData, options with { Components = k, Covariance = type }, progress, ct);
                        var completed = fit.Model.Impute(foldData);
                        var sum = 0.0;
                        foreach (var at in hidden[f])
                        {
                            var column = at % d;
                            var e = completed.Values[at] - data.Values[at];
                            sum += e * e / (scale[column] > 0 ? scale[column] : 1.0);
                        }

                        error += Math.Sqrt(sum / hidden[f].Count) / folds;
                    }
                }
                catch (ArgumentException)
                {
                    break; // a column with no observed value left, or too few rows for K
                }

                candidates.Add(new GmmChoiceCandidate(k, type, error, fit!.MeanLogLikelihood, fit));
            }
        }

        return new GmmModelChoice(candidates, bySupportedFits: false);
    }

    /// <summary>
    /// Fits K = <paramref name="minComponents"/>..<paramref name="maxComponents"/> with <paramref name="options"/> (its
    /// Components is replaced; WarmStart must be null) and returns BIC/AIC per K and the fit with the lowest BIC.
    /// </summary>
    public static GmmModelSelection SelectByBic(DataMatrix data, int minComponents, int maxComponents, GmmFitOptions options, IProgress<GmmProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(minComponents, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxComponents, minComponents);
        if (options.WarmStart is not null)
        {
            throw new ArgumentException("WarmStart cannot be used when selecting the number of components", nameof(options));
        }

        var candidates = new List<GmmSelectionCandidate>();
        for (var k = minComponents; k <= maxComponents; k++)
        {
            var fit = Fit(data, options with { Components = k }, progress, ct);
            candidates.Add(new GmmSelectionCandidate(k, fit.Bic, fit.Aic, fit.MeanLogLikelihood, fit));
        }

        return new GmmModelSelection(candidates);
    }
}
