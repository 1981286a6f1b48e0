using System.Globalization;
using nietras.SeparatedValues;

namespace EmStreaming.Server.Api;

/// <summary>
/// The RFC 4180 rules every CSV reader of EmStreaming shares (HTTP bodies here, files in <c>emstream</c>): Sep parses
/// quotes (a quoted field may hold separators, doubled quotes and line breaks), fields are trimmed, and an empty
/// field, <c>NA</c> or <c>NaN</c> (any case) is a missing value.
/// </summary>
internal static class CsvFormat
{
    /// <summary>
    /// Sep options: quotes unescaped, the column count checked by the caller (whose message names the row), no
    /// header handling (the caller decides what the first row is).
    /// </summary>
    public static SepReaderOptions Reader(char separator) =>
        Sep.New(separator).Reader(o => o with
        {
            HasHeader = false,
            Unescape = true,
            DisableColCountCheck = true,
            CultureInfo = CultureInfo.InvariantCulture,
        });

    /// <summary>
    /// True when the raw row (read before any column is unescaped) opens a quote it never closes: Sep then takes
    /// the rest of the input as that field, which must be an error rather than a silently merged row.
    /// </summary>
    public static bool HasUnterminatedQuote(ReadOnlySpan<char> rawRow) => (rawRow.Count('"') & 1) == 1;

    /// <summary>True for a row holding nothing but spaces (skipped like a blank line).</summary>
    public static bool IsBlank(ReadOnlySpan<char> rawRow) => rawRow.Trim().IsEmpty;

    /// <summary>Empty, NA and NaN (any case, surrounding spaces ignored) are missing values.</summary>
    public static bool IsMissing(ReadOnlySpan<char> field)
    {
        var f = field.Trim();
        return f.IsEmpty || f.Equals("NA", StringComparison.OrdinalIgnoreCase) || f.Equals("NaN", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Parses a field: a missing value gives NaN; anything else must be an invariant-culture number.</summary>
    public static bool TryParseValue(ReadOnlySpan<char> field, out double value)
    {
        if (IsMissing(field))
        {
            value = double.NaN;
            return true;
        }

        return double.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A field for an error message: trimmed and cut to 40 characters.</summary>
    public static string Quote(ReadOnlySpan<char> field)
    {
        var f = field.Trim();
        return f.Length <= 40 ? f.ToString() : string.Concat(f[..40], "…");
    }
}
