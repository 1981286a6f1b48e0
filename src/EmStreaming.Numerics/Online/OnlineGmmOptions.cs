using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Settings of an <see cref="OnlineGaussianMixture"/>. Defaults come from the measurements in docs/benchmarks.md
/// ("Online GMM"). Validated by <see cref="Validate"/> (called by the estimator) with messages naming the setting.
/// </summary>
public sealed record OnlineGmmOptions
{
    /// <summary>Default <see cref="WarmUpObservations"/>: 0 = automatic, max(500, 10 × free parameters).</summary>
    public const int DefaultWarmUpObservations = 0;

    /// <summary>Smallest automatic warm-up.</summary>
    public const int MinimumAutomaticWarmUp = 500;

    /// <summary>
    /// Default <see cref="WarmUpRestarts"/>: 5. With the automatic warm-up, K = 8, d = 8 full, no seed out of 20 ended with
    /// merged components on either test mixture, against 1 of 20 with 3 restarts on the closer one (docs/benchmarks.md,
    /// "Online GMM", experiment D).
    /// </summary>
    public const int DefaultWarmUpRestarts = 5;

    /// <summary>Default <see cref="RegCovar"/>: the batch fit's, 0 (<see cref="GmmFitOptions.DefaultRegCovar"/>).</summary>
    public const double DefaultRegCovar = GmmFitOptions.DefaultRegCovar;

    /// <summary>Default <see cref="ReseedWeight"/>.</summary>
    public const double DefaultReseedWeight = 1e-3;

    /// <summary>Default <see cref="RecentCapacity"/>.</summary>
    public const int DefaultRecentCapacity = 128;

    /// <summary>Number of mixture components K ≥ 1 (required).</summary>
    public required int Components { get; init; }

    /// <summary>Covariance structure; default <see cref="CovarianceType.Full"/>.</summary>
    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>Step sizes of the statistics recursion; default <see cref="StepSizeSchedule.Decaying"/> with its defaults.</summary>
    public StepSizeSchedule StepSize { get; init; } = StepSizeSchedule.Decaying();

    /// <summary>
    /// Rows buffered before the first fit (batch EM, k-means++ with <see cref="WarmUpRestarts"/> restarts). Until then the
    /// estimator is warming up and holds no parameters. Must exceed <see cref="Components"/>, or 0 (default) for
    /// max(500, 10 × the free parameters of the mixture): 500 rows for K = 3 in 2-D, 3,590 for K = 8 full in 8-D.
    /// The rows of the batch that crosses the threshold are all included in the fit.
    /// </summary>
    public int WarmUpObservations { get; init; } = DefaultWarmUpObservations;

    /// <summary>
    /// Independent k-means++/EM restarts of the cold-start fit (≥ 1); default <see cref="DefaultWarmUpRestarts"/> (5). Online
    /// EM does not split components the first fit merged, so this is the lever against a bad start; each restart costs one
    /// batch fit of the warm-up rows, once.
    /// </summary>
    public int WarmUpRestarts { get; init; } = DefaultWarmUpRestarts;

    /// <summary>An absolute amount added to every covariance diagonal in each M-step, on top of the relative floor (≥ 0); default 0 (<see cref="GmmFitOptions.DefaultRegCovar"/>).</summary>
    public double RegCovar { get; init; } = DefaultRegCovar;

    /// <summary>
    /// Fraction of each column's within-cluster scale (<see cref="CovarianceFloor.Scale"/>) over the warm-up rows also added to every covariance diagonal in each M-step (≥ 0,
    /// default <see cref="CovarianceFloor.DefaultRelative"/> = 1e-4): a floor in the data's own unit, so exact duplicates or a
    /// constant stretch cannot drive a variance to zero. 0 = only <see cref="RegCovar"/>.
    /// </summary>
    public double RelativeRegCovar { get; init; } = CovarianceFloor.DefaultRelative;

