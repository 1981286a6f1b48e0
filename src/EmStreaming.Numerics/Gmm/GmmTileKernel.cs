using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Vectorized E-step kernels over a tile of complete rows stored column-major: <c>xt[i·stride + t]</c> is column i of
/// row t (t &lt; b ≤ stride), already shifted by the statistics' origin. Every kernel runs along the rows with
/// TensorPrimitives, so its cost is about d²·K vector operations per tile instead of d²·K scalar operations per row.
/// Used by <see cref="GmmWorkspace"/> (tiles of <see cref="GmmWorkspace.TileRows"/> inside a chunk) and by the online
/// estimator (one tile per mini-batch). Caller-owned buffers, no allocation.
/// </summary>
/// <remarks>
/// Component-major matrices (log-densities, responsibilities) are K × stride: entry (k, t) at <c>k·stride + t</c>.
/// The means passed to <see cref="LogDensities"/> must be shifted by the same origin as the tile (<see cref="ShiftMeans"/>).
/// </remarks>
internal static class GmmTileKernel
{
    /// <summary>Responsibilities are clamped at e^−600 (≈ 1e−261); see <see cref="Responsibilities"/>.</summary>
    public const double MinLogResponsibility = -600.0;

    /// <summary>Length of the <c>work</c> buffer the kernels need for a tile of <paramref name="stride"/> rows.</summary>
    public static int WorkLength(int dimension, int stride) => (dimension + 2) * stride;

    /// <summary>Transposes b = rows.Length / d contiguous row-major rows into the tile, subtracting the origin.</summary>
    public static void Load(ReadOnlySpan<double> rows, ReadOnlySpan<double> origin, Span<double> xt, int stride)
    {
        var d = origin.Length;
        var b = rows.Length / d;
        for (var t = 0; t < b; t++)
        {
            var row = rows.Slice(t * d, d);
            for (var i = 0; i < d; i++)
            {
                xt[(i * stride) + t] = row[i] - origin[i];
            }
        }
    }

    /// <summary>shifted[k·d + i] = μ_k,i − origin_i.</summary>
    public static void ShiftMeans(ReadOnlySpan<double> means, ReadOnlySpan<double> origin, Span<double> shifted)
    {
        var d = origin.Length;
        for (var k = 0; k < means.Length / d; k++)
        {
            TensorPrimitives.Subtract(means.Slice(k * d, d), origin, shifted.Slice(k * d, d));
        }
    }

