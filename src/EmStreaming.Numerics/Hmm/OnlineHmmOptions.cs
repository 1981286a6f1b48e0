using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Hmm;

/// <summary>Settings of <see cref="OnlineGaussianHmm"/>, validated by <see cref="Validate"/> with messages naming the option.</summary>
public sealed record OnlineHmmOptions
{
    /// <summary>Default number of first observations fitted in batch to initialize the parameters.</summary>
    public const int DefaultBufferSize = 1000;

    /// <summary>Default exponent α of the decaying schedule (measured: docs/benchmarks.md, "HMM").</summary>
    public const double DefaultAlpha = 0.8;

    /// <summary>Default Polyak–Ruppert cut-off (observations) of the default schedule (measured: docs/benchmarks.md, "HMM").</summary>
    public const long DefaultAveragingStart = 5000;

    /// <summary>Default floor applied to transition statistics so no transition probability reaches zero.</summary>
    public const double DefaultTransitionFloor = 1e-6;

    /// <summary>Number of hidden states K (≥ 1).</summary>
    public required int States { get; init; }

    /// <summary>Emission covariance type; Full or Diag.</summary>
    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>
    /// Step sizes γ_n of the statistics recursion, n counting the observations absorbed into the statistics
    /// (the replayed buffer included). Default: decaying, α = <see cref="DefaultAlpha"/> (0.8), n0 = 0, Polyak–Ruppert
    /// averaging after <see cref="DefaultAveragingStart"/> (5,000) observations. Use
    /// <see cref="StepSizeSchedule.FromHalfLife"/> to track drift (averaging then does not apply).
    /// </summary>
    public StepSizeSchedule StepSize { get; init; } = StepSizeSchedule.Decaying(DefaultAlpha, averagingStart: DefaultAveragingStart);

    /// <summary>
    /// Observations buffered and fitted by Baum–Welch before the online recursion starts (≥ 2, and ≥ States).
    /// The buffer is then replayed through the recursion with the fitted parameters, so no observation is lost.
    /// Ignored when <see cref="InitialModel"/> is set. Default 1000.
    /// </summary>
    public int BufferSize { get; init; } = DefaultBufferSize;

    /// <summary>
    /// Statistics observations (replayed buffer included) before the first M-step: until then parameters stay
    /// frozen while the live filter and the statistics keep updating (≥ 1). Default 1000.
    /// </summary>
    public long BurnIn { get; init; } = DefaultBufferSize;

    /// <summary>An absolute amount added to every covariance diagonal after each M-step, on top of the relative floor (≥ 0). Default 0 (<see cref="Gmm.GmmFitOptions.DefaultRegCovar"/>).</summary>
    public double RegCovar { get; init; } = HmmFitOptions.DefaultRegCovar;

    /// <summary>
    /// Fraction of each column's within-cluster scale (<see cref="Gmm.CovarianceFloor.Scale"/>; buffer, initial model or adopted window) also added to every emission covariance
    /// diagonal after each M-step (≥ 0, default <see cref="Gmm.CovarianceFloor.DefaultRelative"/> = 1e-4): the floor in the
    /// data's own unit that keeps a state on exact duplicates from reaching a zero variance.
    /// </summary>
    public double RelativeRegCovar { get; init; } = Gmm.CovarianceFloor.DefaultRelative;

    /// <summary>Lower bound on each normalized transition statistic before a row is normalized (≥ 0). Default 1e-6.</summary>
    public double TransitionFloor { get; init; } = DefaultTransitionFloor;

    /// <summary>Options of the batch fit on the first buffer; States, Covariance and RegCovar are taken from these options. Default: <see cref="HmmFitOptions"/> defaults.</summary>
    public HmmFitOptions? BufferFit { get; init; }

    /// <summary>Start from these parameters instead of fitting a buffer (they are frozen during <see cref="BurnIn"/>).</summary>
    public GaussianHmm? InitialModel { get; init; }

    /// <summary>
    /// Fewest buffered observations a first fit of <paramref name="states"/> states in <paramref name="dimension"/> columns
    /// sensibly runs on: K × (d + 1) (d + 1 rows per state span d dimensions), the same bound as the mixture's
    /// (<see cref="OnlineGmmOptions.MinimumWarmUp"/>). <see cref="OnlineGaussianHmm.TryCompleteWarmUp"/> needs this many
    /// (or a full buffer when <see cref="BufferSize"/> is smaller); a service should not let a user set a smaller <see cref="BufferSize"/>.
    /// </summary>
    public static int MinimumBufferSize(int states, int dimension) => WarmUpBuffer.MinimumRows(states, dimension);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(States, 1, nameof(States));
        if (Covariance is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new ArgumentOutOfRangeException(nameof(Covariance), Covariance, "HMM emissions support Full or Diag covariance.");
        }

        if (StepSize.Kind == StepSizeKind.Decaying && StepSize.Alpha == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(StepSize), "StepSize must be created with a factory of StepSizeSchedule.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BufferSize, Math.Max(2, States), nameof(BufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(BurnIn, 1L, nameof(BurnIn));
        if (!(RegCovar >= 0) || double.IsInfinity(RegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RegCovar), RegCovar, "RegCovar must be a finite value ≥ 0.");
        }

        if (!(RelativeRegCovar >= 0) || double.IsInfinity(RelativeRegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RelativeRegCovar), RelativeRegCovar, "RelativeRegCovar must be a finite value ≥ 0.");
        }

        if (!(TransitionFloor >= 0) || TransitionFloor >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(TransitionFloor), TransitionFloor, "TransitionFloor must be in [0, 1).");
        }

        if (InitialModel is { } m && (m.States != States || m.CovarianceType != Covariance))
        {
            throw new ArgumentOutOfRangeException(nameof(InitialModel), "InitialModel must have the same number of states and covariance type as the options.");
        }
    }
}

/// <summary>Life cycle of an <see cref="OnlineGaussianHmm"/>.</summary>
public enum OnlineHmmPhase
{
    /// <summary>Collecting the first buffer; no parameters yet, so no regime probabilities.</summary>
    Buffering,

    /// <summary>Parameters frozen; the filter and the statistics update on every observation.</summary>
    BurnIn,

    /// <summary>Statistics and parameters (M-step) update on every observation.</summary>
    Online,
}
