namespace EmStreaming.Numerics.Gmm;

/// <summary>Batch expectation–maximization for Gaussian mixtures, with missing values marginalized.</summary>
public static class GaussianMixtureEM
{
    /// <summary>
    /// Fits a mixture by EM with <see cref="GmmFitOptions.Restarts"/> restarts and keeps the best final log-likelihood.
    /// The same data, options and seed give a bit-identical result whatever the degree of parallelism.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">Fewer rows than components, a row with no observed value (named), or a warm start of the wrong shape.</exception>
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
        for (var restart = 0; restart < restarts; restart++)
        {
            ct.ThrowIfCancellationRequested();
            if (options.WarmStart is { } start)
            {
                engine.InitializeFrom(start.Parameters);
            }
            else
            {
                engine.Initialize(options.Initialization, DeterministicRandom.DeriveSeed(options.Seed, (ulong)restart));
            }

            var trace = new List<double>(options.MaxIterations);
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
                if (engine.Reseeded == 0 && Math.Abs(current - previous) < options.Tolerance)
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

        return new GmmFitResult(new GaussianMixture(bestParameters!), bestConverged, bestIterations, bestTrace!, bestScore, bestRestart, data.Rows);
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
