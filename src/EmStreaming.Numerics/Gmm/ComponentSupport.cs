namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Whether the components of a fitted mixture (or the states of an HMM) hold the rows that determine them, and the choice
/// among fits that respects it. A component on fewer rows has its covariance, and so its likelihood, set by the covariance
/// floor rather than the data; BIC, which assumes every parameter is estimated, would prefer it on any small data set.
/// </summary>
internal static class ComponentSupport
{
    /// <summary>Rows that determine one component: d + 1 for a full covariance, 2 for a diagonal or spherical one, 1 for a component of a tied model (its mean).</summary>
    public static double RowsToDetermine(CovarianceType type, int dimension) => type switch
    {
        CovarianceType.Full => dimension + 1,
        CovarianceType.Tied => 1,
        _ => 2,
    };

    /// <summary>How many of <paramref name="occupancy"/> (expected rows per component) fall below <see cref="RowsToDetermine"/>.</summary>
    public static int Underdetermined(ReadOnlySpan<double> occupancy, CovarianceType type, int dimension)
    {
        // A hair below the count: the occupancy of a component holding exactly that many rows rounds either way.
        var needed = RowsToDetermine(type, dimension) - 1e-6;
        var count = 0;
        foreach (var o in occupancy)
        {
            count += o < needed ? 1 : 0;
        }

        return count;
    }

    /// <summary>
    /// The candidate with the lowest criterion among those with no underdetermined component (the earlier one on ties, or the
    /// one <paramref name="preferOnTie"/> prefers); the first candidate when every one has such a component.
    /// </summary>
    public static T Best<T>(IReadOnlyList<T> candidates, Func<T, double> criterion, Func<T, int> underdetermined, Func<T, T, bool>? preferOnTie = null)
    {
        T? best = default;
        var found = false;
        foreach (var c in candidates)
        {
            if (underdetermined(c) > 0)
            {
                continue;
            }

            if (!found || criterion(c) < criterion(best!) || (criterion(c) == criterion(best!) && preferOnTie is not null && preferOnTie(c, best!)))
            {
                best = c;
                found = true;
            }
        }

        return found ? best! : candidates[0];
    }
}
