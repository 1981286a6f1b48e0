using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Bounds what one observation can do to an online model's parameters. A row's statistics enter the recursion with the
/// step γ, and a second moment grows with the square of the row's distance: one glitch reading (an overflowed counter, a
/// unit slip, a stuck bit) 10⁶ standard deviations away adds γ·10¹² variances, and with γ ≈ 10⁻³ the component it lands on
/// is wrecked for tens of thousands of rows (measured: an online GMM 1.1 to 10 nats/row worse for good, an online HMM's
/// volatile state at 1,180 times its variance after a glitch of only 10³; docs/models-stay-right.md §17).
/// </summary>
/// <remarks>
/// Before its statistics are taken, each observed entry is moved into the model's own range for its column: the hull of the
/// components' (states') μ ± <see cref="StandardDeviations"/> σ intervals. A row of the model's data is inside with
/// probability 1 − 2·10⁻⁹ per entry (6 σ of its own component, and the hull is wider), so learning from such data is
/// unchanged, bit for bit whenever no entry is outside; a glitch contributes as a row at 6 σ would, a bounded amount.
/// Nothing is dropped: the row is counted, it is scored (its anomaly score, the filter's regime probabilities and the drift
/// detector's loss all use the row as it came), and it still moves the model toward it. A real change, a level many σ away
/// that persists, is what the drift detectors catch; their refits fit the rows as they came. Each time the model's
/// variance grows toward the moved rows the range widens with it, so even without a refit the model follows, at most a few
/// σ per step's worth of weight.
/// </remarks>
public static class InfluenceBound
{
    /// <summary>Half-width of each component's interval, in its own standard deviations.</summary>
    internal const double StandardDeviations = 6;

    /// <summary>Where component c's variance of column j sits in the covariances: c × first + j × second.</summary>
    private static (int Component, int Column) VarianceStrides(CovarianceType type, int d) => type switch
    {
        CovarianceType.Full => (d * d, d + 1),
        CovarianceType.Diag => (d, 1),
        CovarianceType.Spherical => (1, 0),
        _ => (0, d + 1), // tied: one matrix
    };

    /// <summary>Writes each column's range: the hull over components of μ_kj ± 6 σ_kj.</summary>
    internal static void Range(GmmParameters p, Span<double> lo, Span<double> hi)
    {
        int k = p.Components, d = p.Dimension;
        for (var j = 0; j < d; j++)
        {
            double low = double.PositiveInfinity, high = double.NegativeInfinity;
            for (var c = 0; c < k; c++)
            {
                var mean = p.Means[(c * d) + j];
                var half = StandardDeviations * Math.Sqrt(p.Variance(c, j));
                low = Math.Min(low, mean - half);
                high = Math.Max(high, mean + half);
            }

            lo[j] = low;
            hi[j] = high;
        }
    }

