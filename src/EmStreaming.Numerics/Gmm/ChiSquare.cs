namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// The chi-square distribution's upper tail, P(χ²_ν ≥ x) = Q(ν/2, x/2), the regularized upper incomplete gamma function,
/// for the degrees of freedom a Mahalanobis distance has (ν = 1, 2, 3, …: the observed coordinates of a row).
/// </summary>
/// <remarks>
/// Up to 64 degrees of freedom and x = 1,400, Q is a finite sum (<see cref="UpperRegularizedGammaHalf"/>). Elsewhere
/// Q(a, x) is evaluated as in Numerical Recipes' <c>gammq</c>: the series of P = 1 − Q below x = a + 1, and Lentz's
/// continued fraction for Q itself above it, so a small tail keeps its relative precision (1e-300 is still 1e-300, not
/// 1 − (1 − 1e-300) = 0). ln Γ(a) is exact for the half-integers ν/2 (a sum of logarithms), not an approximation.
/// </remarks>
internal static class ChiSquare
{
    private const int MaxIterations = 10_000;
    private const double Epsilon = 1e-16;
    private const double Tiny = 1e-300;
    private static readonly double LogSqrtPi = 0.5 * Math.Log(Math.PI);

    /// <summary>P(χ²_ν ≥ <paramref name="x"/>) for ν = <paramref name="degreesOfFreedom"/> ≥ 1; 1 for x ≤ 0, 0 for x = +∞, NaN for NaN.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="degreesOfFreedom"/> is below 1.</exception>
    public static double Survival(int degreesOfFreedom, double x)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        return UpperRegularizedGammaHalf(degreesOfFreedom, 0.5 * x, LogGammaHalf(degreesOfFreedom));
    }

    /// <summary>Largest ν the closed forms take (ν/2 terms at most); above it, the expansions.</summary>
    internal const int ClosedFormMaxDegrees = 64;

    /// <summary>
    /// Largest y the closed forms take: e^(−y) is still a normal double there (e^(−700) ≈ 1e-304), so it keeps its relative
    /// precision; beyond it the expansions, which work in logarithms.
    /// </summary>
    internal const double ClosedFormMaxArgument = 700;

    private static readonly double TwoOverSqrtPi = 2.0 / Math.Sqrt(Math.PI);

    /// <summary>
    /// Q(ν/2, <paramref name="y"/>) = P(χ²_ν ≥ 2y), given ln Γ(ν/2). For ν ≤ <see cref="ClosedFormMaxDegrees"/> and
    /// y ≤ <see cref="ClosedFormMaxArgument"/> in closed form, from Q(a + 1, y) = Q(a, y) + e^(−y) y^a / Γ(a + 1):
    /// e^(−y) Σ_{j &lt; ν/2} y^j / j! for even ν, and erfc(√y) + e^(−y) Σ_{j &lt; (ν−1)/2} y^(j+½) / Γ(j + 3/2) for odd ν:
    /// at most 32 terms, all positive (no cancellation, so a small tail keeps its relative precision), instead of an
    /// expansion of tens of iterations with a division each. Elsewhere <see cref="UpperRegularizedGamma"/>.
    /// </summary>
    internal static double UpperRegularizedGammaHalf(int degreesOfFreedom, double y, double logGammaHalf)
    {
        if (!(y > 0) || degreesOfFreedom > ClosedFormMaxDegrees || y > ClosedFormMaxArgument)
        {
            return UpperRegularizedGamma(0.5 * degreesOfFreedom, y, logGammaHalf);
        }

        var half = degreesOfFreedom >> 1;
        if ((degreesOfFreedom & 1) == 0)
        {
            double term = 1.0, sum = 1.0;
            for (var j = 1; j < half; j++)
            {
                term *= y / j;
                sum += term;
            }

            return Math.Min(1.0, Math.Exp(-y) * sum);
        }

        var root = Math.Sqrt(y);
        var complement = MathNet.Numerics.SpecialFunctions.Erfc(root);
        if (half == 0)
        {
            return complement;
        }

        double t = TwoOverSqrtPi * root, s = t; // y^½ / Γ(3/2)
        for (var j = 1; j < half; j++)
        {
            t *= y / (j + 0.5);
            s += t;
        }

        return Math.Min(1.0, complement + (Math.Exp(-y) * s));
    }

    /// <summary>ln Γ(ν/2), exactly: ln((ν/2 − 1)!) for even ν, ln(√π · (ν − 2)!! / 2^((ν−1)/2)) for odd ν.</summary>
    internal static double LogGammaHalf(int degreesOfFreedom)
    {
        // Γ(a + 1) = a·Γ(a), from Γ(1) = 1 or Γ(1/2) = √π.
        double a, sum;
        if (degreesOfFreedom % 2 == 0)
        {
            (a, sum) = (1.0, 0.0);
        }
        else
        {
            (a, sum) = (0.5, LogSqrtPi);
        }

        for (; a < 0.5 * degreesOfFreedom; a += 1.0)
        {
            sum += Math.Log(a);
        }

        return sum;
    }

    /// <summary>Q(a, x) given ln Γ(a).</summary>
    internal static double UpperRegularizedGamma(double a, double x, double logGammaA)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }

        if (x <= 0)
        {
            return 1.0;
        }

        if (double.IsPositiveInfinity(x))
        {
            return 0.0;
        }

        // x^a e^(−x) / Γ(a), the factor both expansions share, in logs (x^a overflows long before the product does).
        var logFactor = (a * Math.Log(x)) - x - logGammaA;
        if (x < a + 1.0)
        {
            // P(a, x) = x^a e^(−x) / Γ(a + 1) · Σ x^n / ((a + 1)…(a + n)).
            double term = 1.0 / a, sum = term, ap = a;
            for (var n = 0; n < MaxIterations; n++)
            {
                ap += 1.0;
                term *= x / ap;
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * Epsilon)
                {
                    break;
                }
            }

            return Math.Clamp(1.0 - (sum * Math.Exp(logFactor)), 0.0, 1.0);
        }

        // Q(a, x) = x^a e^(−x) / Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − 2·(2 − a)/(x + 5 − a − …))), modified Lentz.
        var b = x + 1.0 - a;
        var c = 1.0 / Tiny;
        var d = 1.0 / b;
        var h = d;
        for (var i = 1; i <= MaxIterations; i++)
        {
            var an = -i * (i - a);
            b += 2.0;
            d = (an * d) + b;
            if (Math.Abs(d) < Tiny)
            {
                d = Tiny;
            }

            c = b + (an / c);
            if (Math.Abs(c) < Tiny)
            {
                c = Tiny;
            }

            d = 1.0 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1.0) < Epsilon)
            {
                break;
            }
        }

        return Math.Clamp(Math.Exp(logFactor) * h, 0.0, 1.0);
    }
}