    /// <summary>
    /// Watch each row's surprise (its loss less what its own components expect, Σ_k r_k·½(Mahalanobis²_k − |o|)) for abrupt
    /// changes (<see cref="PageHinkley"/>, default true); unlike the raw loss it does not move when the stream stays a while in
    /// one mode, wide or narrow, frequent or rare. On an alarm the
    /// estimator collects as many rows as its warm-up, refits them by batch EM and adopts the refit (keeping its step-size
    /// position) when it explains the newest fifth of those rows better than the current parameters: components whose data
    /// moved away come back within about a warm-up of rows instead of waiting for forgetting.
    /// </summary>
    public bool DetectDrift { get; init; } = true;

    /// <summary>
    /// A component whose weight falls below this share (in [0, 1/K)) is re-seeded at a recent poorly explained row;
    /// 0 re-seeds only components the M-step finds degenerate (empty or singular). Default 1e-3.
    /// </summary>
    public double ReseedWeight { get; init; } = DefaultReseedWeight;

    /// <summary>Recent rows kept (≥ 1) as candidates for re-seeding; default 128.</summary>
    public int RecentCapacity { get; init; } = DefaultRecentCapacity;

    /// <summary>Seed of the estimator's random stream (cold-start fits, re-seeding choices); default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Fewest warm-up rows a first fit of <paramref name="components"/> components in <paramref name="dimension"/> columns
    /// sensibly runs on: K × (d + 1) (d + 1 rows per component span d dimensions). <see cref="OnlineGaussianMixture.TryCompleteWarmUp"/>
    /// needs this many buffered rows; a service should not let a user set a smaller <see cref="WarmUpObservations"/>.
    /// </summary>
    public static int MinimumWarmUp(int components, int dimension) => WarmUpBuffer.MinimumRows(components, dimension);

    /// <summary>The warm-up size in rows for <paramref name="dimension"/> columns, resolving 0 (automatic).</summary>
    public int EffectiveWarmUp(int dimension)
    {
        if (WarmUpObservations > 0)
        {
            return WarmUpObservations;
        }

        var free = GmmParameters.FreeParameters(Covariance, Components, dimension);
        return (int)Math.Min(int.MaxValue, Math.Max(MinimumAutomaticWarmUp, 10 * free));
    }

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Components < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Components), Components, "Components must be at least 1.");
        }

        if (!Enum.IsDefined(Covariance))
        {
            throw new ArgumentOutOfRangeException(nameof(Covariance), Covariance, "Covariance is not a known covariance type.");
        }

        // A default(StepSizeSchedule) was never validated: re-run the constructor's checks.
        _ = new StepSizeSchedule(StepSize.Kind, StepSize.Alpha, StepSize.Offset, StepSize.Gamma, StepSize.Floor, StepSize.AveragingStart);
        if (WarmUpObservations != 0 && WarmUpObservations <= Components)
        {
            throw new ArgumentOutOfRangeException(nameof(WarmUpObservations), WarmUpObservations, "WarmUpObservations must exceed Components, or be 0 for automatic.");
        }

        if (WarmUpRestarts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WarmUpRestarts), WarmUpRestarts, "WarmUpRestarts must be at least 1.");
        }

        if (!(RegCovar >= 0) || double.IsPositiveInfinity(RegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RegCovar), RegCovar, "RegCovar must be a finite number ≥ 0.");
        }

        if (!(RelativeRegCovar >= 0) || double.IsPositiveInfinity(RelativeRegCovar))
        {
            throw new ArgumentOutOfRangeException(nameof(RelativeRegCovar), RelativeRegCovar, "RelativeRegCovar must be a finite number ≥ 0.");
        }

        if (!(ReseedWeight >= 0 && ReseedWeight < 1.0 / Components))
        {
            throw new ArgumentOutOfRangeException(nameof(ReseedWeight), ReseedWeight, "ReseedWeight must be in [0, 1/Components).");
        }

        if (RecentCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RecentCapacity), RecentCapacity, "RecentCapacity must be at least 1.");
        }
    }
}
