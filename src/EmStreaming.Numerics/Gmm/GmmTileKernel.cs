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
        var zAll = work.Slice(2 * stride, d * stride);
        var inv = model.InverseCholesky;
        Span<double> centre = d <= 256 ? stackalloc double[d] : new double[d];
        for (var k = 0; k < model.Components; k++)
        {
            var mu = shiftedMeans.Slice(k * d, d);
            switch (model.Type)
            {
                case CovarianceType.Full:
                    {
                        // y_j = Σ_{i≤j} M[j,i]·(x_i − μ_i) with M = L⁻¹, so ‖y‖² = (x−μ)ᵀΣ⁻¹(x−μ).
                        FullMahalanobis(inv.AsSpan(k * d * d, d * d), mu, centre, xt, stride, b, d, maha);
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

                            centre[j] = c;
                        }

                        ScaledSquares(zAll, stride, b, centre, default, maha);
                        break;
                    }

                case CovarianceType.Diag:
                    ScaledSquares(xt, stride, b, mu, inv.AsSpan(k * d, d), maha);
                    break;
                default:
                    ScaledSquares(xt, stride, b, mu, default, maha);
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
        Span<double> a = d <= 256 ? stackalloc double[d] : new double[d];

        for (var k = 0; k < kCount; k++)
        {
            var r = responsibilities.Slice(k * stride, b);
            s0[k] += TensorPrimitives.Sum<double>(r);
            TensorPrimitives.Subtract(centres.Slice(k * d, d), origin, a);
            var s1k = s1.Slice(k * d, d);
            if (stats.Type == CovarianceType.Full)
            {
                AccumulateFullComponent(xt, r, a, stride, b, d, s1k, s2.Slice(k * d * d, d * d));
                continue;
            }

            // Diag: one entry per column; Spherical: their sum.
            double total = 0;
            for (var i = 0; i < d; i++)
            {
                var (sw, swx) = WeightedOffsetMoments(xt.Slice(i * stride, b), a[i], r);
                s1k[i] += sw;
                var sq = swx - (a[i] * sw);
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

            for (var j0 = i; j0 < d; j0 += 4)
            {
                var (d0, d1, d2, d3) = Dots4(w, xt, stride, j0, d);
                for (var q = 0; q < 4 && j0 + q < d; q++)
                {
                    var j = j0 + q;
                    var v = q switch { 0 => d0, 1 => d1, 2 => d2, _ => d3 };
                    for (var k = 0; k < kCount; k++)
                    {
                        v -= a[(k * d) + j] * sums[(k * d) + i];
                    }

                    block[(i * d) + j] += v;
                }
            }
        }
    }

    /// <summary>
    /// maha[t] = Σ_i ((col_i[t] − centre_i)·scale_i)² over the d = centre.Length columns of <paramref name="columns"/>
    /// (column i at i·stride); scale_i = 1 when <paramref name="scale"/> is empty. Four vectors of rows at a time, their
    /// sums in registers: one read per entry where Subtract, Multiply and MultiplyAdd read and wrote a row vector each.
    /// </summary>
    private static void ScaledSquares(ReadOnlySpan<double> columns, int stride, int b, ReadOnlySpan<double> centre, ReadOnlySpan<double> scale, Span<double> maha)
    {
        var d = centre.Length;
        var scaled = !scale.IsEmpty;
        ref var x0 = ref MemoryMarshal.GetReference(columns);
        ref var q = ref MemoryMarshal.GetReference(maha);
        var t = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            for (; t <= b - (4 * width); t += 4 * width)
            {
                var (q0, q1, q2, q3) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
                for (var i = 0; i < d; i++)
                {
                    var c = new Vector<double>(centre[i]);
                    var f = new Vector<double>(scaled ? scale[i] : 1.0);
                    ref var xi = ref Unsafe.Add(ref x0, (i * stride) + t);
                    var y0 = (Vector.LoadUnsafe(ref xi) - c) * f;
                    var y1 = (Vector.LoadUnsafe(ref xi, (nuint)width) - c) * f;
                    var y2 = (Vector.LoadUnsafe(ref xi, (nuint)(2 * width)) - c) * f;
                    var y3 = (Vector.LoadUnsafe(ref xi, (nuint)(3 * width)) - c) * f;
                    q0 = Vector.MultiplyAddEstimate(y0, y0, q0);
                    q1 = Vector.MultiplyAddEstimate(y1, y1, q1);
                    q2 = Vector.MultiplyAddEstimate(y2, y2, q2);
                    q3 = Vector.MultiplyAddEstimate(y3, y3, q3);
                }

                q0.StoreUnsafe(ref q, (nuint)t);
                q1.StoreUnsafe(ref q, (nuint)(t + width));
                q2.StoreUnsafe(ref q, (nuint)(t + (2 * width)));
                q3.StoreUnsafe(ref q, (nuint)(t + (3 * width)));
            }

            for (; t <= b - width; t += width)
            {
                var q0 = Vector<double>.Zero;
                for (var i = 0; i < d; i++)
                {
                    var y0 = (Vector.LoadUnsafe(ref x0, (nuint)((i * stride) + t)) - new Vector<double>(centre[i])) * new Vector<double>(scaled ? scale[i] : 1.0);
                    q0 = Vector.MultiplyAddEstimate(y0, y0, q0);
                }

                q0.StoreUnsafe(ref q, (nuint)t);
            }
        }

        for (; t < b; t++)
        {
            var sum = 0.0;
            for (var i = 0; i < d; i++)
            {
                var y0 = (Unsafe.Add(ref x0, (i * stride) + t) - centre[i]) * (scaled ? scale[i] : 1.0);
                sum += y0 * y0;
            }

            Unsafe.Add(ref q, t) = sum;
        }
    }

    /// <summary>
    /// One component's full statistics: s1_i += Σ_t w_i and block[i, j≥i] += Σ_t w_i·x_j − a_j·Σ_t w_i, with
    /// w_i = r·(x_i − a_i) formed in registers. Four columns j at a time share each w_i and keep their sums in registers
    /// (a Dot per (i, j) read w and x_j and reduced every time, and w was written to memory first).
    /// </summary>
    private static void AccumulateFullComponent(ReadOnlySpan<double> xt, ReadOnlySpan<double> r, ReadOnlySpan<double> a, int stride, int b, int d, Span<double> s1k, Span<double> block)
    {
        ref var x0 = ref MemoryMarshal.GetReference(xt);
        ref var r0 = ref MemoryMarshal.GetReference(r);
        Span<double> dots = stackalloc double[4];
        for (var i = 0; i < d; i++)
        {
            var ai = a[i];
            ref var xi = ref Unsafe.Add(ref x0, i * stride);
            var sw = 0.0;
            for (var j0 = i; j0 < d; j0 += 4)
            {
                // Columns past d repeat the last one (their sums are dropped): one code path for any d.
                var (j1, j2, j3) = (Math.Min(j0 + 1, d - 1), Math.Min(j0 + 2, d - 1), Math.Min(j0 + 3, d - 1));
                ref var xa = ref Unsafe.Add(ref x0, j0 * stride);
                ref var xb = ref Unsafe.Add(ref x0, j1 * stride);
                ref var xc = ref Unsafe.Add(ref x0, j2 * stride);
                ref var xd = ref Unsafe.Add(ref x0, j3 * stride);
                var first = j0 == i;
                var t = 0;
                double d0 = 0, d1 = 0, d2 = 0, d3 = 0, s = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    var width = Vector<double>.Count;
                    var av = new Vector<double>(ai);
                    var (v0, v1, v2, v3, vs) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
                    for (; t <= b - width; t += width)
                    {
                        var at = (nuint)t;
                        var wv = (Vector.LoadUnsafe(ref xi, at) - av) * Vector.LoadUnsafe(ref r0, at);
                        vs += wv;
                        v0 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xa, at), v0);
                        v1 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xb, at), v1);
                        v2 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xc, at), v2);
                        v3 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xd, at), v3);
                    }

                    (d0, d1, d2, d3, s) = (Vector.Sum(v0), Vector.Sum(v1), Vector.Sum(v2), Vector.Sum(v3), Vector.Sum(vs));
                }

                for (; t < b; t++)
                {
                    var wt = (Unsafe.Add(ref xi, t) - ai) * Unsafe.Add(ref r0, t);
                    s += wt;
                    d0 += wt * Unsafe.Add(ref xa, t);
                    d1 += wt * Unsafe.Add(ref xb, t);
                    d2 += wt * Unsafe.Add(ref xc, t);
                    d3 += wt * Unsafe.Add(ref xd, t);
                }

                if (first)
                {
                    sw = s;
                    s1k[i] += sw;
                }

                (dots[0], dots[1], dots[2], dots[3]) = (d0, d1, d2, d3);
                for (var q = 0; q < 4 && j0 + q < d; q++)
                {
                    block[(i * d) + j0 + q] += dots[q] - (a[j0 + q] * sw);
                }
            }
        }
    }

    /// <summary>
    /// maha[t] = ‖M·x_t − M·μ‖² for the tile's rows, M lower triangular (d × d, row-major): y_j = Σ_{i≤j} M[j,i]·x_i − c_j
    /// with c_j = Σ_{i≤j} M[j,i]·μ_i (into <paramref name="c"/>, d entries) summed by the very same operations in the same
    /// order, so a row equal to μ gives exactly 0 however large M is (a component on exact duplicates). Register-blocked:
    /// four vectors of rows at a time keep their y_j and their running sums in registers, so each multiply-add reads one
    /// tile entry and writes nothing (a pass per (j, i) read and wrote y every time).
    /// </summary>
    private static void FullMahalanobis(ReadOnlySpan<double> m, ReadOnlySpan<double> mu, Span<double> c, ReadOnlySpan<double> xt, int stride, int b, int d, Span<double> maha)
    {
        ref var x0 = ref MemoryMarshal.GetReference(xt);
        ref var m0 = ref MemoryMarshal.GetReference(m);
        ref var q = ref MemoryMarshal.GetReference(maha);
        for (var j = 0; j < d; j++)
        {
            c[j] = Chain(ref Unsafe.Add(ref m0, j * d), mu, j);
        }

        var t = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            for (; t <= b - (4 * width); t += 4 * width)
            {
                var (q0, q1, q2, q3) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
                for (var j = 0; j < d; j++)
                {
                    var (y0, y1, y2, y3) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
                    ref var row = ref Unsafe.Add(ref m0, j * d);
                    for (var i = 0; i <= j; i++)
                    {
                        var mji = new Vector<double>(Unsafe.Add(ref row, i));
                        ref var xi = ref Unsafe.Add(ref x0, (i * stride) + t);
                        y0 = Vector.MultiplyAddEstimate(Vector.LoadUnsafe(ref xi), mji, y0);
                        y1 = Vector.MultiplyAddEstimate(Vector.LoadUnsafe(ref xi, (nuint)width), mji, y1);
                        y2 = Vector.MultiplyAddEstimate(Vector.LoadUnsafe(ref xi, (nuint)(2 * width)), mji, y2);
                        y3 = Vector.MultiplyAddEstimate(Vector.LoadUnsafe(ref xi, (nuint)(3 * width)), mji, y3);
                    }

                    var cj = new Vector<double>(c[j]);
                    (y0, y1, y2, y3) = (y0 - cj, y1 - cj, y2 - cj, y3 - cj);
                    q0 = Vector.MultiplyAddEstimate(y0, y0, q0);
                    q1 = Vector.MultiplyAddEstimate(y1, y1, q1);
                    q2 = Vector.MultiplyAddEstimate(y2, y2, q2);
                    q3 = Vector.MultiplyAddEstimate(y3, y3, q3);
                }

                q0.StoreUnsafe(ref q, (nuint)t);
                q1.StoreUnsafe(ref q, (nuint)(t + width));
                q2.StoreUnsafe(ref q, (nuint)(t + (2 * width)));
                q3.StoreUnsafe(ref q, (nuint)(t + (3 * width)));
            }

            for (; t <= b - width; t += width)
            {
                var q0 = Vector<double>.Zero;
                for (var j = 0; j < d; j++)
                {
                    var y0 = Vector<double>.Zero;
                    ref var row = ref Unsafe.Add(ref m0, j * d);
                    for (var i = 0; i <= j; i++)
                    {
                        y0 = Vector.MultiplyAddEstimate(Vector.LoadUnsafe(ref x0, (nuint)((i * stride) + t)), new Vector<double>(Unsafe.Add(ref row, i)), y0);
                    }

                    y0 -= new Vector<double>(c[j]);
                    q0 = Vector.MultiplyAddEstimate(y0, y0, q0);
                }

                q0.StoreUnsafe(ref q, (nuint)t);
            }
        }

        // The last rows one at a time, through the same vector operation as c (broadcast, lane 0): whether it fuses is then
        // the same for both, and a row equal to μ still gives exactly 0.
        Span<double> x = d <= 256 ? stackalloc double[d] : new double[d];
        for (; t < b; t++)
        {
            for (var i = 0; i < d; i++)
            {
                x[i] = Unsafe.Add(ref x0, (i * stride) + t);
            }

            var sum = 0.0;
            for (var j = 0; j < d; j++)
            {
                var y0 = Chain(ref Unsafe.Add(ref m0, j * d), x, j) - c[j];
                sum += y0 * y0;
            }

            Unsafe.Add(ref q, t) = sum;
        }
    }

    /// <summary>Σ_{i≤j} row[i]·v[i], accumulated from 0 in order with the vector multiply-add the tile kernels use.</summary>
    private static double Chain(ref double row, ReadOnlySpan<double> v, int j)
    {
        var acc = Vector<double>.Zero;
        for (var i = 0; i <= j; i++)
        {
            acc = Vector.MultiplyAddEstimate(new Vector<double>(v[i]), new Vector<double>(Unsafe.Add(ref row, i)), acc);
        }

        return acc[0];
    }

    /// <summary>
    /// (Σ w, Σ w·x) for w = r·(x − a), in one pass with nothing stored: the diagonal and spherical statistics of one column.
    /// </summary>
    internal static (double Sum, double SumX) WeightedOffsetMoments(ReadOnlySpan<double> x, double a, ReadOnlySpan<double> r)
    {
        var n = x.Length;
        if (r.Length != n)
        {
            throw new ArgumentException("x and r must have the same length");
        }

        ref var xs = ref MemoryMarshal.GetReference(x);
        ref var rs = ref MemoryMarshal.GetReference(r);
        var t = 0;
        double sum = 0, sumX = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            var av = new Vector<double>(a);
            var (s0, s1, p0, p1) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
            for (; t <= n - (2 * width); t += 2 * width)
            {
                var x0 = Vector.LoadUnsafe(ref xs, (nuint)t);
                var x1 = Vector.LoadUnsafe(ref xs, (nuint)(t + width));
                var u0 = (x0 - av) * Vector.LoadUnsafe(ref rs, (nuint)t);
                var u1 = (x1 - av) * Vector.LoadUnsafe(ref rs, (nuint)(t + width));
                s0 += u0;
                s1 += u1;
                p0 = Vector.MultiplyAddEstimate(u0, x0, p0);
                p1 = Vector.MultiplyAddEstimate(u1, x1, p1);
            }

            for (; t <= n - width; t += width)
            {
                var x0 = Vector.LoadUnsafe(ref xs, (nuint)t);
                var u0 = (x0 - av) * Vector.LoadUnsafe(ref rs, (nuint)t);
                s0 += u0;
                p0 = Vector.MultiplyAddEstimate(u0, x0, p0);
            }

            (sum, sumX) = (Vector.Sum(s0 + s1), Vector.Sum(p0 + p1));
        }

        for (; t < n; t++)
        {
            var xt = Unsafe.Add(ref xs, t);
            var u = (xt - a) * Unsafe.Add(ref rs, t);
            sum += u;
            sumX += u * xt;
        }

        return (sum, sumX);
    }

    /// <summary>
    /// Σ_t w_t·x_j,t for the four tile columns j0 … j0 + 3 in one pass over w (columns past d − 1 repeat the last one;
    /// callers drop their sums).
    /// </summary>
    internal static (double D0, double D1, double D2, double D3) Dots4(ReadOnlySpan<double> w, ReadOnlySpan<double> xt, int stride, int j0, int d)
    {
        var b = w.Length;
        if (j0 < 0 || j0 >= d || xt.Length < ((d - 1) * stride) + b)
        {
            throw new ArgumentException("the columns must lie in the tile");
        }

        ref var x0 = ref MemoryMarshal.GetReference(xt);
        ref var ws = ref MemoryMarshal.GetReference(w);
        ref var xa = ref Unsafe.Add(ref x0, j0 * stride);
        ref var xb = ref Unsafe.Add(ref x0, Math.Min(j0 + 1, d - 1) * stride);
        ref var xc = ref Unsafe.Add(ref x0, Math.Min(j0 + 2, d - 1) * stride);
        ref var xd = ref Unsafe.Add(ref x0, Math.Min(j0 + 3, d - 1) * stride);
        var t = 0;
        double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            var (v0, v1, v2, v3) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
            for (; t <= b - width; t += width)
            {
                var at = (nuint)t;
                var wv = Vector.LoadUnsafe(ref ws, at);
                v0 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xa, at), v0);
                v1 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xb, at), v1);
                v2 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xc, at), v2);
                v3 = Vector.MultiplyAddEstimate(wv, Vector.LoadUnsafe(ref xd, at), v3);
            }

            (d0, d1, d2, d3) = (Vector.Sum(v0), Vector.Sum(v1), Vector.Sum(v2), Vector.Sum(v3));
        }

        for (; t < b; t++)
        {
            var wt = Unsafe.Add(ref ws, t);
            d0 += wt * Unsafe.Add(ref xa, t);
            d1 += wt * Unsafe.Add(ref xb, t);
            d2 += wt * Unsafe.Add(ref xc, t);
            d3 += wt * Unsafe.Add(ref xd, t);
        }

        return (d0, d1, d2, d3);
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
