namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Covariance floors relative to the data's own scale. An absolute floor (scikit-learn's <c>reg_covar</c> = 1e-6, hmmlearn's
/// <c>min_covar</c> = 1e-3) means nothing across units: daily returns have variance ≈ 1e-4, traffic flows ≈ 1e4. A component
/// that settles on exact duplicates (real returns hold many exact zeros) or on a constant stretch has zero variance and an
/// unbounded likelihood; adding a small fraction of each column's variance to every covariance diagonal bounds every
/// eigenvalue below by that fraction of the column's scale, in any unit.
/// </summary>
public static class CovarianceFloor
{
    /// <summary>
    /// Default fraction of each column's variance added to every covariance diagonal in the M-step: 1e-4. Small enough that a
    /// component ten times narrower than its column (in standard deviation) loses about d·(1e-4·100)²/4 = 2.5e-5·d nats/row
    /// (second-order: the first-order loss of inflating a covariance at the MLE is zero), large enough to keep a component on
    /// exact duplicates at a variance 1e-4 of the column's (docs/models-stay-right.md, "Covariance floors").
    /// </summary>
    public const double DefaultRelative = 1e-4;

    /// <summary>
    /// Writes <paramref name="relative"/> × the variance of each column's observed entries into <paramref name="floor"/>
    /// (one entry per column). A column with fewer than two observed entries or no spread at all has no scale to be
    /// relative to: its floor is 0 and the absolute reg_covar alone applies, as in scikit-learn.
    /// </summary>
    /// <param name="rows">Row-major rows of <paramref name="columns"/> values; NaN = missing.</param>
    /// <param name="columns">Columns per row (≥ 1).</param>
    /// <param name="relative">Fraction of the variance (≥ 0, finite); 0 writes zeros.</param>
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

        var n = rows.Length / columns;
        for (var j = 0; j < columns; j++)
        {
            // Welford, so a column of large values with a small spread keeps its digits.
            double mean = 0, m2 = 0;
            var count = 0;
            for (var i = 0; i < n; i++)
            {
                var v = rows[(i * columns) + j];
                if (double.IsNaN(v))
                {
                    continue;
                }

                count++;
                var delta = v - mean;
                mean += delta / count;
                m2 += delta * (v - mean);
            }

            var variance = count > 1 ? m2 / count : 0.0;
            floor[j] = variance > 0 && double.IsFinite(variance) ? relative * variance : 0.0;
        }
    }

    /// <summary>Allocating convenience of <see cref="FromData(ReadOnlySpan{double}, int, double, Span{double})"/>.</summary>
    public static double[] FromData(ReadOnlySpan<double> rows, int columns, double relative)
    {
        var floor = new double[columns];
        FromData(rows, columns, relative, floor);
        return floor;
    }
}