    /// <summary>lk[k·stride + t] = log N(x_t; μ_k, Σ_k) (no weights) for the b rows of the tile.</summary>
    /// <param name="model">Parameters with refreshed factors (the covariance type selects the kernel).</param>
    /// <param name="shiftedMeans">K×d means in the tile's coordinates.</param>
    /// <param name="xt">The tile (d × stride).</param>
    /// <param name="stride">Row capacity of the tile.</param>
    /// <param name="b">Rows in the tile.</param>
    /// <param name="lk">Destination, K × stride.</param>
    /// <param name="work">Scratch of <see cref="WorkLength"/> entries.</param>
    public static void LogDensities(GmmParameters model, ReadOnlySpan<double> shiftedMeans, ReadOnlySpan<double> xt, int stride, int b, Span<double> lk, Span<double> work)
    {
        var d = model.Dimension;
        var maha = work.Slice(0, b);
        var y = work.Slice(stride, b);
        var zAll = work.Slice(2 * stride, d * stride);
        var inv = model.InverseCholesky;
        for (var k = 0; k < model.Components; k++)
        {
            var mu = shiftedMeans.Slice(k * d, d);
            maha.Clear();
            switch (model.Type)
            {
                case CovarianceType.Full:
                    {
                        // y_j = Σ_{i≤j} M[j,i]·(x_i − μ_i) with M = L⁻¹, so ‖y‖² = (x−μ)ᵀΣ⁻¹(x−μ); the constant M·μ is
                        // folded into the start value so each term is one fused multiply-add along the rows.
                        var m = inv.AsSpan(k * d * d, d * d);
                        for (var j = 0; j < d; j++)
                        {
                            double c = 0;
                            for (var i = 0; i <= j; i++)
                            {
                                c += m[(j * d) + i] * mu[i];
                            }

                            y.Fill(-c);
                            for (var i = 0; i <= j; i++)
                            {
                                TensorPrimitives.MultiplyAdd(xt.Slice(i * stride, b), m[(j * d) + i], y, y);
                            }

                            TensorPrimitives.MultiplyAdd(y, y, maha, maha);
                        }

                        break;
                    }

                case CovarianceType.Tied:
                    {
                        // Z = M·x is shared by all components (computed once per tile at k = 0).
                        var m = inv.AsSpan(0, d * d);
                        if (k == 0)
                        {
                            for (var j = 0; j < d; j++)
                            {
                                var z = zAll.Slice(j * stride, b);
                                z.Clear();
                                for (var i = 0; i <= j; i++)
                                {
                                    TensorPrimitives.MultiplyAdd(xt.Slice(i * stride, b), m[(j * d) + i], z, z);
                                }
                            }
                        }

                        for (var j = 0; j < d; j++)
                        {
                            double c = 0;
                            for (var i = 0; i <= j; i++)
                            {
                                c += m[(j * d) + i] * mu[i];
                            }

                            TensorPrimitives.Subtract(zAll.Slice(j * stride, b), c, y);
                            TensorPrimitives.MultiplyAdd(y, y, maha, maha);
                        }

                        break;
                    }

                case CovarianceType.Diag:
                    for (var i = 0; i < d; i++)
                    {
                        TensorPrimitives.Subtract(xt.Slice(i * stride, b), mu[i], y);
                        TensorPrimitives.Multiply(y, inv[(k * d) + i], y);
                        TensorPrimitives.MultiplyAdd(y, y, maha, maha);
                    }

                    break;
                default:
                    for (var i = 0; i < d; i++)
                    {
                        TensorPrimitives.Subtract(xt.Slice(i * stride, b), mu[i], y);
                        TensorPrimitives.MultiplyAdd(y, y, maha, maha);
                    }

                    TensorPrimitives.Multiply(maha, inv[k] * inv[k], maha);
                    break;
            }

            var l = lk.Slice(k * stride, b);
            TensorPrimitives.Multiply(maha, -0.5, l);
            TensorPrimitives.Add(l, model.LogNormalizers[k], l);
        }
    }

    /// <summary>
    /// Turns the log-densities in <paramref name="lk"/> into responsibilities in place (adding ln w_k, log-sum-exp over
    /// components) and writes lse[t] = log p(x_t). A row so far from every component that all its densities underflow
    /// (log-density −∞) gets uniform responsibilities and lse = −∞.
    /// </summary>
    /// <param name="logWeights">ln w_k (K entries).</param>
    /// <param name="lk">K × stride log-densities in, responsibilities out.</param>
    /// <param name="stride">Row capacity of the tile.</param>
    /// <param name="b">Rows in the tile.</param>
    /// <param name="lse">Destination, b entries.</param>
    /// <param name="max">Scratch, b entries.</param>
    public static void Responsibilities(ReadOnlySpan<double> logWeights, Span<double> lk, int stride, int b, Span<double> lse, Span<double> max)
    {
        var kCount = logWeights.Length;
        max = max.Slice(0, b);
        lse = lse.Slice(0, b);
        for (var k = 0; k < kCount; k++)
        {
            var l = lk.Slice(k * stride, b);
            TensorPrimitives.Add(l, logWeights[k], l);
            if (k == 0)
            {
                l.CopyTo(max);
            }
            else
            {
                TensorPrimitives.Max(max, l, max);
            }
        }

        lse.Clear();
        for (var k = 0; k < kCount; k++)
        {
            var l = lk.Slice(k * stride, b);
            TensorPrimitives.Subtract(l, max, l);

            // Clamp at e^−600 (≈ 1e−261): left alone, far components give subnormal responsibilities whose products in
            // the statistics run ~100× slower on x86; the change to any statistic is below 1e−250 relative.
            TensorPrimitives.Max(l, MinLogResponsibility, l);
            TensorPrimitives.Exp(l, l);
            TensorPrimitives.Add(lse, l, lse);
        }

        for (var k = 0; k < kCount; k++)
        {
            var l = lk.Slice(k * stride, b);
            TensorPrimitives.Divide(l, lse, l);
        }

        TensorPrimitives.Log(lse, lse);
        TensorPrimitives.Add(lse, max, lse);
        if (double.IsNegativeInfinity(TensorPrimitives.Min<double>(max)))
        {
            FixUnderflowedRows(lk, stride, kCount, max, lse);
        }
    }

