using System.Buffers;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Covariance floors relative to the data's own scale. An absolute floor (scikit-learn's <c>reg_covar</c> = 1e-6, hmmlearn's
/// <c>min_covar</c> = 1e-3) means nothing across units: daily returns have variance ≈ 1e-4, traffic flows ≈ 1e4. A component
/// that settles on exact duplicates (real returns hold many exact zeros) or on a constant stretch has zero variance and an
/// unbounded likelihood; adding a small fraction of each column's within-cluster scale (<see cref="Scale"/>) to every
/// covariance diagonal bounds every eigenvalue below by that fraction of the scale, in any unit.
/// </summary>
public static class CovarianceFloor
{
    /// <summary>
    /// Default fraction of each column's scale (<see cref="Scale"/>) added to every covariance diagonal in the M-step: 1e-4.
    /// Small enough that a component ten times narrower than that scale (in standard deviation) loses about
    /// d·(1e-4·100)²/4 = 2.5e-5·d nats/row (second-order: the first-order loss of inflating a covariance at the MLE is zero),
    /// large enough to keep a component on exact duplicates at a variance 1e-4 of the scale (docs/models-stay-right.md,
    /// "Covariance floors").
    /// </summary>
    public const double DefaultRelative = 1e-4;

    /// <summary>
    /// The floor of a column without spread (constant, or fewer than two observed entries) while the relative floor is on: it
    /// has no scale to be relative to, so it gets scikit-learn's absolute <c>reg_covar</c>, 1e-6, and stays fittable. Columns
    /// with a spread get no absolute floor by default: 1e-6 is as large as the variance of one-minute returns (≈ 1e-7 to 1e-6),
    /// and added to every regime it made calm and volatile markets look alike.
    /// </summary>
    public const double NoSpreadFloor = 1e-6;

    // The spread is measured on the densest quarter of a column's distinct values; a normal's shortest interval holding a
    // quarter of its mass is 2·Φ⁻¹(0.625)·σ wide.
    private const double Quarter = 0.25;
    private const double QuarterHalfWidth = 0.31863936396437514;

    // Fewer distinct values than this give no robust spread: the column's variance is used.
    private const int MinimumDistinct = 8;

    /// <summary>
    /// Writes <paramref name="relative"/> × <see cref="Scale"/> of each column's observed entries into <paramref name="floor"/>
    /// (one entry per column). A column with fewer than two observed entries or no spread at all has no scale to be relative
    /// to: its floor is <see cref="NoSpreadFloor"/> (0 when <paramref name="relative"/> is 0: no floor but the absolute one).
    /// </summary>
    /// <param name="rows">Row-major rows of <paramref name="columns"/> values; NaN = missing.</param>
    /// <param name="columns">Columns per row (≥ 1).</param>
    /// <param name="relative">Fraction of the scale (≥ 0, finite); 0 writes zeros.</param>
    /// <param name="floor">Destination, <paramref name="columns"/> entries.</param>
    /// <exception cref="ArgumentException">The destination length differs from <paramref name="columns"/>, or <paramref name="relative"/> is negative or not finite.</exception>
    public static void FromData(ReadOnlySpan<double> rows, int columns, double relative, Span<double> floor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (!(relative >= 0) || !double.IsFinite(relative))
        {
            throw new ArgumentOutOfRangeException(nameof(relative), relative, "relative must be a finite number ≥ 0");
        }

        if (floor.Length != columns)
        {
            throw new ArgumentException($"the floor has {floor.Length} entries; the data have {columns} columns", nameof(floor));
        }

        Scale(rows, columns, floor);
        for (var j = 0; j < columns; j++)
        {
            floor[j] = Of(floor[j], relative);
        }
    }

    /// <summary>The floor of a column of scale <paramref name="scale"/> (a variance; 0: no spread): <paramref name="relative"/> × it, or <see cref="NoSpreadFloor"/> for no spread.</summary>
    public static double Of(double scale, double relative) => relative == 0 ? 0.0 : scale > 0 ? relative * scale : NoSpreadFloor;

    /// <summary>Allocating convenience of <see cref="FromData(ReadOnlySpan{double}, int, double, Span{double})"/>.</summary>
    public static double[] FromData(ReadOnlySpan<double> rows, int columns, double relative)
    {
        var floor = new double[columns];
        FromData(rows, columns, relative, floor);
        return floor;
    }

