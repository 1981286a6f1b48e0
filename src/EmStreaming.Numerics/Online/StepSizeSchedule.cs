using System.Numerics.Tensors;
using System.Text.Json.Serialization;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Step sizes γ_n of a stochastic-approximation (online EM) recursion S_n = S_{n−1} + γ_n (s̄_n − S_{n−1}), with
/// optional Polyak–Ruppert averaging of the parameters after a cut-off. Positions n count observations from 1;
/// a schedule is an immutable value and a pure function of n, so the only "position" a caller has to persist is
/// its own observation counter. No member allocates.
/// </summary>
/// <remarks>
/// Create one with <see cref="Decaying"/>, <see cref="FromHalfLife"/> or <see cref="ConstantStep"/>. The
/// constructor exists for serializers (System.Text.Json, configuration binding) and validates like the factories.
/// </remarks>
public readonly partial record struct StepSizeSchedule
{
    /// <summary>Default exponent α of the decaying schedule (see docs/benchmarks.md, "Online GMM", for the measurement).</summary>
    public const double DefaultAlpha = 0.8;

    /// <summary>Default offset n0 of the decaying schedule, in observations (see docs/benchmarks.md, "Online GMM").</summary>
    public const double DefaultOffset = 0.0;

    /// <summary>Suggested half-life (observations) for drifting feeds, for <see cref="FromHalfLife"/> (see docs/benchmarks.md, "Online GMM").</summary>
    public const double DefaultHalfLife = 500.0;

    /// <summary>Value of <see cref="AveragingStart"/> meaning "no Polyak–Ruppert averaging".</summary>
    public const long NoAveraging = -1;

    /// <summary>Validating constructor, for serializers; prefer the factory methods.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range; the message names it.</exception>
    [JsonConstructor]
    public StepSizeSchedule(StepSizeKind kind, double alpha, double offset, double gamma, double floor, long averagingStart)
    {
        switch (kind)
        {
            case StepSizeKind.Decaying:
                if (!(alpha > 0.5 && alpha <= 1.0))
                {
                    throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0.5, 1] for the decaying step size to converge.");
                }

                if (!(offset >= 0.0) || double.IsPositiveInfinity(offset))
                {
                    throw new ArgumentOutOfRangeException(nameof(offset), offset, "offset (n0) must be a finite number ≥ 0.");
                }

                gamma = 0.0;
                break;
            case StepSizeKind.Constant:
                if (!(gamma > 0.0 && gamma <= 1.0))
                {
                    throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be in (0, 1].");
                }

                alpha = 0.0;
                offset = 0.0;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown step-size kind.");
        }

        if (!(floor >= 0.0 && floor < 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(floor), floor, "floor (gamma_min) must be in [0, 1).");
        }

        if (averagingStart < NoAveraging)
        {
            throw new ArgumentOutOfRangeException(nameof(averagingStart), averagingStart, "averagingStart must be ≥ 0, or -1 for no averaging.");
        }

        Kind = kind;
        Alpha = alpha;
        Offset = offset;
        Gamma = gamma;
        Floor = floor;
        AveragingStart = averagingStart;
    }

    /// <summary>Schedule family.</summary>
    public StepSizeKind Kind { get; }

    /// <summary>Exponent α ∈ (0.5, 1] of the decaying schedule; 0 for a constant one.</summary>
    public double Alpha { get; }

    /// <summary>Offset n0 ≥ 0 (observations) of the decaying schedule; 0 for a constant one.</summary>
    public double Offset { get; }

    /// <summary>Constant step γ ∈ (0, 1]; 0 for a decaying schedule.</summary>
    public double Gamma { get; }

    /// <summary>Floor γ_min ∈ [0, 1): no step is smaller, so a decaying schedule keeps tracking slow drift. 0 = none.</summary>
    public double Floor { get; }

    /// <summary>
    /// Observation count after which parameters are Polyak–Ruppert averaged (the average covers observations
    /// AveragingStart+1, AveragingStart+2, …), or <see cref="NoAveraging"/>.
    /// </summary>
    public long AveragingStart { get; }

    /// <summary>True when <see cref="AveragingStart"/> is set.</summary>
    [JsonIgnore]
    public bool Averages => AveragingStart >= 0;

    /// <summary>Half-life in observations of a constant schedule, h = −ln2 / ln(1 − γ) (∞ for a decaying one, 0 for γ = 1).</summary>
    [JsonIgnore]
    public double HalfLife => Kind == StepSizeKind.Constant ? -Math.Log(2.0) / PreciseMath.LogP1(-Gamma) : double.PositiveInfinity;

    /// <summary>Decaying schedule γ_n = max((n + n0)^(−α), γ_min).</summary>
    /// <param name="alpha">Exponent in (0.5, 1]; default <see cref="DefaultAlpha"/>.</param>
    /// <param name="offset">n0 ≥ 0 in observations; default <see cref="DefaultOffset"/>. Larger values damp the first steps.</param>
    /// <param name="floor">γ_min in [0, 1); default 0 (none).</param>
    /// <param name="averagingStart">Polyak–Ruppert cut-off in observations, or <see cref="NoAveraging"/> (default).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public static StepSizeSchedule Decaying(double alpha = DefaultAlpha, double offset = DefaultOffset, double floor = 0.0, long averagingStart = NoAveraging) =>
        new(StepSizeKind.Decaying, alpha, offset, 0.0, floor, averagingStart);

    /// <summary>Constant step from a half-life h in observations: γ = 1 − 2^(−1/h), so an observation's weight halves every h later observations.</summary>
    /// <param name="halfLife">h &gt; 0, in observations (fractional values allowed).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="halfLife"/> is not a positive finite number.</exception>
    public static StepSizeSchedule FromHalfLife(double halfLife)
    {
        if (!(halfLife > 0.0) || double.IsPositiveInfinity(halfLife))
        {
            throw new ArgumentOutOfRangeException(nameof(halfLife), halfLife, "halfLife must be a positive finite number of observations.");
        }

        // −expm1(−ln2/h) = 1 − 2^(−1/h), accurate for large h where 1 − 2^(−1/h) would cancel (PreciseMath: .NET's
        // double.ExpM1 is Exp(x) − 1, which cancels the same way and gave γ = 0 past h ≈ 1e16).
        return new(StepSizeKind.Constant, 0.0, 0.0, -PreciseMath.ExpM1(-Math.Log(2.0) / halfLife), 0.0, NoAveraging);
    }

    /// <summary>Constant step γ ∈ (0, 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gamma"/> is outside (0, 1].</exception>
    public static StepSizeSchedule ConstantStep(double gamma) => new(StepSizeKind.Constant, 0.0, 0.0, gamma, 0.0, NoAveraging);

    /// <summary>The step γ_n for the n-th observation (n ≥ 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> &lt; 1.</exception>
    public double StepAt(long n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1L);
        return Step(n);
    }

    /// <summary>
    /// The single step that applies the mean statistic of observations seen+1 … seen+count at once, equal to
    /// applying each of the <paramref name="count"/> steps in turn to the same statistic:
    /// 1 − Π_{i=1..count} (1 − γ_{seen+i}). With α = 1, n0 = 0 and no floor it is count / (seen + count), so
    /// mini-batch statistics are then exactly the running mean whatever the batch sizes.
    /// </summary>
    /// <param name="seen">Observations already absorbed (≥ 0).</param>
    /// <param name="count">Observations in the batch (≥ 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="seen"/> &lt; 0 or <paramref name="count"/> &lt; 1.</exception>
    public double BatchStep(long seen, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(seen);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (Kind == StepSizeKind.Constant)
        {
            return count == 1 ? Gamma : -PreciseMath.ExpM1(count * PreciseMath.LogP1(-Gamma));
        }

        if (Alpha == 1.0 && Floor == 0.0)
        {
            // The product telescopes: Π (seen+n0+i−1)/(seen+n0+i) = (seen+n0)/(seen+n0+count).
            return count / (seen + Offset + count);
        }

        if (count == 1)
        {
            return Step(seen + 1);
        }

        // Σ ln(1 − γ_{seen+i}) over chunks with vector Log/Exp: one scalar Math.Pow and Math.Log per observation were
        // the largest cost left in an online mini-batch update (libm calls right after AVX-512 kernels are slow).
        var logKeep = 0.0;
        Span<double> g = stackalloc double[Math.Min(count, 256)];
        Span<double> scratch = stackalloc double[2 * g.Length];
        for (var first = 1; first <= count; first += g.Length)
        {
            var chunk = g.Slice(0, Math.Min(g.Length, count - first + 1));
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i] = seen + first + i + Offset;
            }

            if (Alpha == 1.0)
            {
                TensorPrimitives.Reciprocal(chunk, chunk);
            }
            else
            {
                // (n + n0)^(−α) = exp(−α · ln(n + n0)).
                TensorPrimitives.Log(chunk, chunk);
                TensorPrimitives.Multiply(chunk, -Alpha, chunk);
                TensorPrimitives.Exp(chunk, chunk);
            }

            TensorPrimitives.Max(chunk, Floor, chunk);
            if (TensorPrimitives.Max<double>(chunk) >= 1.0)
            {
                return 1.0;
            }

            logKeep += PreciseMath.SumLogOneMinus(chunk, scratch);
        }

        return -PreciseMath.ExpM1(logKeep);
    }

    /// <summary>
    /// Weight w of the current parameters in the Polyak–Ruppert running average after a batch of
    /// <paramref name="count"/> observations following <paramref name="seen"/>: average ← average + w (θ − average).
    /// 0 while the cut-off is not passed (or no averaging), 1 for the first batch past it (the average restarts at θ),
    /// then (observations of the batch past the cut-off) / (observations past the cut-off so far).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="seen"/> &lt; 0 or <paramref name="count"/> &lt; 1.</exception>
    public double AveragingWeight(long seen, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(seen);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!Averages)
        {
            return 0.0;
        }

        var end = seen + count;
        if (end <= AveragingStart)
        {
            return 0.0;
        }

        var inBatch = end - Math.Max(seen, AveragingStart);
        return (double)inBatch / (end - AveragingStart);
    }

    /// <summary>Polyak–Ruppert update average ← average + weight · (current − average), element-wise, in place.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void Average(Span<double> average, ReadOnlySpan<double> current, double weight)
    {
        if (average.Length != current.Length)
        {
            throw new ArgumentException("average and current must have the same length.", nameof(current));
        }

        if (weight == 0.0)
        {
            return;
        }

        if (weight == 1.0)
        {
            current.CopyTo(average);
            return;
        }

        for (var i = 0; i < average.Length; i++)
        {
            average[i] += weight * (current[i] - average[i]);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Kind == StepSizeKind.Constant
        ? $"constant(gamma={Gamma:R}, halfLife={HalfLife:R})"
        : $"decaying(alpha={Alpha:R}, n0={Offset:R}, floor={Floor:R}, averagingStart={AveragingStart})";

    private double Step(long n)
    {
        if (Kind == StepSizeKind.Constant)
        {
            return Gamma;
        }

        var g = Alpha == 1.0 ? 1.0 / (n + Offset) : Math.Pow(n + Offset, -Alpha);
        return Math.Min(1.0, Math.Max(g, Floor));
    }
}
