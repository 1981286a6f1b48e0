using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Linear;

namespace EmStreaming.Numerics;

/// <summary>
/// Keeps component and state labels stable when a model's parameters are replaced by an independent fit (a refit adopted,
/// a drift recovery). EM labels its components in whatever order its initialization produced, so a refit's component 0 may
/// be the old component 2: without matching, every consumer that reads a label (a cluster's id, "regime 1 is the volatile
/// one", the dashboard's colours, snapshot history) would see the labels swap at each adoption. The candidate's components
/// are matched one-to-one to the current ones by least total Bhattacharyya distance (an optimal assignment) and reordered.
/// </summary>
/// <remarks>
/// The Bhattacharyya distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) is
/// ⅛ (μ₁ − μ₂)ᵀ Σ⁻¹ (μ₁ − μ₂) + ½ ln(det Σ / √(det Σ₁ det Σ₂)) with Σ = (Σ₁ + Σ₂) / 2: zero for equal Gaussians, unchanged by
/// any affine change of units applied to both, and it tells apart components with the same mean and different shapes. The
/// weights do not enter it: a component that moved keeps its label whatever its share became. Reordering changes no
/// density, likelihood or score, only which index a component has.
/// </remarks>
public static class LabelMatching
{
    /// <summary>Distances above this are treated as equal (keeps the assignment's arithmetic finite).</summary>
    private const double MaxDistance = 1e12;

    /// <summary>
    /// <paramref name="candidate"/> with its components reordered to match <paramref name="current"/>'s: component i of the
    /// result is the candidate's component closest to the current component i under the optimal one-to-one matching.
    /// Returns <paramref name="candidate"/> itself when the order is already that.
    /// </summary>
    /// <exception cref="ArgumentException">The two differ in components, dimension or covariance type.</exception>
    public static GaussianMixture AlignTo(this GaussianMixture candidate, GaussianMixture current)
    {
        var order = Match(current, candidate);
        return IsIdentity(order) ? candidate : Reorder(candidate, order);
    }

    /// <summary>As <see cref="AlignTo(GaussianMixture, GaussianMixture)"/> for an HMM: start probabilities, both indices of the transitions and the emissions follow the states.</summary>
    /// <exception cref="ArgumentException">The two differ in states, dimension or covariance type.</exception>
    public static GaussianHmm AlignTo(this GaussianHmm candidate, GaussianHmm current)
    {
        var order = Match(current, candidate);
        return IsIdentity(order) ? candidate : Reorder(candidate, order);
    }

    /// <summary>order[i] = the candidate's component matched to the current component i (a permutation of 0..K−1).</summary>
    /// <exception cref="ArgumentException">The two differ in components, dimension or covariance type.</exception>
    public static int[] Match(GaussianMixture current, GaussianMixture candidate)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(candidate);
        if (current.Components != candidate.Components || current.Dimension != candidate.Dimension || current.CovarianceType != candidate.CovarianceType)
        {
            throw new ArgumentException(
                $"the candidate has {candidate.Components} components, dimension {candidate.Dimension} and {candidate.CovarianceType} covariances; the current model has {current.Components}, {current.Dimension} and {current.CovarianceType}",
                nameof(candidate));
        }

