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

    /// <summary>
    /// The per-component part of the precision path (<see cref="ConditionalByPrecision"/>): L = chol(Σ) into
    /// <paramref name="l"/>, P = Σ⁻¹ = L⁻ᵀL⁻¹ into <paramref name="precision"/> (both d×d; <paramref name="work"/> d×d) and
    /// ln det Σ. False when Σ is not positive definite.
    /// </summary>
    public static bool TryPrepareByPrecision(ReadOnlySpan<double> sigma, int d, Span<double> l, Span<double> precision, Span<double> work, out double logDet)
    {
        sigma.Slice(0, d * d).CopyTo(l);
        if (!Cholesky.TryFactor(l.Slice(0, d * d), d))
        {
            logDet = 0;
            return false;
        }

        logDet = Cholesky.LogDeterminant(l, d);
        var inverse = work.Slice(0, d * d);
        Cholesky.InvertLower(l, d, inverse);
        InverseFromInverseFactor(inverse, d, precision);
        return true;
    }

    /// <summary>A = L·Lᵀ's inverse from M = L⁻¹ (lower, n×n): A⁻¹ = MᵀM, (A⁻¹)_ij = Σ_{r ≥ max(i, j)} M_ri M_rj, both triangles.</summary>
    public static void InverseFromInverseFactor(ReadOnlySpan<double> inverseFactor, int n, Span<double> inverse)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var v = 0.0;
                for (var r = i; r < n; r++)
                {
                    v += inverseFactor[(r * n) + i] * inverseFactor[(r * n) + j];
                }

                inverse[(i * n) + j] = v;
                inverse[(j * n) + i] = v;
            }
        }
    }

    /// <summary>x̂ = the row completed by its conditional mean: x on the observed entries, μ_m + δ on the missing ones (μ_m for an empty δ).</summary>
    public static void Complete(ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, ReadOnlySpan<double> mu, ReadOnlySpan<double> delta, Span<double> xhat)
    {
        foreach (var j in obs)
        {
            xhat[j] = x[j];
        }

        for (var a = 0; a < mis.Length; a++)
        {
            xhat[mis[a]] = mu[mis[a]] + (delta.IsEmpty ? 0.0 : delta[a]);
        }
    }

    /// <summary>
    /// One row's conditional mean offset through the full precision P = Σ⁻¹ instead of a factorization of Σ_oo: with z = x_o − μ_o,
    /// δ = E[x_m | x_o] − μ_m = −P_mm⁻¹ P_mo z (the Schur-complement identities), written to <paramref name="delta"/> (m entries);
    /// the Cholesky factor of P_mm is left in <paramref name="pmm"/> (m×m), and z at the observed indices of
    /// <paramref name="y"/> (d entries). Costs o·m + m³/3 instead of the o³/3 of factoring Σ_oo: the way for rows whose
    /// pattern is (nearly) their own and that miss few of many values. False when P_mm is numerically not positive definite.
    /// </summary>
    public static bool ConditionalByPrecision(
        ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, ReadOnlySpan<double> mu, ReadOnlySpan<double> precision, int d,
        Span<double> y, Span<double> pmm, Span<double> delta)
    {
        var m = mis.Length;
        foreach (var j in obs)
        {
            y[j] = x[j] - mu[j];
        }

        for (var a = 0; a < m; a++)
        {
            var row = precision.Slice(mis[a] * d, d);
            var v = 0.0;
            foreach (var j in obs)
            {
                v += row[j] * y[j];
            }

            delta[a] = -v;
            for (var e = 0; e <= a; e++)
            {
                pmm[(a * m) + e] = row[mis[e]];
            }
        }

        if (!Cholesky.TryFactor(pmm.Slice(0, m * m), m))
        {
            return false;
        }

        Cholesky.ForwardSubstitute(pmm, m, delta);
        Cholesky.BackSubstitute(pmm, m, delta);
        return true;
    }

    /// <summary>
    /// log N(x_o; μ_o, Σ_oo) after <see cref="ConditionalByPrecision"/>: with y = (z, δ) the row completed by its conditional
    /// mean, (x_o − μ_o)ᵀΣ_oo⁻¹(x_o − μ_o) = yᵀΣ⁻¹y = ‖L⁻¹y‖², a sum of squares (no cancellation; and y minimizes the form
    /// over x_m, so an error in δ changes it only to second order), and ln det Σ_oo = ln det Σ + ln det P_mm.
    /// <paramref name="y"/> is overwritten.
    /// </summary>
    public static double LogDensityByPrecision(ReadOnlySpan<int> mis, ReadOnlySpan<double> l, double logDet, int d, ReadOnlySpan<double> pmm, ReadOnlySpan<double> delta, Span<double> y)
    {
        var m = mis.Length;
        for (var a = 0; a < m; a++)
        {
            y[mis[a]] = delta[a];
        }

        Cholesky.ForwardSubstitute(l, d, y.Slice(0, d));
        var maha = 0.0;
        for (var j = 0; j < d; j++)
        {
            maha += y[j] * y[j];
        }

        var logDetOo = logDet + Cholesky.LogDeterminant(pmm, m);
        return -0.5 * (((d - m) * Log2Pi) + logDetOo + maha);
    }

    /// <summary>C = Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om = P_mm⁻¹ from the factor <paramref name="pmm"/> left by <see cref="ConditionalByPrecision"/> (m×m into <paramref name="c"/>; <paramref name="work"/> m×m).</summary>
    public static void ConditionalCovarianceByPrecision(ReadOnlySpan<double> pmm, int m, Span<double> c, Span<double> work)
    {
        var inverse = work.Slice(0, m * m);
        Cholesky.InvertLower(pmm, m, inverse);
        InverseFromInverseFactor(inverse, m, c);
    }
}
