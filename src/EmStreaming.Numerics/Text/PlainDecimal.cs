using System.Numerics;

namespace EmStreaming.Numerics.Text;

/// <summary>
/// The fast path for the commonest number in a CSV field or a JSON body, a plain decimal such as <c>-3.14159</c>:
/// Clinger's exact case (Clinger 1990, "How to read floating point numbers accurately"). When the digits, read as one
/// integer m, fit in 53 bits and there are at most 22 of them after the point, both m and 10^scale are exact doubles, so
/// the single IEEE division m / 10^scale is the correctly rounded value: the same double every correct parser
/// (double.Parse, Utf8JsonReader, csFastFloat) returns, at a fraction of their cost, which is most of what reading a file
/// or a request body of numbers costs.
/// </summary>
public static class PlainDecimal
{
    private const int MaxDigits = 19; // a ulong holds any 19 decimal digits
    private const ulong MaxExactMantissa = 1UL << 53;

    private static readonly double[] PowersOfTen =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

    /// <summary>
    /// Parses <c>[+-]digits[.digits]</c> (digits on both sides of a point) whose value is exact as above and not zero.
    /// False for anything else (exponents, spaces, zero with its sign, more digits than the exact case allows, text): the
    /// caller then uses the general rules.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out double value) => TryParseCore(text, out value);

    /// <summary>The same for UTF-8 text, e.g. a JSON number token's bytes (<c>Utf8JsonReader.ValueSpan</c>).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out double value) => TryParseCore(utf8, out value);

    private static bool TryParseCore<T>(ReadOnlySpan<T> text, out double value)
        where T : unmanaged, IBinaryInteger<T>
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (text.Length > 0 && (Code(text[0]) is '-' or '+'))
        {
            negative = Code(text[0]) == '-';
            i = 1;
        }

        ulong mantissa = 0;
        var whole = 0;
        for (; i < text.Length; i++)
        {
            var digit = Code(text[i]) - '0';
            if (digit > 9)
            {
                break;
            }

            mantissa = (mantissa * 10) + digit;
            whole++;
            if (whole > MaxDigits)
            {
                return false;
            }
        }

        var scale = 0;
        if (i < text.Length && Code(text[i]) == '.')
        {
            for (i++; i < text.Length; i++)
            {
                var digit = Code(text[i]) - '0';
                if (digit > 9 || whole + scale >= MaxDigits)
                {
                    return false;
                }

                mantissa = (mantissa * 10) + digit;
                scale++;
            }

            if (scale == 0)
            {
                return false;
            }
        }

        if (i != text.Length || whole == 0 || scale >= PowersOfTen.Length || mantissa == 0 || mantissa > MaxExactMantissa)
        {
            return false;
        }

        var v = (double)mantissa;
        if (scale > 0)
        {
            v /= PowersOfTen[scale];
        }

        value = negative ? -v : v;
        return true;
    }

    private static uint Code<T>(T unit)
        where T : unmanaged, IBinaryInteger<T> => uint.CreateTruncating(unit);
}
