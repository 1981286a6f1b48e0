namespace EmStreaming.Numerics.Gmm;

/// <summary>Settings of a batch EM fit. Defaults match scikit-learn's GaussianMixture. Setters validate and throw <see cref="ArgumentOutOfRangeException"/> naming the option.</summary>
public sealed record GmmFitOptions
{
    /// <summary>
    /// Default <see cref="Tolerance"/>: 1e-5 nats per sample (scikit-learn uses 1e-3, which stopped faithful's 3-component tied
    /// fit 0.5 BIC units short of mclust's optimum; docs/models-stay-right.md, "Convergence defaults").
    /// </summary>
    public const double DefaultTolerance = 1e-5;

    /// <summary>Default <see cref="AbsoluteTolerance"/>: 1e-2 nats on the total log-likelihood (hmmlearn's rule).</summary>
    public const double DefaultAbsoluteTolerance = 1e-2;

    /// <summary>Default <see cref="MaxIterations"/>: 100.</summary>
    public const int DefaultMaxIterations = 100;

    /// <summary>
    /// Default <see cref="RegCovar"/>: 0. The relative floor (<see cref="RelativeRegCovar"/>) keeps every variance positive in
    /// the data's own unit, and a column without spread gets <see cref="CovarianceFloor.NoSpreadFloor"/> (scikit-learn's 1e-6).
    /// </summary>
    public const double DefaultRegCovar = 0;