        return MatchGaussians(current.Components, current.Dimension, current.Means, candidate.Means, current.FullCovariance, candidate.FullCovariance);
    }

    /// <summary>order[i] = the candidate's state matched to the current state i (a permutation of 0..K−1).</summary>
    /// <exception cref="ArgumentException">The two differ in states, dimension or covariance type.</exception>
    public static int[] Match(GaussianHmm current, GaussianHmm candidate)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(candidate);
        if (current.States != candidate.States || current.Dimension != candidate.Dimension || current.CovarianceType != candidate.CovarianceType)
        {
            throw new ArgumentException(
                $"the candidate has {candidate.States} states, dimension {candidate.Dimension} and {candidate.CovarianceType} covariances; the current model has {current.States}, {current.Dimension} and {current.CovarianceType}",
                nameof(candidate));
        }

        return MatchGaussians(current.States, current.Dimension, current.Means, candidate.Means, current.FullCovariance, candidate.FullCovariance);
    }

    /// <summary>The mixture with component i taken from <paramref name="model"/>'s component order[i].</summary>
    /// <exception cref="ArgumentException"><paramref name="order"/> is not a permutation of 0..K−1.</exception>
    public static GaussianMixture Reorder(GaussianMixture model, ReadOnlySpan<int> order)
    {
        ArgumentNullException.ThrowIfNull(model);
        int k = model.Components, d = model.Dimension;
        CheckPermutation(order, k);
        var weights = new double[k];
        var means = new double[k * d];
        var covariances = model.Covariances.ToArray();
        var block = model.CovarianceType switch
        {
            CovarianceType.Full => d * d,
            CovarianceType.Diag => d,
            CovarianceType.Spherical => 1,
            _ => 0, // tied: one covariance shared by all
        };
        for (var i = 0; i < k; i++)
        {
            var j = order[i];
            weights[i] = model.Weights[j];
            model.Means.Slice(j * d, d).CopyTo(means.AsSpan(i * d, d));
            if (block > 0)
            {
                model.Covariances.Slice(j * block, block).CopyTo(covariances.AsSpan(i * block, block));
            }
        }

        return GaussianMixture.Create(weights, means, covariances, k, d, model.CovarianceType);
    }

    /// <summary>The HMM with state i taken from <paramref name="model"/>'s state order[i] (start probabilities, transitions from and to, emissions).</summary>
    /// <exception cref="ArgumentException"><paramref name="order"/> is not a permutation of 0..K−1.</exception>
    public static GaussianHmm Reorder(GaussianHmm model, ReadOnlySpan<int> order)
    {
        ArgumentNullException.ThrowIfNull(model);
        int k = model.States, d = model.Dimension;
        CheckPermutation(order, k);
        var block = model.CovarianceType == CovarianceType.Full ? d * d : d;
        var start = new double[k];
        var transitions = new double[k * k];
        var means = new double[k * d];
        var covariances = new double[k * block];
        for (var i = 0; i < k; i++)
        {
            var j = order[i];
            start[i] = model.StartProbabilities[j];
            for (var c = 0; c < k; c++)
            {
                transitions[(i * k) + c] = model.Transitions[(j * k) + order[c]];
            }

            model.Means.Slice(j * d, d).CopyTo(means.AsSpan(i * d, d));
            model.Covariances.Slice(j * block, block).CopyTo(covariances.AsSpan(i * block, block));
        }

        return GaussianHmm.Create(start, transitions, means, covariances, k, d, model.CovarianceType);
    }

    /// <summary>
    /// The assignment of columns to rows of a K×K cost matrix (row-major) with the least total cost: result[i] = the column
    /// given to row i. Hungarian algorithm with potentials, O(K³). Costs must be finite.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix is not K×K with K ≥ 1, or holds a non-finite cost.</exception>
    public static int[] MinimumCostAssignment(ReadOnlySpan<double> cost, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (cost.Length != k * k)
        {
            throw new ArgumentException($"the cost matrix has {cost.Length} entries; {k}×{k} needs {k * k}", nameof(cost));
        }

        for (var i = 0; i < cost.Length; i++)
        {
            if (!double.IsFinite(cost[i]))
            {
                throw new ArgumentException($"cost ({i / k}, {i % k}) is not finite", nameof(cost));
            }
        }

        // 1-based potentials u (rows) and v (columns); p[j] = row matched to column j (0 = none); way = augmenting path.
        var u = new double[k + 1];
        var v = new double[k + 1];
        var p = new int[k + 1];
        var way = new int[k + 1];
        var minv = new double[k + 1];
        var used = new bool[k + 1];
        for (var i = 1; i <= k; i++)
        {
            p[0] = i;
            var j0 = 0;
            Array.Fill(minv, double.PositiveInfinity);
            Array.Clear(used);
            do
            {
                used[j0] = true;
                int i0 = p[j0], j1 = 0;
                var delta = double.PositiveInfinity;
                for (var j = 1; j <= k; j++)
                {
                    if (used[j])
                    {
                        continue;
                    }

                    var reduced = cost[((i0 - 1) * k) + (j - 1)] - u[i0] - v[j];
                    if (reduced < minv[j])
                    {
                        minv[j] = reduced;
                        way[j] = j0;
                    }

                    if (minv[j] < delta)
                    {
                        delta = minv[j];
                        j1 = j;
                    }
                }

                for (var j = 0; j <= k; j++)
                {
                    if (used[j])
                    {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minv[j] -= delta;
                    }
                }

                j0 = j1;
            }
            while (p[j0] != 0);

            do
            {
                var j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
            }
            while (j0 != 0);
        }

        var result = new int[k];
        for (var j = 1; j <= k; j++)
        {
            result[p[j] - 1] = j - 1;
        }

        return result;
    }

    /// <summary>
    /// Bhattacharyya distance between two Gaussians given by their means and full row-major covariances (d×d); +∞ when the
    /// average covariance does not factor. <paramref name="scratch"/> holds at least d² + d values.
    /// </summary>
    internal static double Bhattacharyya(
        ReadOnlySpan<double> mean1, ReadOnlySpan<double> covariance1, double logDet1,
        ReadOnlySpan<double> mean2, ReadOnlySpan<double> covariance2, double logDet2,
        int d, Span<double> scratch)
    {
        var average = scratch.Slice(0, d * d);
        var diff = scratch.Slice(d * d, d);
        for (var i = 0; i < d * d; i++)
        {
            average[i] = 0.5 * (covariance1[i] + covariance2[i]);
        }

        if (!Cholesky.TryFactor(average, d))
        {
            return double.PositiveInfinity;
        }

        for (var i = 0; i < d; i++)
        {
            diff[i] = mean1[i] - mean2[i];
        }

        Cholesky.ForwardSubstitute(average, d, diff);
        var mahalanobis = 0.0;
        foreach (var z in diff)
        {
            mahalanobis += z * z;
        }

        return (mahalanobis / 8) + (0.5 * (Cholesky.LogDeterminant(average, d) - (0.5 * (logDet1 + logDet2))));
    }

    private static int[] MatchGaussians(
        int k, int d, ReadOnlySpan<double> currentMeans, ReadOnlySpan<double> candidateMeans,
        Func<int, double[]> currentCovariance, Func<int, double[]> candidateCovariance)
    {
        if (k == 1)
        {
            return [0];
        }

        var a = new double[k][];
        var b = new double[k][];
        var logDetA = new double[k];
        var logDetB = new double[k];
        var factor = new double[d * d];
        for (var i = 0; i < k; i++)
        {
            a[i] = currentCovariance(i);
            b[i] = candidateCovariance(i);
            logDetA[i] = LogDeterminant(a[i], d, factor);
            logDetB[i] = LogDeterminant(b[i], d, factor);
        }

        var cost = new double[k * k];
        var scratch = new double[(d * d) + d];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                var distance = Bhattacharyya(
                    currentMeans.Slice(i * d, d), a[i], logDetA[i], candidateMeans.Slice(j * d, d), b[j], logDetB[j], d, scratch);
                cost[(i * k) + j] = double.IsFinite(distance) ? Math.Min(Math.Max(distance, 0), MaxDistance) : MaxDistance;
            }
        }

        return MinimumCostAssignment(cost, k);
    }

    /// <summary>ln|Σ| of a d×d covariance through <paramref name="factor"/> (d² scratch); NaN when it is not positive definite.</summary>
    internal static double LogDeterminant(double[] covariance, int d, double[] factor)
    {
        covariance.CopyTo(factor, 0);
        return Cholesky.TryFactor(factor, d) ? Cholesky.LogDeterminant(factor, d) : double.NaN;
    }

    private static bool IsIdentity(int[] order)
    {
        for (var i = 0; i < order.Length; i++)
        {
            if (order[i] != i)
            {
                return false;
            }
        }

        return true;
    }

    private static void CheckPermutation(ReadOnlySpan<int> order, int k)
    {
        if (order.Length != k)
        {
            throw new ArgumentException($"the order has {order.Length} entries; the model has {k} components", nameof(order));
        }

        var seen = new bool[k];
        foreach (var j in order)
        {
            if ((uint)j >= (uint)k || seen[j])
            {
                throw new ArgumentException($"the order is not a permutation of 0..{k - 1}", nameof(order));
            }

            seen[j] = true;
        }
    }
}
