namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Settings of a batch Baum–Welch fit. Validated by <see cref="Validate"/> (called by
/// <see cref="GaussianHmmEM.Fit(DataMatrix, HmmFitOptions, IProgress{HmmProgress}?, CancellationToken)"/>) with
/// messages naming the option.
/// </summary>
public sealed record HmmFitOptions
{
    /// <summary>
    /// Default convergence tolerance on the mean log-likelihood per observation (nats): 0, i.e. only
    /// <see cref="AbsoluteTolerance"/> decides. A per-row tolerance stops persistent-regime fits early: on daily DAX returns
    /// 1e-4 per row stopped after 11 iterations at 3.2126 nats/row, short of the maximum 3.2504 (docs/models-stay-right.md).
    /// </summary>
    public const double DefaultTolerance = 0;

    /// <summary>Default <see cref="AbsoluteTolerance"/>: 1e-2 nats on the total log-likelihood, as hmmlearn's <c>tol</c>.</summary>
    public const double DefaultAbsoluteTolerance = 1e-2;

    /// <summary>
    /// Default maximum number of Baum–Welch iterations per restart: 1,000, the budget that lets the total-log-likelihood
    /// tolerance decide (DAX needs ≈ 100; each iteration is linear in the rows).
    /// </summary>
    public const int DefaultMaxIterations = 1000;

    /// <summary>Default covariance floor added to every variance after each M-step.</summary>
    public const double DefaultRegCovar = Gmm.GmmFitOptions.DefaultRegCovar;

    /// <summary>Default Dirichlet pseudo-count added to every expected transition and start count.</summary>
    public const double DefaultTransitionPseudoCount = 1e-2;

    /// <summary>Number of hidden states K (≥ 1).</summary>
    public required int States { get; init; }

    /// <summary>Emission covariance type; only <see cref="CovarianceType.Full"/> and <see cref="CovarianceType.Diag"/> are supported.</summary>
    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>
    /// Stop when the mean log-likelihood per observation changes by less than this (nats, ≥ 0). Default 0: only
    /// <see cref="AbsoluteTolerance"/> decides; setting it turns the default absolute tolerance off.
    /// </summary>
    public double Tolerance
    {
        get;
        init
        {
            field = value;
            _toleranceGiven = true;
        }
    }

    = DefaultTolerance;

    private readonly bool _toleranceGiven;
    private readonly double? _absoluteTolerance;

    /// <summary>
    /// Stop when the total log-likelihood (summed over all observations) changes by less than this (nats, ≥ 0), as hmmlearn
    /// does. A fit stops when either tolerance is met. Default 1e-2, unless <see cref="Tolerance"/> was set (then 0, so a
    /// tolerance a caller chose decides alone).
    /// </summary>
    public double AbsoluteTolerance
    {
        get => _absoluteTolerance ?? (_toleranceGiven ? 0.0 : DefaultAbsoluteTolerance);
        init => _absoluteTolerance = value;
    }

    /// <summary>Maximum Baum–Welch iterations per restart (≥ 1). Default 1,000.</summary>
    public int MaxIterations { get; init; } = DefaultMaxIterations;

    /// <summary>An absolute amount added to the diagonal after every M-step, on top of the relative floor (≥ 0). Default 0 (<see cref="Gmm.GmmFitOptions.DefaultRegCovar"/>).</summary>
    public double RegCovar { get; init; } = DefaultRegCovar;

    /// <summary>
    /// Fraction of each column's within-cluster scale (<see cref="Gmm.CovarianceFloor.Scale"/> of the fitted rows) also added to every emission covariance diagonal (≥ 0,
    /// default <see cref="Gmm.CovarianceFloor.DefaultRelative"/> = 1e-4): a floor in the data's own unit, so a state on exact
    /// duplicates (the zero returns of a quiet market) cannot reach a zero variance, whatever the scale of the series.
    /// </summary>
    public double RelativeRegCovar { get; init; } = Gmm.CovarianceFloor.DefaultRelative;

    /// <summary>
    /// Dirichlet pseudo-count added to each expected transition count and start count before normalizing (≥ 0).
    /// A positive value keeps the rows of a state that receives no occupancy finite (uniform) instead of 0/0.
    /// With 0, such a row keeps its previous value. Default 0.01.
    /// </summary>
    public double TransitionPseudoCount { get; init; } = DefaultTransitionPseudoCount;

    /// <summary>Independent restarts with distinct seeds; the best final log-likelihood wins (≥ 1). Default 1.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>
    /// Spread the restarts' k-means starts over raw, standardized and within-cluster scaled (<see cref="Gmm.CovarianceFloor.Scale"/>) columns, in
    /// turn, starting with raw (default true); the best final log-likelihood still wins. With one restart (the default) or one
    /// column the fit is the same either way. false: every restart on raw columns (docs/models-stay-right.md, "Seeding spaces").
    /// </summary>
    public bool DiverseSeeding { get; init; } = true;

    /// <summary>Seed of every random choice (k-means++ seeding); a fit is reproducible for a given seed.</summary>
    public ulong Seed { get; init; }

    /// <summary>Start from these parameters instead of k-means (restarts are then ignored). Must match States, dimension and covariance type.</summary>
    public GaussianHmm? WarmStart { get; init; }

    /// <summary>
    /// Threads for the emission densities and statistics of the E-step: −1 (default) for all processors, else ≥ 1.
    /// The result is bit-identical whatever the value (fixed chunks reduced in order).
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(States, 1, nameof(States));
        if (Covariance is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new ArgumentOutOfRangeException(nameof(Covariance), Covariance, "HMM emissions support Full or Diag covariance.");
        }

        if (!(Tolerance >= 0) || double.IsInfinity(Tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "Tolerance must be a finite value ≥ 0.");
        }

        if (!(AbsoluteTolerance >= 0) || double.IsInfinity(AbsoluteTolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(AbsoluteTolerance), AbsoluteTolerance, "AbsoluteTolerance must be a finite value ≥ 0.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIterations, 1, nameof(MaxIterations));
        if (!(RegCovar >= 0) || double.IsInfinity(RegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RegCovar), RegCovar, "RegCovar must be a finite value ≥ 0.");
        }

        if (!(RelativeRegCovar >= 0) || double.IsInfinity(RelativeRegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RelativeRegCovar), RelativeRegCovar, "RelativeRegCovar must be a finite value ≥ 0.");
        }

        if (!(TransitionPseudoCount >= 0) || double.IsInfinity(TransitionPseudoCount))
        {
            throw new ArgumentOutOfRangeException(nameof(TransitionPseudoCount), TransitionPseudoCount, "TransitionPseudoCount must be a finite value ≥ 0.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Restarts, 1, nameof(Restarts));
        if (MaxDegreeOfParallelism is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be -1 or ≥ 1.");
        }

        if (WarmStart is { } w && (w.States != States || w.CovarianceType != Covariance))
        {
            throw new ArgumentOutOfRangeException(nameof(WarmStart), "WarmStart must have the same number of states and covariance type as the options.");
        }
    }
}

/// <summary>Progress of a Baum–Welch fit: one report per iteration.</summary>
/// <param name="Restart">0-based restart index.</param>
/// <param name="Iteration">1-based iteration within the restart.</param>
/// <param name="MeanLogLikelihood">Mean log-likelihood per observation (nats) of the parameters entering this iteration.</param>
public readonly record struct HmmProgress(int Restart, int Iteration, double MeanLogLikelihood);

/// <summary>Outcome of a Baum–Welch fit.</summary>
public sealed class HmmFitResult
{
    internal HmmFitResult(GaussianHmm model, bool converged, int iterations, IReadOnlyList<double> trace, double meanLogLikelihood, int bestRestart, long observations)
    {
        Model = model;
        Converged = converged;
        Iterations = iterations;
        LogLikelihoodTrace = trace;
        MeanLogLikelihood = meanLogLikelihood;
        BestRestart = bestRestart;
        Observations = observations;
    }

    /// <summary>The fitted parameters.</summary>
    public GaussianHmm Model { get; }

    /// <summary>True when the tolerance was reached before <see cref="HmmFitOptions.MaxIterations"/>.</summary>
    public bool Converged { get; }

    /// <summary>Baum–Welch iterations run by the best restart.</summary>
    public int Iterations { get; }

    /// <summary>Mean log-likelihood per observation of the best restart, one entry per iteration (before its M-step), then the final value.</summary>
    public IReadOnlyList<double> LogLikelihoodTrace { get; }

    /// <summary>Mean log-likelihood per observation (nats) of <see cref="Model"/> on the training data.</summary>
    public double MeanLogLikelihood { get; }

    /// <summary>0-based index of the restart that won.</summary>
    public int BestRestart { get; }

    /// <summary>Total number of observations (rows over all sequences) the fit used.</summary>
    public long Observations { get; }

    /// <summary>Bayesian information criterion −2·logL + p·ln n of <see cref="Model"/> on the training data.</summary>
    public double Bic => -2.0 * MeanLogLikelihood * Observations + Model.ParameterCount * Math.Log(Observations);

    /// <summary>Akaike information criterion −2·logL + 2p.</summary>
    public double Aic => -2.0 * MeanLogLikelihood * Observations + 2.0 * Model.ParameterCount;
}
