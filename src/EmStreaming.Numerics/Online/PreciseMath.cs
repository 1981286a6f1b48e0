using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// e^x − 1 and ln(1 + x) accurate to a few ulps for tiny x. .NET's <c>double.ExpM1</c> and <c>double.LogP1</c> (and
/// their TensorPrimitives forms) are computed as <c>Exp(x) − 1</c> and <c>Log(1 + x)</c>: at x = −1e-12 they are off
/// by 2e-5 relative and at |x| &lt; 1.1e-16 they return 0 or ±2^−53, which made a half-life of 1e16 a step of 0.
/// </summary>
internal static class PreciseMath
{
    // Below this |x| the series x + x²/2 + x³/6 + x⁴/24 leaves out |x|⁴/120 < 1e-22 relative: exact in double.
    private const double SeriesLimit = 1e-5;

    /// <summary>e^x − 1 to a few ulps for every x (Kahan's trick: exp's rounding error cancels between u − 1 and ln u).</summary>
    public static double ExpM1(double x)
    {
        if (Math.Abs(x) < SeriesLimit)
        {
            return x + (x * x * (0.5 + (x * ((1.0 / 6.0) + (x * (1.0 / 24.0))))));
        }

        var u = Math.Exp(x);
        if (u == 1.0)
        {
            return x;
        }

        var um1 = u - 1.0;
        if (um1 == -1.0)
        {
            return -1.0;
        }

        // u = +∞ (x > 709.78) or x = NaN: Exp already has the answer.
        return double.IsFinite(u) ? um1 * (x / Math.Log(u)) : um1;
    }

    /// <summary>ln(1 + x) to a few ulps for every x ≥ −1 (Kahan's trick: the rounding of 1 + x is divided back out); NaN below −1.</summary>
    public static double LogP1(double x)
    {
        var u = 1.0 + x;
        if (u == 1.0)
        {
            return x;
        }

        // u = 0 (−∞), u = +∞ or NaN, u < 0 (NaN): Log already has the answer.
        return u > 0.0 && double.IsFinite(u) ? Math.Log(u) * (x / (u - 1.0)) : Math.Log(u);
    }

    /// <summary>
    /// Σ ln(1 − g_i) for g_i in [0, 1), vectorized, accurate where g_i is tiny (ln(1 − g_i) alone loses g_i's low bits
    /// in 1 − g_i). With a = 1 − g rounded, e = (1 − a) − g is that rounding error exactly (1 − a is exact by
    /// Sterbenz's lemma for a in [0.5, 1], and e = 0 below) and ln(1 − g) = ln(a + e) = ln a + e / a to well under an ulp.
    /// </summary>
    /// <param name="g">The values.</param>
    /// <param name="scratch">Caller-owned buffer at least twice as long as <paramref name="g"/>; overwritten.</param>
    public static double SumLogOneMinus(ReadOnlySpan<double> g, Span<double> scratch)
    {
        var a = scratch.Slice(0, g.Length);
        var e = scratch.Slice(g.Length, g.Length);
        TensorPrimitives.Subtract(1.0, g, a);
        TensorPrimitives.Subtract(1.0, a, e);
        TensorPrimitives.Subtract(e, g, e);
        TensorPrimitives.Divide(e, a, e);
        var correction = TensorPrimitives.Sum<double>(e);
        TensorPrimitives.Log(a, a);
        return TensorPrimitives.Sum<double>(a) + correction;
    }
}