    /// <summary>Number of components K (≥ 1). Required.</summary>
    public required int Components
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(Components));
            field = value;
        }
    }

    /// <summary>Covariance family (default Full).</summary>
    public CovarianceType Covariance
    {
        get;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Covariance), value, "unknown covariance type");
            }

            field = value;
        }
    }

    = CovarianceType.Full;

    /// <summary>
    /// Stop when the total log-likelihood changes by less than this between iterations (nats, ≥ 0), or when
    /// <see cref="Tolerance"/> is met, whichever comes first: on small data the total rule decides, on large data the per-sample
    /// one. Default: 1e-2, unless <see cref="Tolerance"/> was set (then 0, so a tolerance a caller chose decides alone).
    /// </summary>
    public double AbsoluteTolerance
    {
        get => _absoluteTolerance ?? (_toleranceGiven ? 0.0 : DefaultAbsoluteTolerance);
        init
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(AbsoluteTolerance), value, "AbsoluteTolerance must be finite and ≥ 0");
            }

            _absoluteTolerance = value;
        }
    }

    private readonly double? _absoluteTolerance;
    private readonly bool _toleranceGiven;

    /// <summary>
    /// Stop when the mean log-likelihood per sample changes by less than this between iterations (≥ 0, default 1e-5). Setting it
    /// turns the default <see cref="AbsoluteTolerance"/> off.
    /// </summary>
    public double Tolerance
    {
        get;
        init
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Tolerance), value, "Tolerance must be finite and ≥ 0");
            }

            field = value;
            _toleranceGiven = true;
        }
    }

    = DefaultTolerance;

    /// <summary>Maximum number of EM iterations (M-steps) per restart (≥ 1, default 100).</summary>
    public int MaxIterations
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxIterations));
            field = value;
        }
    }

    = DefaultMaxIterations;

    /// <summary>An absolute amount added to the diagonal of every covariance, on top of the relative floor (≥ 0, default 0: see <see cref="DefaultRegCovar"/>).</summary>
    public double RegCovar
    {
        get;
        init
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(RegCovar), value, "RegCovar must be finite and ≥ 0");
            }

            field = value;
        }
    }

    = DefaultRegCovar;

    /// <summary>
    /// Fraction of each column's within-cluster scale (<see cref="CovarianceFloor.Scale"/> of the fitted data's observed entries) also added to every covariance diagonal
    /// (≥ 0, default <see cref="CovarianceFloor.DefaultRelative"/> = 1e-4): the floor that follows the data's unit, so exact
    /// duplicates or a constant stretch cannot produce a zero variance whatever the scale. 0 = only <see cref="RegCovar"/>.
    /// </summary>
    public double RelativeRegCovar
    {
        get;
        init
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(RelativeRegCovar), value, "RelativeRegCovar must be finite and ≥ 0");
            }

            field = value;
        }
    }

    = CovarianceFloor.DefaultRelative;

    /// <summary>Independent restarts (scikit-learn's n_init, ≥ 1, default 1); the best final log-likelihood wins. Ignored with <see cref="WarmStart"/>.</summary>
    public int Restarts
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(Restarts));
            field = value;
        }
    }

    = 1;

    /// <summary>
    /// Default <see cref="ShortRuns"/>: 8. On a K = 8, 8-D, 100,000-row mixture with close means, one start reached the best
    /// known optimum for 5 of 10 seeds; 8 short runs of 10 iterations on a 10,000-row sample did for 10 of 10, for 1.6× the CPU
    /// time of one start (3 full restarts: 8 of 10 for 3.2×). docs/models-stay-right.md, "Local optima".
    /// </summary>
    public const int DefaultShortRuns = 8;

    /// <summary>Default <see cref="ShortRunIterations"/>: 10.</summary>
    public const int DefaultShortRunIterations = 10;

    /// <summary>
    /// Short EM runs per restart ("small EM", ≥ 1, default 8): each restart tries this many k-means++ starts for
    /// <see cref="ShortRunIterations"/> iterations each (on a sample of <see cref="ShortRunRows"/> rows) and continues the best
    /// to convergence on all the rows. 1 = one start per restart (scikit-learn's behaviour).
    /// </summary>
    public int ShortRuns
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(ShortRuns));
            field = value;
        }
    }

    = DefaultShortRuns;

    /// <summary>Default <see cref="ShortRunRows"/>.</summary>
    public const int DefaultShortRunRows = 10_000;

    /// <summary>
    /// Rows the short runs use (≥ 1, default 10,000): a larger data set is sampled (seeded) down to this many for them, so
    /// choosing the start costs a fraction of one full start; the chosen start then continues on all the rows.
    /// </summary>
    public int ShortRunRows
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(ShortRunRows));
            field = value;
        }
    }

    = DefaultShortRunRows;

    /// <summary>EM iterations of each short run (≥ 1, default 10).</summary>
    public int ShortRunIterations
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(ShortRunIterations));
            field = value;
        }
    }

    = DefaultShortRunIterations;

    /// <summary>Initialization method (default k-means++).</summary>
    public GmmInitialization Initialization
    {
        get;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Initialization), value, "unknown initialization");
            }

            field = value;
        }
    }

    /// <summary>
    /// Spread the k-means++ starts (every short run of every restart, counted together) over three distance spaces: the raw
    /// columns, standardized columns and columns divided by their within-cluster spread (<see cref="CovarianceFloor.Scale"/>),
    /// in turn, starting with raw (default true). The start with the best log-likelihood still wins. Raw k-means misses a
    /// regime that separates only in a column whose unit makes its numbers small; standardizing every start made other real
    /// fits worse (docs/models-stay-right.md, "Seeding spaces"). With one start, or one column, the fit is the same either
    /// way. false: every start on raw columns (the behaviour before). Only used with <see cref="GmmInitialization.KMeansPlusPlus"/>.
    /// </summary>
    public bool DiverseSeeding { get; init; } = true;

    /// <summary>Seed from which every restart's seed is derived: same seed and data give a bit-identical result.</summary>
    public ulong Seed { get; init; }

    /// <summary>Start from these parameters instead of initializing (one run; <see cref="Restarts"/> is ignored, as in scikit-learn).</summary>
    public GaussianMixture? WarmStart { get; init; }

    /// <summary>Threads for the E-step: -1 (default) for all processors, otherwise ≥ 1. Does not change the result.</summary>
    public int MaxDegreeOfParallelism
    {
        get;
        init
        {
            if (value is not -1 and < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), value, "MaxDegreeOfParallelism must be -1 or ≥ 1");
            }

            field = value;
        }
    }

    = -1;
}
