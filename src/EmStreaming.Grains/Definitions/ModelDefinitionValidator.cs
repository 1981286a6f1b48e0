using EmStreaming.Numerics;

namespace EmStreaming.Grains.Definitions;

/// <summary>
/// Checks a <see cref="ModelDefinition"/> before anything is stored. Each failure names the field in the
/// JSON spelling the HTTP API uses, so a client can point at it.
/// </summary>
public static class ModelDefinitionValidator
{
    public const int MaxDimension = 64;
    public const int MaxComponents = 32;
    public const int MaxBatchSize = 10_000;
    public const int MaxWindow = 1_000_000;
    public const int MaxRestarts = 32;
    public const int MaxRetain = 100_000;

    /// <summary>
    /// Largest <c>warmUp</c>, in rows: as large as the largest refit window. The warm-up rows are held in memory and written
    /// into every snapshot until the first fit, like the window; the automatic warm-up never exceeds it (at most 686,390 rows,
    /// K = 32 full in 64 dimensions).
    /// </summary>
    public const int MaxWarmUp = MaxWindow;

    /// <summary>
    /// Smallest <c>warmUp</c> for <paramref name="components"/> components or states in <paramref name="dimension"/> columns:
    /// K × (d + 1) rows, d + 1 per component, the fewest that span d dimensions (a non-singular start) and more than K (a
    /// distinct seed row per component). A refit request ends a warm-up early once this many rows are buffered.
    /// </summary>
    public static int MinimumWarmUp(int components, int dimension) => Numerics.Online.OnlineGmmOptions.MinimumWarmUp(components, dimension);

    /// <summary>
    /// Longest half-life, in observations: "never forget" for any stream. The step 1 − 2^(−1/h) is computed exactly for any
    /// h now (PreciseMath.ExpM1); before that it rounded to 0 past about 1e16 and such a model failed to activate. The bound
    /// stays because a larger half-life means nothing a user could observe and keeps the steps far above a double's range.
    /// </summary>
    public const double MaxHalfLife = 1e12;

    /// <summary>
    /// Longest refit or snapshot interval. Orleans grain timers take at most 2^32 − 2 ms (about 49.7 days): a longer one
    /// made every activation of the model throw after its definition was stored.
    /// </summary>
    public static readonly TimeSpan MaxEvery = TimeSpan.FromDays(30);

    /// <summary>Throws <see cref="ModelValidationException"/> naming the first invalid field.</summary>
    public static void Validate(ModelDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var count = definition.Kind == ModelKind.Hmm ? "states" : "components";
        if (!Enum.IsDefined(definition.Kind))
        {
            throw new ModelValidationException("kind", "kind must be 'gmm' or 'hmm'");
        }

        if (definition.Dimension is < 1 or > MaxDimension)
        {
            throw new ModelValidationException("dimension", $"dimension must be between 1 and {MaxDimension}");
        }

        if (definition.Components is < 1 or > MaxComponents)
        {
            throw new ModelValidationException(count, $"{count} must be between 1 and {MaxComponents}");
        }

        if (!Enum.IsDefined(definition.Covariance))
        {
            throw new ModelValidationException("covariance", "covariance must be one of full, diag, spherical, tied");
        }

        if (definition.Kind == ModelKind.Hmm && definition.Covariance is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new ModelValidationException("covariance", "an hmm supports covariance 'full' or 'diag'");
        }

        if (definition.HalfLife is { } h && (!double.IsFinite(h) || h < 1 || h > MaxHalfLife))
        {
            throw new ModelValidationException("halfLife", $"halfLife must be a number of observations between 1 and {MaxHalfLife:0e0}");
        }

        if (definition.Alpha is { } a && (!double.IsFinite(a) || a <= 0.5 || a > 1))
        {
            throw new ModelValidationException("alpha", "alpha must be in (0.5, 1]");
        }

        if (definition.HalfLife is not null && definition.Alpha is not null)
        {
            throw new ModelValidationException("halfLife", "give either halfLife (constant step, tracks drift) or alpha (decaying step), not both");
        }

        if (definition.BatchSize is < 1 or > MaxBatchSize)
        {
            throw new ModelValidationException("batchSize", $"batchSize must be between 1 and {MaxBatchSize}");
        }

        if (definition.WarmUp is { } warmUp)
        {
            var minimum = MinimumWarmUp(definition.Components, definition.Dimension);
            if (warmUp < minimum || warmUp > MaxWarmUp)
            {
                throw new ModelValidationException(
                    "warmUp",
                    $"warmUp must be between {minimum} and {MaxWarmUp} rows (or absent for automatic); {definition.Components} {count} in "
                    + $"{definition.Dimension} dimensions need at least {count} × (dimension + 1) = {minimum} rows for a first fit");
            }
        }

        if (definition.AnomalyThreshold is { } t && !double.IsFinite(t))
        {
            throw new ModelValidationException("anomalyThreshold", "anomalyThreshold must be a finite number");
        }

        if (definition.AnomalyTailProbability is { } p && !(p > 0 && p < 1))
        {
            throw new ModelValidationException(
                "anomalyTailProbability", $"anomalyTailProbability must be between 0 and 1, exclusive (for example 1e-4: about one row in 10,000 the model explains), not {p}");
        }

        if (definition.RegimeConfidence is { } c)
        {
            if (definition.Kind != ModelKind.Hmm)
            {
                throw new ModelValidationException("regimeConfidence", "regimeConfidence applies to an hmm (the reported regime); a gmm has none");
            }

            if (!Numerics.Hmm.RegimeTracking.IsValidConfidence(c))
            {
                throw new ModelValidationException(
                    "regimeConfidence", $"regimeConfidence must be at least 0.5 (the most likely regime at every row) and below 1 (for example 0.8: it then changes about as often as the regime does), not {c}");
            }
        }

        var refit = definition.Refit ?? throw new ModelValidationException("refit", "refit must not be null");
        if (refit.EveryObservations is < 1)
        {
            throw new ModelValidationException("refit.everyObservations", "refit.everyObservations must be >= 1 (or null to refit by time only)");
        }

        if (refit.Every is { } every && (every < TimeSpan.FromSeconds(1) || every > MaxEvery))
        {
            throw new ModelValidationException("refit.everySeconds", $"refit.everySeconds must be between 1 and {MaxEvery.TotalSeconds} (30 days), or null");
        }

        var minWindow = Math.Max(2 * definition.Components, 10);
        if (refit.Window < minWindow || refit.Window > MaxWindow)
        {
            throw new ModelValidationException("refit.window", $"refit.window must be between {minWindow} and {MaxWindow} observations");
        }

        if (refit.Restarts is < 0 or > MaxRestarts)
        {
            throw new ModelValidationException("refit.restarts", $"refit.restarts must be between 0 and {MaxRestarts}");
        }

        var snapshots = definition.Snapshots ?? throw new ModelValidationException("snapshots", "snapshots must not be null");
        if (snapshots.EveryObservations is < 1)
        {
            throw new ModelValidationException("snapshots.everyObservations", "snapshots.everyObservations must be >= 1 (or null)");
        }

        if (snapshots.Every is { } s && (s < TimeSpan.FromSeconds(1) || s > MaxEvery))
        {
            throw new ModelValidationException("snapshots.everySeconds", $"snapshots.everySeconds must be between 1 and {MaxEvery.TotalSeconds} (30 days), or null");
        }

        if (snapshots.Retain is < 1 or > MaxRetain)
        {
            throw new ModelValidationException("snapshots.retain", $"snapshots.retain must be between 1 and {MaxRetain}");
        }
    }
}