    /// <summary>
    /// The within-cluster scale (a variance) of each column's observed entries into <paramref name="scale"/>: the smaller of
    /// the column's variance and the squared spread of the densest quarter of its distinct values (the width of the shortest
    /// interval holding a quarter of them, divided by 2·Φ⁻¹(0.625), so a normal column gives its variance). The total variance
    /// alone fails on narrow modes far apart: a machine at ≈ 0 W idle and ≈ 1000 W running with 1 W of noise has a column
    /// variance ≈ 250,000 W², so a floor of 1e-4 of it (25 W²) swamped the modes' own 1 W² and a 10 W reading while idle
    /// scored as ordinary. The densest quarter lies inside one mode whenever one holds half the distinct values or so, and
    /// with more, smaller modes the scale only grows towards the variance (the old floor, never exceeded). Distinct values,
    /// because exact duplicates (73 exact-zero DAX returns, a sensor stuck at one reading) are what the floor guards against:
    /// counted, they would make the densest interval zero wide. Fewer than 8 distinct values give the variance; a column
    /// with fewer than two observed entries or no spread gives 0. Deterministic; O(n log n) per column (a sort).
    /// </summary>
    /// <param name="rows">Row-major rows of <paramref name="columns"/> values; NaN = missing.</param>
    /// <param name="columns">Columns per row (≥ 1).</param>
    /// <param name="scale">Destination, <paramref name="columns"/> entries.</param>
    /// <exception cref="ArgumentException">The destination length differs from <paramref name="columns"/>.</exception>
    public static void Scale(ReadOnlySpan<double> rows, int columns, Span<double> scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (scale.Length != columns)
        {
            throw new ArgumentException($"the destination has {scale.Length} entries; the data have {columns} columns", nameof(scale));
        }

        var buffer = ArrayPool<double>.Shared.Rent(Math.Max(rows.Length / columns, 1));
        try
        {
            for (var j = 0; j < columns; j++)
            {
                var variance = Variance(rows, columns, j, buffer, out var count);
                scale[j] = variance > 0 ? Math.Min(variance, DensestQuarterVariance(buffer.AsSpan(0, count))) : 0.0;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>The variance of each column's observed entries (0 for fewer than two or a non-finite result): the total spread, not <see cref="Scale"/>.</summary>
    internal static double[] ColumnVariances(ReadOnlySpan<double> rows, int columns)
    {
        var variances = new double[columns];
        for (var j = 0; j < columns; j++)
        {
            variances[j] = Variance(rows, columns, j, default, out _);
        }

        return variances;
    }

    /// <summary>Population variance of column <paramref name="j"/>'s observed entries (0 when fewer than two or not finite), copying them into <paramref name="collect"/> when it is not empty.</summary>
    private static double Variance(ReadOnlySpan<double> rows, int columns, int j, Span<double> collect, out int count)
    {
        // Welford, so a column of large values with a small spread keeps its digits.
        double mean = 0, m2 = 0;
        count = 0;
        for (var i = j; i < rows.Length; i += columns)
        {
            var v = rows[i];
            if (double.IsNaN(v))
            {
                continue;
            }

            if (!collect.IsEmpty)
            {
                collect[count] = v;
            }

            count++;
            var delta = v - mean;
            mean += delta / count;
            m2 += delta * (v - mean);
        }

        var variance = count > 1 ? m2 / count : 0.0;
        return variance > 0 && double.IsFinite(variance) ? variance : 0.0;
    }

    /// <summary>The squared normal-consistent spread of the densest quarter of the distinct values (sorts <paramref name="values"/>); +∞ when there are too few.</summary>
    private static double DensestQuarterVariance(Span<double> values)
    {
        values.Sort();
        var distinct = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (distinct == 0 || values[i] != values[distinct - 1])
            {
                values[distinct++] = values[i];
            }
        }

        if (distinct < MinimumDistinct)
        {
            return double.PositiveInfinity;
        }

        var window = Math.Max(2, (int)Math.Ceiling(Quarter * distinct));
        var width = double.PositiveInfinity;
        for (var i = 0; i + window - 1 < distinct; i++)
        {
            width = Math.Min(width, values[i + window - 1] - values[i]);
        }

        var sigma = width / (2 * QuarterHalfWidth);
        return sigma * sigma;
    }
}