    /// <summary>
    /// Adds the tile with responsibilities <paramref name="responsibilities"/> (K × stride) to <paramref name="stats"/>: the
    /// tile is shifted by the statistics' <see cref="GmmSufficientStatistics.Origin"/>, and each component's sums are taken
    /// about its own centre a_k = c_k − origin in the tile's coordinates. With w = r·(x_i − a_i) (one fused operation, as
    /// r·x_i was), Σ r(x_i − a_i)(x_j − a_j) = w·x_j − a_j·Σw: no more vector operations than sums about the origin, and a
    /// component Δ from the origin loses ε·Δ/σ of its variance instead of ε·Δ²/σ².
    /// </summary>
    /// <param name="stats">Statistics to add to.</param>
    /// <param name="xt">The tile (d × stride, shifted by the statistics' origin).</param>
    /// <param name="responsibilities">K × stride, non-negative.</param>
    /// <param name="stride">Row capacity of the tile.</param>
    /// <param name="b">Rows in the tile.</param>
    /// <param name="work">Scratch of <see cref="WorkLength"/> entries.</param>
    public static void Accumulate(GmmSufficientStatistics stats, ReadOnlySpan<double> xt, ReadOnlySpan<double> responsibilities, int stride, int b, Span<double> work)
    {
        if (stats.Type == CovarianceType.Tied)
        {
            AccumulateTied(stats, xt, responsibilities, stride, b, work);
            return;
        }

        var d = stats.Dimension;
        var kCount = stats.Components;
        var s0 = stats.S0;
        var s1 = stats.S1;
        var s2 = stats.S2;
        var origin = stats.Origin;
        var centres = stats.ComponentOrigins;
        var w = work.Slice(0, b);
        Span<double> a = d <= 256 ? stackalloc double[d] : new double[d];

        for (var k = 0; k < kCount; k++)
        {
            var r = responsibilities.Slice(k * stride, b);
            s0[k] += TensorPrimitives.Sum<double>(r);
            TensorPrimitives.Subtract(centres.Slice(k * d, d), origin, a);
            var s1k = s1.Slice(k * d, d);
            if (stats.Type == CovarianceType.Full)
            {
                var block = s2.Slice(k * d * d, d * d);
                for (var i = 0; i < d; i++)
                {
                    var sw = WeightedOffsets(xt.Slice(i * stride, b), a[i], r, w, accumulate: false);
                    s1k[i] += sw;
                    for (var j = i; j < d; j++)
                    {
                        block[(i * d) + j] += TensorPrimitives.Dot<double>(w, xt.Slice(j * stride, b)) - (a[j] * sw);
                    }
                }

                continue;
            }

            // Diag: one entry per column; Spherical: their sum.
            double total = 0;
            for (var i = 0; i < d; i++)
            {
                var xi = xt.Slice(i * stride, b);
                var sw = WeightedOffsets(xi, a[i], r, w, accumulate: false);
                s1k[i] += sw;
                var sq = TensorPrimitives.Dot<double>(w, xi) - (a[i] * sw);
                if (stats.Type == CovarianceType.Diag)
                {
                    s2[(k * d) + i] += sq;
                }
                else
                {
                    total += sq;
                }
            }

            if (stats.Type == CovarianceType.Spherical)
            {
                s2[k] += total;
            }
        }
    }

