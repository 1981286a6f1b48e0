namespace EmStreaming.Numerics.Linear;

/// <summary>Dense Cholesky kernels over row-major n×n spans (small n: the dimension of an observation).</summary>
internal static class Cholesky
{
    /// <summary>
    /// Replaces the symmetric matrix <paramref name="a"/> by its lower factor L (A = L·Lᵀ), zeroing the strict upper part.
    /// Only the lower triangle of the input is read. Returns false (contents unspecified) when A is not positive definite.
    /// </summary>
    public static bool TryFactor(Span<double> a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.Slice(j * n, n);
            var d = rowJ[j];
            for (var p = 0; p < j; p++)
            {
                d -= rowJ[p] * rowJ[p];
            }

            if (!(d > 0) || !double.IsFinite(d))
            {
                return false;
            }

            var ljj = Math.Sqrt(d);
            rowJ[j] = ljj;
            for (var i = j + 1; i < n; i++)
            {
                var rowI = a.Slice(i * n, n);
                var s = rowI[j];
                for (var p = 0; p < j; p++)
                {
                    s -= rowI[p] * rowJ[p];
                }

                rowI[j] = s / ljj;
            }

            rowJ.Slice(j + 1).Clear();
        }

        return true;
    }

    /// <summary>Solves L·z = b in place (L lower, row-major n×n).</summary>
    public static void ForwardSubstitute(ReadOnlySpan<double> l, int n, Span<double> b)
    {
        for (var i = 0; i < n; i++)
        {
            var row = l.Slice(i * n, n);
            var s = b[i];
            for (var p = 0; p < i; p++)
            {
                s -= row[p] * b[p];
            }

            b[i] = s / row[i];
        }
    }

    /// <summary>Solves Lᵀ·x = b in place (L lower, row-major n×n).</summary>
    public static void BackSubstitute(ReadOnlySpan<double> l, int n, Span<double> b)
    {
        for (var i = n - 1; i >= 0; i--)
        {
            var s = b[i];
            for (var p = i + 1; p < n; p++)
            {
                s -= l[(p * n) + i] * b[p];
            }

            b[i] = s / l[(i * n) + i];
        }
    }

    /// <summary>Writes M = L⁻¹ (lower triangular) into <paramref name="inverse"/>.</summary>
    public static void InvertLower(ReadOnlySpan<double> l, int n, Span<double> inverse)
    {
        inverse.Slice(0, n * n).Clear();
        for (var c = 0; c < n; c++)
        {
            // Column c of L⁻¹ solves L·m = e_c; entries above c are zero.
            for (var i = c; i < n; i++)
            {
                var s = i == c ? 1.0 : 0.0;
                for (var p = c; p < i; p++)
                {
                    s -= l[(i * n) + p] * inverse[(p * n) + c];
                }

                inverse[(i * n) + c] = s / l[(i * n) + i];
            }
        }
    }

    /// <summary>log det(A) = 2·Σ ln L_ii.</summary>
    public static double LogDeterminant(ReadOnlySpan<double> l, int n)
    {
        var s = 0.0;
        for (var i = 0; i < n; i++)
        {
            s += Math.Log(l[(i * n) + i]);
        }

        return 2.0 * s;
    }
}
