using EmStreaming.Numerics.Linear;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Ghahramani–Jordan kernels for one missingness pattern (o = observed, m = missing indices, both ascending):
/// the marginal N(x_o; μ_o, Σ_oo), the regression B = Σ_mo·Σ_oo⁻¹ and the conditional covariance C = Σ_mm − B·Σ_om.
/// </summary>
internal static class MissingData
{
    private static readonly double Log2Pi = Math.Log(2.0 * Math.PI);

    /// <summary>Fills <paramref name="indices"/> with the observed indices followed by the missing ones.</summary>
    public static void SplitIndices(ReadOnlySpan<double> x, Span<int> indices, out Span<int> observed, out Span<int> missing)
    {
        var o = 0;
        for (var i = 0; i < x.Length; i++)
        {
            if (!double.IsNaN(x[i]))
            {
                indices[o++] = i;
            }
        }

        var m = o;
        for (var i = 0; i < x.Length; i++)
        {
            if (double.IsNaN(x[i]))
            {
                indices[m++] = i;
            }
        }

        observed = indices.Slice(0, o);
        missing = indices.Slice(o, x.Length - o);
    }

    /// <summary>
    /// Factors Σ_oo (lower, o×o into <paramref name="lo"/>) and, when <paramref name="b"/> is not empty, writes B (m×o) and
    /// C (m×m). <paramref name="work"/> needs at least D entries. Returns false when Σ_oo is not positive definite.
    /// </summary>
    public static bool TryFactorPattern(
        ReadOnlySpan<double> sigma, int d, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis,
        Span<double> lo, Span<double> b, Span<double> c, Span<double> work, out double logConst)
    {
        var o = obs.Length;
        var m = mis.Length;
        for (var i = 0; i < o; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                lo[(i * o) + j] = sigma[(obs[i] * d) + obs[j]];
            }
        }

        if (!Cholesky.TryFactor(lo.Slice(0, o * o), o))
        {
            logConst = 0;
            return false;
        }

        logConst = -0.5 * ((o * Log2Pi) + Cholesky.LogDeterminant(lo, o));
        if (b.IsEmpty || m == 0)
        {
            return true;
        }

        var y = work.Slice(0, o);
        for (var a = 0; a < m; a++)
        {
            // Row a of B solves Σ_oo·bᵀ = Σ_{o,a} (Σ_oo symmetric).
            for (var j = 0; j < o; j++)
            {
                y[j] = sigma[(obs[j] * d) + mis[a]];
            }

            Cholesky.ForwardSubstitute(lo, o, y);
            Cholesky.BackSubstitute(lo, o, y);
            y.CopyTo(b.Slice(a * o, o));
        }

        for (var a = 0; a < m; a++)
        {
            for (var e = 0; e < m; e++)
            {
                var s = sigma[(mis[a] * d) + mis[e]];
                for (var j = 0; j < o; j++)
                {
                    s -= b[(a * o) + j] * sigma[(obs[j] * d) + mis[e]];
                }

                c[(a * m) + e] = s;
            }
        }

        // Symmetrize and clip: rounding can leave a tiny negative variance when x_m is almost determined by x_o.
        for (var a = 0; a < m; a++)
        {
            for (var e = a + 1; e < m; e++)
            {
                var s = 0.5 * (c[(a * m) + e] + c[(e * m) + a]);
                c[(a * m) + e] = s;
                c[(e * m) + a] = s;
            }

            if (c[(a * m) + a] < 0)
            {
                c[(a * m) + a] = 0;
            }
        }

        return true;
    }

    /// <summary>log N(x_o; μ_o, Σ_oo) given the factor from <see cref="TryFactorPattern"/>; <paramref name="work"/> ≥ o entries.</summary>
    public static double LogDensity(ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<double> mu, ReadOnlySpan<double> lo, double logConst, Span<double> work)
    {
        var o = obs.Length;
        var z = work.Slice(0, o);
        for (var j = 0; j < o; j++)
        {
            z[j] = x[obs[j]] - mu[obs[j]];
        }

        Cholesky.ForwardSubstitute(lo, o, z);
        double maha = 0;
        for (var j = 0; j < o; j++)
        {
            maha += z[j] * z[j];
        }

        return logConst - (0.5 * maha);
    }

    /// <summary>x̂ = x with missing entries replaced by μ_m + B·(x_o − μ_o); <paramref name="work"/> ≥ o entries.</summary>
    public static void ConditionalMean(ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, ReadOnlySpan<double> mu, ReadOnlySpan<double> b, Span<double> work, Span<double> xhat)
    {
        var o = obs.Length;
        var diff = work.Slice(0, o);
        for (var j = 0; j < o; j++)
        {
            var v = x[obs[j]];
            xhat[obs[j]] = v;
            diff[j] = v - mu[obs[j]];
        }

        for (var a = 0; a < mis.Length; a++)
        {
            var s = mu[mis[a]];
            var row = b.Slice(a * o, o);
            for (var j = 0; j < o; j++)
            {
                s += row[j] * diff[j];
            }

            xhat[mis[a]] = s;
        }
    }
}
