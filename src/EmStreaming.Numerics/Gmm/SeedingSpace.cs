namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// The coordinates a k-means++ start measures distances in. Restarts are spread over these spaces
/// (<see cref="SeedingSpaces.OfStart"/>), and the start with the best log-likelihood wins as before: k-means on raw columns
/// ignores a column whose unit makes its numbers small (a regime visible only in thousandths next to a column in thousands),
/// while k-means on standardized columns weights a noise column as much as an informative one; no scaling is right for
/// every data set (standardizing every start made 9 of 66 real fits worse), so the restarts try each in turn
/// (docs/models-stay-right.md, "Seeding spaces").
/// </summary>
internal enum SeedingSpace
{
    /// <summary>The data's own units (the seeding of scikit-learn and of every restart before).</summary>
    Raw,

    /// <summary>Each column divided by its standard deviation.</summary>
    Standardized,

    /// <summary>
    /// Each column divided by its within-cluster spread (<see cref="CovarianceFloor.Scale"/>: the spread of the densest
    /// quarter of its distinct values, never more than its standard deviation). A column whose values sit in narrow modes far
    /// apart weighs as many times more as the modes are narrower than the column; its standard deviation, and its median
    /// absolute deviation too when the modes are balanced (the median falls between them), include the gaps between the
    /// modes, so standardizing still lets a column of noise compete with it.
    /// </summary>
    WithinCluster,
}

/// <summary>Which start uses which <see cref="SeedingSpace"/>, and the column factors of each space.</summary>
internal static class SeedingSpaces
{
    /// <summary>
    /// The space of start number <paramref name="start"/> (0-based, counted over all the k-means++ starts of one fit): raw,
    /// standardized, within-cluster, raw, … Start 0 is always raw, so a fit with a single start is the fit it was before; with
    /// <paramref name="diverse"/> false every start is raw.
    /// </summary>
    public static SeedingSpace OfStart(int start, bool diverse) => !diverse ? SeedingSpace.Raw : (start % 3) switch
    {
        0 => SeedingSpace.Raw,
        1 => SeedingSpace.Standardized,
        _ => SeedingSpace.WithinCluster,
    };

    /// <summary>
    /// The factor each coordinate difference is multiplied by in <paramref name="space"/> (1 / spread), or null for raw
    /// distances, and for one column, where any scaling leaves k-means unchanged. A column without spread gets 0: it
    /// separates nothing. Deterministic; within-cluster costs one sort per column.
    /// </summary>
    public static double[]? ColumnScale(ReadOnlySpan<double> rows, int columns, SeedingSpace space)
    {
        if (space == SeedingSpace.Raw || columns == 1)
        {
            return null;
        }

        // Both are variances: the column's, or its within-cluster scale (never above the variance).
        var scale = space == SeedingSpace.Standardized ? CovarianceFloor.ColumnVariances(rows, columns) : new double[columns];
        if (space == SeedingSpace.WithinCluster)
        {
            CovarianceFloor.Scale(rows, columns, scale);
        }

        for (var j = 0; j < columns; j++)
        {
            scale[j] = scale[j] > 0 && double.IsFinite(scale[j]) ? 1.0 / Math.Sqrt(scale[j]) : 0.0;
        }

        return scale;
    }
}
