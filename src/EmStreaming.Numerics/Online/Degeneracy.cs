using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Linear;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Checks a fitted mixture or HMM for the degenerate solutions that maximum likelihood favours: a component or state that
/// holds too few rows to determine its covariance, or whose covariance has collapsed along some direction relative to the
/// data's own scale (a state on the exact-zero returns of a quiet market, a component on a handful of duplicates). Such a fit
/// scores best of all on the rows it was fitted on, so a host must refuse it whatever its likelihood.
/// </summary>
public static class Degeneracy
{
    /// <summary>
    /// Smallest eigenvalue allowed for a covariance standardized by the rows' column scales (<see cref="CovarianceFloor.Scale"/>,
    /// a within-cluster variance, so honest narrow modes far apart are not taken for collapsed ones), D^−½ Σ D^−½: 1e-3, a
    /// standard deviation 3 % of the column's along the worst direction. Ten times the M-step floor (<see cref="CovarianceFloor.DefaultRelative"/>),
    /// so a component held up only by that floor is reported.
    /// </summary>
    public const double MinimumRelativeEigenvalue = 1e-3;

    /// <summary>Smallest expected number of rows a component or state must hold: 2(d + 1), twice what determines a mean and a covariance.</summary>
    public static double MinimumOccupancy(int dimension) => 2.0 * (dimension + 1);

    /// <summary>The first degenerate component of <paramref name="model"/> on <paramref name="rows"/> described in words, or null when none is.</summary>
    /// <exception cref="ArgumentException">The rows' width differs from the model's dimension.</exception>
    public static string? Check(GaussianMixture model, DataMatrix rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rows);
        var k = model.Components;
        var posteriors = new double[rows.Rows * k];
        model.PredictProba(rows, posteriors);
        return Check("component", k, model.Dimension, posteriors, rows, model.FullCovariance);
    }

    /// <summary>The first degenerate state of <paramref name="model"/> on <paramref name="rows"/> (one sequence) described in words, or null.</summary>
    /// <exception cref="ArgumentException">The rows' width differs from the model's dimension.</exception>
    public static string? Check(GaussianHmm model, DataMatrix rows) => Check(model, rows, null);

    /// <summary>As <see cref="Check(GaussianHmm, DataMatrix)"/>, without checking the <paramref name="exempt"/> states (kept from an earlier model: these rows do not show their regimes).</summary>
    internal static string? Check(GaussianHmm model, DataMatrix rows, IReadOnlyCollection<int>? exempt)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rows);
        var k = model.States;
        var posteriors = new double[rows.Rows * k];
        model.Smooth(rows, posteriors);
        return Check("state", k, model.Dimension, posteriors, rows, model.FullCovariance, exempt);
    }

    private static string? Check(string what, int k, int d, double[] posteriors, DataMatrix rows, Func<int, double[]> covariance, IReadOnlyCollection<int>? exempt = null)
    {
        if (rows.Columns != d)
        {
            throw new ArgumentException($"the rows have {rows.Columns} columns; the model has dimension {d}", nameof(rows));
        }

        if (rows.Rows == 0)
        {
            return null;
        }

        var minimum = MinimumOccupancy(d);
        var scale = new double[d];
        CovarianceFloor.Scale(rows.Values, d, scale);
        var s = new double[d * d];
        for (var c = 0; c < k; c++)
        {
            if (exempt?.Contains(c) == true)
            {
                continue;
            }

            var occupancy = 0.0;
            for (var i = 0; i < rows.Rows; i++)
            {
                occupancy += posteriors[(i * k) + c];
            }

            if (occupancy < minimum)
            {
                return $"{what} {c} holds {occupancy:0.#} of {rows.Rows} rows; each needs at least 2(d+1) = {minimum:0}";
            }

            // λ_min(D^−½ Σ D^−½) > τ ⇔ D^−½ Σ D^−½ − τ I is positive definite ⇔ its Cholesky factorization succeeds. A column
            // without spread in these rows has no scale to be relative to and is taken as is.
            var sigma = covariance(c);
            for (var i = 0; i < d; i++)
            {
                for (var j = 0; j < d; j++)
                {
                    var si = scale[i] > 0 ? Math.Sqrt(scale[i]) : 1.0;
                    var sj = scale[j] > 0 ? Math.Sqrt(scale[j]) : 1.0;
                    s[(i * d) + j] = (sigma[(i * d) + j] / (si * sj)) - (i == j ? MinimumRelativeEigenvalue : 0.0);
                }
            }

            if (!Cholesky.TryFactor(s, d))
            {
                return $"{what} {c} has a variance below {MinimumRelativeEigenvalue:0.###} of the data's own along some direction (collapsed on near-identical rows)";
            }
        }

        return null;
    }
}