    /// <summary>
    /// Tied: the one block is Σ_k Σ_t r_k(x − a_k)(x − a_k)ᵀ = Σ_t W_i·x_j − Σ_k a_kj·S_ki with W_i = Σ_k r_k(x_i − a_ki)
    /// and S_ki = Σ_t r_k(x_i − a_ki): one set of d²/2 dot products for all components, as with one origin, plus three vector
    /// operations per component and column (where one origin needed one dot product for s1).
    /// </summary>
    private static void AccumulateTied(GmmSufficientStatistics stats, ReadOnlySpan<double> xt, ReadOnlySpan<double> responsibilities, int stride, int b, Span<double> work)
    {
        var d = stats.Dimension;
        var kCount = stats.Components;
        var s0 = stats.S0;
        var s1 = stats.S1;
        var block = stats.S2.Slice(0, d * d);
        var origin = stats.Origin;
        var centres = stats.ComponentOrigins;
        var w = work.Slice(0, b);
        Span<double> sums = (kCount * d) <= 1024 ? stackalloc double[kCount * d] : new double[kCount * d];
        Span<double> a = (kCount * d) <= 1024 ? stackalloc double[kCount * d] : new double[kCount * d];
        for (var k = 0; k < kCount; k++)
        {
            s0[k] += TensorPrimitives.Sum<double>(responsibilities.Slice(k * stride, b));
            TensorPrimitives.Subtract(centres.Slice(k * d, d), origin, a.Slice(k * d, d));
        }

        for (var i = 0; i < d; i++)
        {
            var xi = xt.Slice(i * stride, b);
            for (var k = 0; k < kCount; k++)
            {
                // S_ki from r·(x − a) itself, not Σr·x − a·Σr: that difference would cost ε·Δ² again once multiplied by a_kj.
                var ski = WeightedOffsets(xi, a[(k * d) + i], responsibilities.Slice(k * stride, b), w, accumulate: k > 0);
                sums[(k * d) + i] = ski;
                s1[(k * d) + i] += ski;
            }

            for (var j = i; j < d; j++)
            {
                var v = TensorPrimitives.Dot<double>(w, xt.Slice(j * stride, b));
                for (var k = 0; k < kCount; k++)
                {
                    v -= a[(k * d) + j] * sums[(k * d) + i];
                }

                block[(i * d) + j] += v;
            }
        }
    }

    /// <summary>
    /// w = r·(x − a), or w += r·(x − a) when <paramref name="accumulate"/>, and returns Σ r·(x − a): one pass over the rows
    /// where AddMultiply, Sum (and Add) took two (three).
    /// </summary>
    internal static double WeightedOffsets(ReadOnlySpan<double> x, double a, ReadOnlySpan<double> r, Span<double> w, bool accumulate)
    {
        var n = x.Length;
        if (r.Length != n || w.Length != n)
        {
            throw new ArgumentException("x, r and w must have the same length");
        }

        ref var xs = ref MemoryMarshal.GetReference(x);
        ref var rs = ref MemoryMarshal.GetReference(r);
        ref var ws = ref MemoryMarshal.GetReference(w);
        var t = 0;
        var sum = 0.0;
        if (Vector.IsHardwareAccelerated && n >= Vector<double>.Count)
        {
            var width = Vector<double>.Count;
            var av = new Vector<double>(a);
            var acc0 = Vector<double>.Zero;
            var acc1 = Vector<double>.Zero;
            for (; t <= n - (2 * width); t += 2 * width)
            {
                var u0 = (Vector.LoadUnsafe(ref xs, (nuint)t) - av) * Vector.LoadUnsafe(ref rs, (nuint)t);
                var u1 = (Vector.LoadUnsafe(ref xs, (nuint)(t + width)) - av) * Vector.LoadUnsafe(ref rs, (nuint)(t + width));
                acc0 += u0;
                acc1 += u1;
                if (accumulate)
                {
                    u0 += Vector.LoadUnsafe(ref ws, (nuint)t);
                    u1 += Vector.LoadUnsafe(ref ws, (nuint)(t + width));
                }

                u0.StoreUnsafe(ref ws, (nuint)t);
                u1.StoreUnsafe(ref ws, (nuint)(t + width));
            }

            for (; t <= n - width; t += width)
            {
                var u = (Vector.LoadUnsafe(ref xs, (nuint)t) - av) * Vector.LoadUnsafe(ref rs, (nuint)t);
                acc0 += u;
                if (accumulate)
                {
                    u += Vector.LoadUnsafe(ref ws, (nuint)t);
                }

                u.StoreUnsafe(ref ws, (nuint)t);
            }

            sum = Vector.Sum(acc0 + acc1);
        }

        for (; t < n; t++)
        {
            var u = (Unsafe.Add(ref xs, t) - a) * Unsafe.Add(ref rs, t);
            sum += u;
            Unsafe.Add(ref ws, t) = accumulate ? Unsafe.Add(ref ws, t) + u : u;
        }

        return sum;
    }

    private static void FixUnderflowedRows(Span<double> lk, int stride, int kCount, ReadOnlySpan<double> max, Span<double> lse)
    {
        for (var t = 0; t < max.Length; t++)
        {
            if (!double.IsNegativeInfinity(max[t]))
            {
                continue;
            }

            // Every component's density underflowed: no component is preferred, and log p(x) = −∞ says so.
            for (var k = 0; k < kCount; k++)
            {
                lk[(k * stride) + t] = 1.0 / kCount;
            }

            lse[t] = double.NegativeInfinity;
        }
    }
}