    /// <summary>True when some observed entry of <paramref name="rows"/> (row-major, <paramref name="lo"/>.Length wide) is outside its column's range.</summary>
    internal static bool AnyOutside(ReadOnlySpan<double> rows, ReadOnlySpan<double> lo, ReadOnlySpan<double> hi)
    {
        var d = lo.Length;
        for (var i = 0; i < rows.Length; i += d)
        {
            var row = rows.Slice(i, d);
            for (var j = 0; j < d; j++)
            {
                // NaN (missing) compares false both ways: never outside.
                if (row[j] < lo[j] || row[j] > hi[j])
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Copies <paramref name="rows"/> into <paramref name="into"/> with every entry outside its column's range moved to the nearer end (NaN stays NaN).</summary>
    internal static void Clamp(ReadOnlySpan<double> rows, ReadOnlySpan<double> lo, ReadOnlySpan<double> hi, Span<double> into)
    {
        var d = lo.Length;
        for (var i = 0; i < rows.Length; i++)
        {
            var j = i % d;
            var v = rows[i];
            into[i] = v < lo[j] ? lo[j] : v > hi[j] ? hi[j] : v;
        }
    }

    /// <summary>The row the statistics take: <paramref name="x"/> itself when every entry is inside its column's range, else its moved copy in <paramref name="into"/>.</summary>
    internal static ReadOnlySpan<double> Within(ReadOnlySpan<double> x, ReadOnlySpan<double> lo, ReadOnlySpan<double> hi, Span<double> into)
    {
        if (!AnyOutside(x, lo, hi))
        {
            return x;
        }

        Clamp(x, lo, hi, into);
        return into;
    }

    /// <summary>
    /// For a single row: true (and the moved row in <paramref name="into"/>) when an observed entry is outside the range of
    /// <paramref name="p"/>. Checks each entry against the components' intervals without a square root, and computes the
    /// range only for a row that is outside all of them in some column.
    /// </summary>
    internal static bool TryClampRow(GmmParameters p, ReadOnlySpan<double> x, Span<double> lo, Span<double> hi, Span<double> into)
    {
        int k = p.Components, d = p.Dimension;
        const double bound = StandardDeviations * StandardDeviations;
        var (componentStride, columnStride) = VarianceStrides(p.Type, d);
        var means = p.Means;
        var covariances = p.Covariances;
        for (var j = 0; j < d; j++)
        {
            var v = x[j];
            if (double.IsNaN(v))
            {
                continue;
            }

            var inside = false;
            for (var c = 0; c < k && !inside; c++)
            {
                var z = v - means[(c * d) + j];
                inside = z * z <= bound * covariances[(c * componentStride) + (j * columnStride)];
            }

            if (!inside)
            {
                Range(p, lo, hi);
                if (!AnyOutside(x, lo, hi))
                {
                    return false; // between components: inside the hull
                }

                Clamp(x, lo, hi, into);
                return true;
            }
        }

        return false;
    }

    /// <summary>Fewest rows beyond the rest that count as a group of data rather than glitches, per column.</summary>
    public const int GlitchGroupRows = 5;

    /// <summary>How far beyond the rest, in spreads of the rest, an entry of a smaller group must be to count as a glitch.</summary>
    public const double GlitchSpreads = 3;

    /// <summary>
    /// The rows an automatic fit (a warm-up's first fit, a refit, a drift recovery) is made on: <paramref name="data"/>
    /// itself, or a copy in which each entry that is a glitch is moved to the edge of the rest. Per column, with v₋ and v₊
    /// the <see cref="GlitchGroupRows"/>-th smallest and largest observed values and s = v₊ − v₋ their spread, an entry
    /// outside [v₋ − 3s, v₊ + 3s] is a glitch and becomes v₋ or v₊: fewer than five rows beyond the rest by more than three times its spread get no
    /// component of their own (a fit would give them one, on a handful of points, and an online model would keep it for
    /// good: a state sitting on one reading of 10⁶), while any group of five or more rows, however far, is data and is
    /// fitted. A Gaussian column of 500 rows has v± ≈ ±2.5σ, so the range is about ±17.5σ. Columns with fewer than 11
    /// observed values or no spread are left as they are. The rows are still learned as they came (bounded, see above).
    /// </summary>
    public static DataMatrix WithoutGlitches(DataMatrix data)
    {
        int n = data.Rows, d = data.Columns;
        var values = data.Values;
        double[]? moved = null;
        var column = new double[n];
        for (var j = 0; j < d; j++)
        {
            var count = 0;
            for (var i = 0; i < n; i++)
            {
                var v = values[(i * d) + j];
                if (!double.IsNaN(v))
                {
                    column[count++] = v;
                }
            }

            if (count < (2 * GlitchGroupRows) + 1)
            {
                continue;
            }

            var observed = column.AsSpan(0, count);
            observed.Sort();
            var (low, high) = (observed[GlitchGroupRows - 1], observed[count - GlitchGroupRows]);
            var spread = high - low;
            if (!(spread > 0) || !double.IsFinite(spread))
            {
                continue;
            }

            var (lo, hi) = (low - (GlitchSpreads * spread), high + (GlitchSpreads * spread));
            if (observed[0] >= lo && observed[count - 1] <= hi)
            {
                continue;
            }

            // Moved to the edge of the rest (v₋ or v₊), not to the range's: there it is one more row among others, where at the
            // range's edge it would still stand alone, and a fit could still give it a state of its own.
            moved ??= values.ToArray();
            for (var i = 0; i < n; i++)
            {
                ref var v = ref moved[(i * d) + j];
                v = v < lo ? low : v > hi ? high : v;
            }
        }

        return moved is null ? data : new DataMatrix(moved, n, d);
    }

    /// <summary>
    /// The rows a drift recovery collected (row-major, <paramref name="dimension"/> wide) through <see cref="WithoutGlitches"/>,
    /// split into the first <paramref name="fitRows"/>, which it fits, and the rest, on which it judges the fit: a glitch among
    /// them neither gets a component (state) of its own nor decides the comparison (one reading of 10³ did both, and the model
    /// stayed 1.2 nats/row from the new data, docs/models-stay-right.md §17).
    /// </summary>
    public static (DataMatrix Fit, DataMatrix Held) SplitWithoutGlitches(double[] rows, int dimension, int fitRows)
    {
        var n = rows.Length / dimension;
        var cleaned = WithoutGlitches(new DataMatrix(rows, n, dimension)).Values;
        return (new DataMatrix(cleaned[..(fitRows * dimension)].ToArray(), fitRows, dimension),
            new DataMatrix(cleaned[(fitRows * dimension)..].ToArray(), n - fitRows, dimension));
    }
}
