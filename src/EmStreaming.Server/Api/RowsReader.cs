using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Text;
using Microsoft.AspNetCore.Http.Features;
using nietras.SeparatedValues;

namespace EmStreaming.Server.Api;

/// <summary>
/// Reads the rows of an observations, predict, filter or impute request: JSON <c>{"rows":[[…],…]}</c>, NDJSON (one
/// JSON array per line) or CSV (header optional), chosen by Content-Type. <c>null</c> (JSON) or an empty field, NA or
/// NaN (CSV) is a missing value. Anything that is not a finite number or a missing value is a 400 naming <c>rows[i][j]</c>.
/// </summary>
internal static class RowsReader
{
    public const string Json = "application/json";
    public const string Ndjson = "application/x-ndjson";
    public const string Csv = "text/csv";
    public const string Supported = "application/json ({\"rows\":[[...]]}), application/x-ndjson (one JSON array per line) or text/csv";

    /// <summary>Reads the whole body (at most <paramref name="maxBytes"/>) and parses it by Content-Type.</summary>
    public static async Task<List<double[]>> ReadAsync(HttpRequest request, long maxBytes, int maxRows, CancellationToken cancellationToken)
    {
        var format = FormatOf(request.ContentType);
        var body = await ReadBodyAsync(request, maxBytes, cancellationToken).ConfigureAwait(false);
        if (format == Format.Json && WithoutBom(body.Span).Trim(" \t\r\n"u8).IsEmpty)
        {
            // Not "cut short": nothing was sent.
            throw new ApiValidationException("body", "is empty; send {\"rows\":[[x1,…,xd],…]}");
        }

        var rows = format switch
        {
            Format.Json => ParseJson(body.Span),
            Format.Ndjson => ParseNdjson(body.Span),
            _ => ParseCsv(body),
        };
        if (rows.Count == 0)
        {
            throw new ApiValidationException("rows", "must hold at least one row");
        }

        if (rows.Count > maxRows)
        {
            throw new ApiValidationException("rows", $"holds {rows.Count} rows; at most {maxRows} are accepted per request");
        }

        return rows;
    }

    private enum Format
    {
        Json,
        Ndjson,
        Csv,
    }

    /// <summary>
    /// True for a JSON media type (<c>application/json</c> or any <c>+json</c>), parameters aside: the one rule for every
    /// JSON body, rows and model definitions alike.
    /// </summary>
    internal static bool IsJsonMediaType(string contentType) => MediaOf(contentType) is "application/json" or [.., '+', 'j', 's', 'o', 'n'];

    private static string MediaOf(string contentType) => contentType.Split(';', 2)[0].Trim().ToLowerInvariant();

    private static Format FormatOf(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return Format.Json;
        }

        return MediaOf(contentType) switch
        {
            "application/x-ndjson" or "application/ndjson" or "application/jsonl" or "application/x-jsonlines" => Format.Ndjson,
            "text/csv" or "application/csv" => Format.Csv,
            _ when IsJsonMediaType(contentType) => Format.Json,
            _ => throw new UnsupportedContentTypeException(contentType, Supported),
        };
    }

    /// <summary>Reads a whole request body, held to <paramref name="maxBytes"/> whether or not it declares a Content-Length.</summary>
    internal static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        EnsureReadableEncoding(request);
        if (request.ContentLength > maxBytes)
        {
            throw new PayloadTooLargeException(maxBytes);
        }

        // Kestrel enforces the same limit while streaming (a chunked body has no Content-Length to check up front).
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = maxBytes;
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and < 1 << 20 ? (int)request.ContentLength.Value : 16 * 1024);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(16 * 1024);
                var read = await request.Body.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > maxBytes)
                {
                    throw new PayloadTooLargeException(maxBytes);
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new PayloadTooLargeException(maxBytes);
        }
        catch (IOException e) when (e is not BadHttpRequestException)
        {
            // Kestrel reports most framing errors as a 400 BadHttpRequestException, but a chunk size past int.MaxValue
            // (80000000, ffffffffffffffff) as a bare IOException, "Bad chunk size data.": it was a 500 logged as a bug.
            throw new ApiValidationException("body", $"could not be read: {e.Message} (check the body's framing: its Content-Length, or its chunk sizes when sent chunked)");
        }

        return buffer.WrittenMemory;
    }

    /// <summary>
    /// Bodies are read as UTF-8 bytes without a content coding. A body that declares another charset (UTF-16 JSON) or a
    /// compression (<c>Content-Encoding: gzip</c>) is a 415 naming the header at fault; read as UTF-8 it would be a
    /// misleading "not valid JSON" 400, or, for a UTF-8 body mislabelled, accepted under a header that says otherwise.
    /// </summary>
    private static void EnsureReadableEncoding(HttpRequest request)
    {
        if (request.Headers.ContentEncoding is { Count: > 0 } codings
            && codings.Any(c => c is null || c.Split(',').Any(t => !t.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase))))
        {
            throw new UnsupportedContentEncodingException("Content-Encoding", codings.ToString());
        }

        // Kestrel removes "chunked" and passes any other transfer coding (gzip, chunked) through still encoded.
        if (request.Headers.TransferEncoding is { Count: > 0 } transfer
            && transfer.Any(c => c is null || c.Split(',').Any(t => !t.Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase))))
        {
            throw new UnsupportedContentEncodingException("Transfer-Encoding", transfer.ToString());
        }

        if (request.ContentType is { } contentType
            && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
            && Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(media.Charset).ToString() is { Length: > 0 } charset
            && !(charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
                 || charset.Equals("us-ascii", StringComparison.OrdinalIgnoreCase)))
        {
            throw new UnsupportedContentTypeException(contentType, "the body in UTF-8 (charset=utf-8, or no charset)");
        }
    }

    /// <summary>
    /// A JSON or NDJSON body without the UTF-8 byte-order mark some clients put at its start (Windows tools, .NET's
    /// <c>Encoding.UTF8</c> preamble, a file saved "UTF-8 with BOM"). RFC 8259 lets a parser ignore one there, CSV bodies
    /// (Sep) already did, and JSON was a 400 "'0xEF' is an invalid start of a value". Only the very first bytes: a mark
    /// anywhere else (a second one, one at the start of a later NDJSON line) is still an error.
    /// </summary>
    internal static ReadOnlySpan<byte> WithoutBom(ReadOnlySpan<byte> body) => body.StartsWith(Utf8Bom) ? body[Utf8Bom.Length..] : body;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// Parses a JSON body: the common shape through <see cref="TryParseJsonRows"/>, anything else (and every error) through
    /// <see cref="ParseJsonWithReader"/>.
    /// </summary>
    internal static List<double[]> ParseJson(ReadOnlySpan<byte> body) => TryParseJsonRows(body) ?? ParseJsonWithReader(body);

    /// <summary>
    /// The common body without a tokenizer: exactly <c>{"rows":[[v,…],…]}</c> where each v is a JSON number or
    /// <c>null</c>, with JSON whitespace between tokens. Returns null for anything else: comments, escapes, another member,
    /// a repeated <c>"rows"</c>, an empty row, a number that is not finite, content after the object, a malformed number or
    /// any byte the shape does not allow. The caller then parses the body with <see cref="ParseJsonWithReader"/>, which
    /// decides it and words its errors, so this path changes speed only: a body it accepts gives the rows the reader gives
    /// (the same doubles: plain decimals through <see cref="PlainDecimal"/>, other numbers through <see cref="Utf8Parser"/>
    /// as <see cref="Utf8JsonReader.TryGetDouble(out double)"/> does).
    /// </summary>
    internal static List<double[]>? TryParseJsonRows(ReadOnlySpan<byte> body)
    {
        body = WithoutBom(body);
        var i = 0;
        if (!Expect(body, ref i, (byte)'{') || !Expect(body, ref i, "\"rows\""u8) || !Expect(body, ref i, (byte)':') || !Expect(body, ref i, (byte)'['))
        {
            return null;
        }

        var rows = new List<double[]>();
        var scratch = new double[16];
        if (!Expect(body, ref i, (byte)']'))
        {
            do
            {
                if (!TryScanRow(body, ref i, ref scratch, out var row))
                {
                    return null;
                }

                rows.Add(row);
            }
            while (Expect(body, ref i, (byte)','));

            if (!Expect(body, ref i, (byte)']'))
            {
                return null;
            }
        }

        if (!Expect(body, ref i, (byte)'}'))
        {
            return null;
        }

        SkipWhitespace(body, ref i);
        return i == body.Length ? rows : null;
    }

    /// <summary>
    /// NDJSON the same way: every line blank (spaces, tabs, a carriage return) or one row <c>[v,…]</c> with JSON whitespace;
    /// null for anything else, which <see cref="ParseNdjsonWithReader"/> then decides.
    /// </summary>
    internal static List<double[]>? TryParseNdjsonRows(ReadOnlySpan<byte> body)
    {
        body = WithoutBom(body);
        var rows = new List<double[]>();
        var scratch = new double[16];
        while (NextLine(ref body, out var line))
        {
            var i = 0;
            if (!TryScanRow(line, ref i, ref scratch, out var row))
            {
                return null;
            }

            SkipWhitespace(line, ref i);
            if (i != line.Length)
            {
                return null;
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>The next line of an NDJSON body that is not blank (spaces, tabs, a carriage return); false at the end.</summary>
    private static bool NextLine(ref ReadOnlySpan<byte> body, out ReadOnlySpan<byte> line)
    {
        while (!body.IsEmpty)
        {
            var end = body.IndexOf((byte)'\n');
            line = end < 0 ? body : body[..end];
            body = end < 0 ? default : body[(end + 1)..];
            if (!line.Trim(" \t\r"u8).IsEmpty)
            {
                return true;
            }
        }

        line = default;
        return false;
    }

    /// <summary>
    /// One row <c>[v,…]</c> (at least one value) after optional whitespace at <paramref name="i"/>; <paramref name="scratch"/>
    /// holds the values while they are read and grows as needed. False for anything else.
    /// </summary>
    private static bool TryScanRow(ReadOnlySpan<byte> body, ref int i, ref double[] scratch, out double[] row)
    {
        row = [];
        if (!Expect(body, ref i, (byte)'['))
        {
            return false;
        }

        var count = 0;
        do
        {
            SkipWhitespace(body, ref i);
            if (!TryReadValue(body, ref i, out var value))
            {
                return false;
            }

            if (count == scratch.Length)
            {
                Array.Resize(ref scratch, scratch.Length * 2);
            }

            scratch[count++] = value;
        }
        while (Expect(body, ref i, (byte)','));

        if (!Expect(body, ref i, (byte)']'))
        {
            return false;
        }

        row = scratch.AsSpan(0, count).ToArray();
        return true;
    }

    private static void SkipWhitespace(ReadOnlySpan<byte> body, ref int i)
    {
        while (i < body.Length && body[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            i++;
        }
    }

    /// <summary>Skips whitespace, then consumes <paramref name="token"/> if it comes next.</summary>
    private static bool Expect(ReadOnlySpan<byte> body, ref int i, byte token)
    {
        SkipWhitespace(body, ref i);
        if (i < body.Length && body[i] == token)
        {
            i++;
            return true;
        }

        return false;
    }

    private static bool Expect(ReadOnlySpan<byte> body, ref int i, ReadOnlySpan<byte> token)
    {
        SkipWhitespace(body, ref i);
        if (body[i..].StartsWith(token))
        {
            i += token.Length;
            return true;
        }

        return false;
    }

    /// <summary>
    /// <c>null</c> (missing: NaN) or a finite JSON number (RFC 8259: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>) that
    /// ends where a row allows (whitespace, a comma or the closing bracket).
    /// </summary>
    private static bool TryReadValue(ReadOnlySpan<byte> body, ref int i, out double value)
    {
        value = double.NaN;
        var start = i;
        if (body[start..].StartsWith("null"u8))
        {
            i += 4;
            return i == body.Length || body[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or (byte)',' or (byte)']';
        }

        var j = i;
        if (j < body.Length && body[j] == (byte)'-')
        {
            j++;
        }

        if (j >= body.Length || !char.IsAsciiDigit((char)body[j]))
        {
            return false;
        }

        if (body[j++] != (byte)'0')
        {
            while (j < body.Length && char.IsAsciiDigit((char)body[j]))
            {
                j++;
            }
        }

        var plain = true;
        if (j < body.Length && body[j] == (byte)'.')
        {
            if (++j >= body.Length || !char.IsAsciiDigit((char)body[j]))
            {
                return false;
            }

            while (j < body.Length && char.IsAsciiDigit((char)body[j]))
            {
                j++;
            }
        }

        if (j < body.Length && body[j] is (byte)'e' or (byte)'E')
        {
            plain = false;
            if (++j < body.Length && body[j] is (byte)'+' or (byte)'-')
            {
                j++;
            }

            if (j >= body.Length || !char.IsAsciiDigit((char)body[j]))
            {
                return false;
            }

            while (j < body.Length && char.IsAsciiDigit((char)body[j]))
            {
                j++;
            }
        }

        if (j < body.Length && body[j] is not ((byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or (byte)',' or (byte)']'))
        {
            return false;
        }

        var token = body[start..j];
        i = j;
        return ((plain && PlainDecimal.TryParse(token, out value))
                || (Utf8Parser.TryParse(token, out value, out var consumed) && consumed == token.Length))
               && double.IsFinite(value);
    }

    /// <summary>Parses any JSON body with <see cref="Utf8JsonReader"/> and turns whatever is wrong into a 400 naming the field.</summary>
    internal static List<double[]> ParseJsonWithReader(ReadOnlySpan<byte> body)
    {
        body = WithoutBom(body);
        var rows = new List<double[]>();
        var scratch = new List<double>(8);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var sawRows = false;
        var inRows = false;
        var position = new Position();
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new ApiValidationException("body", "must be a JSON object {\"rows\":[[x1,…,xd],…]}");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString();
                reader.Read();
                if (name != "rows")
                {
                    throw new ApiValidationException(name ?? "body", "is not a known field; the body holds only \"rows\"");
                }

                if (sawRows)
                {
                    // Both arrays used to be appended; other readers keep the last. Neither is what every client meant.
                    throw new ApiValidationException("rows", "is given more than once; send one \"rows\" array");
                }

                sawRows = true;
                inRows = true;
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw new ApiValidationException("rows", "must be an array of arrays of numbers");
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    position.Row = rows.Count;
                    position.Column = -1;
                    rows.Add(ReadRow(ref reader, ref position, scratch));
                }

                inRows = false;
            }

            if (reader.Read())
            {
                throw new ApiValidationException("body", "has content after the JSON object");
            }
        }
        catch (JsonException e)
        {
            throw JsonError(body, reader.BytesConsumed, e, inRows ? position.Field : null, "body");
        }

        if (!sawRows)
        {
            throw new ApiValidationException("rows", "is required");
        }

        return rows;
    }

    /// <summary>Parses an NDJSON body: the common shape through <see cref="TryParseNdjsonRows"/>, anything else through the reader.</summary>
    internal static List<double[]> ParseNdjson(ReadOnlySpan<byte> body) => TryParseNdjsonRows(body) ?? ParseNdjsonWithReader(body);

    /// <summary>Parses any NDJSON body with <see cref="Utf8JsonReader"/>, one line at a time, and words what is wrong.</summary>
    internal static List<double[]> ParseNdjsonWithReader(ReadOnlySpan<byte> body)
    {
        body = WithoutBom(body);
        var rows = new List<double[]>();
        var scratch = new List<double>(8);
        var position = new Position();
        while (NextLine(ref body, out var line))
        {
            position.Row = rows.Count;
            position.Column = -1;
            var reader = new Utf8JsonReader(line);
            try
            {
                if (!reader.Read())
                {
                    continue;
                }

                rows.Add(ReadRow(ref reader, ref position, scratch));
                if (reader.Read())
                {
                    throw new ApiValidationException($"rows[{position.Row}]", "a line must hold exactly one JSON array");
                }
            }
            catch (JsonException e)
            {
                throw JsonError(line, reader.BytesConsumed, e, position.Field, $"rows[{position.Row}]");
            }
        }

        return rows;
    }

    /// <summary>
    /// Says why JSON did not parse, from what follows the last good token: nothing (the body was cut short), a bare
    /// word where a value belongs (NaN, Infinity: named by its entry) or any other syntax error.
    /// </summary>
    private static ApiValidationException JsonError(ReadOnlySpan<byte> json, long consumed, JsonException e, string? valueField, string structureField)
    {
        var rest = json[(int)Math.Min(consumed, json.Length)..].TrimStart(" \t\r\n"u8);
        if (!rest.IsEmpty && rest[0] == (byte)',')
        {
            rest = rest[1..].TrimStart(" \t\r\n"u8);
        }

        if (rest.IsEmpty)
        {
            return new ApiValidationException(structureField, "is not valid JSON: it ends before the JSON is complete (was the body cut short?)");
        }

        if (rest.StartsWith(Utf8Bom))
        {
            return new ApiValidationException(structureField, "is not valid JSON: it holds a UTF-8 byte-order mark (U+FEFF) where only the very start of the body may have one");
        }

        var word = rest[0] is (byte)'-' or (byte)'+' && rest.Length > 1 ? rest[1] : rest[0];
        if (valueField is not null && char.IsAsciiLetter((char)word))
        {
            return new ApiValidationException(valueField, "must be a finite number or null (NaN and Infinity are not JSON; send null for a missing value)");
        }

        return new ApiValidationException(structureField, $"is not valid JSON: {e.Message}");
    }

    /// <summary>
    /// Parses an RFC 4180 body (Sep): quoted fields may hold commas, doubled quotes and line breaks; an unterminated
    /// quote is an error. The first non-blank row is a header when any of its fields is neither a number nor missing.
    /// </summary>
    internal static List<double[]> ParseCsv(ReadOnlyMemory<byte> body)
    {
        var rows = new List<double[]>();
        using var stream = MemoryMarshal.TryGetArray(body, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(body.ToArray(), writable: false);
        using var reader = CsvFormat.Reader(',').From(stream);
        var first = true;
        var sawHeader = false;
        foreach (var row in reader)
        {
            // Both checks read the raw row, before a column access unescapes it in place.
            if (CsvFormat.HasUnterminatedQuote(row.Span))
            {
                throw new ApiValidationException($"rows[{rows.Count}]", "has a quoted field that is never closed (a quote inside a field is written as two quotes)");
            }

            if (CsvFormat.IsBlank(row.Span))
            {
                continue;
            }

            if (first)
            {
                first = false;
                if (IsHeader(row))
                {
                    sawHeader = true;
                    continue; // a header row: names, not numbers
                }
            }

            var values = new double[row.ColCount];
            for (var j = 0; j < values.Length; j++)
            {
                var field = row[j].Span;
                if (IsMissing(field))
                {
                    values[j] = double.NaN;
                }
                else if ((PlainDecimal.TryParse(field, out var value) || double.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value)) && double.IsFinite(value))
                {
                    values[j] = value;
                }
                else
                {
                    throw new ApiValidationException(
                        $"rows[{rows.Count}][{j}]",
                        $"'{CsvFormat.Quote(field)}' is not a finite number (leave the field empty or write NA for a missing value)"
                        + (rows.Count == 0 && !sawHeader ? "; a header row holds names only, no numbers" : ""));
                }
            }

            rows.Add(values);
        }

        return rows;
    }

    /// <summary>
    /// A header holds names and no numbers. A first row with a number in it is data, so a typo in it ("1,2x") is a 400
    /// naming the entry rather than a silently dropped row (which also left a predict answer one row short).
    /// </summary>
    private static bool IsHeader(SepReader.Row row)
    {
        var names = false;
        for (var j = 0; j < row.ColCount; j++)
        {
            var field = row[j].Span;
            if (IsMissing(field))
            {
                continue;
            }

            if (double.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                return false;
            }

            names = true;
        }

        return names;
    }

    /// <summary>
    /// Packs rows of the same length into a matrix for a query; a row of another length is a 400 naming it.
    /// </summary>
    public static DataMatrix ToMatrix(List<double[]> rows)
    {
        var d = rows[0].Length;
        var values = new double[rows.Count * d];
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != d)
            {
                throw new ApiValidationException($"rows[{i}]", $"has {rows[i].Length} values but rows[0] has {d}; every row needs the same number of values");
            }

            rows[i].CopyTo(values, i * d);
        }

        return new DataMatrix(values, rows.Count, d);
    }

    /// <summary>
    /// A number token as a double: a plain decimal (the common case) through the exact fast path, anything else (exponents,
    /// long mantissas, zero, a token split across buffer segments) through the reader, so the result is the same double.
    /// </summary>
    private static bool ReadNumber(ref Utf8JsonReader reader, out double value) =>
        (!reader.HasValueSequence && PlainDecimal.TryParse(reader.ValueSpan, out value)) || reader.TryGetDouble(out value);

    /// <summary>Reads one row array; <paramref name="values"/> is scratch reused across rows, so a row costs one array.</summary>
    private static double[] ReadRow(ref Utf8JsonReader reader, ref Position position, List<double> values)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new ApiValidationException(position.Field, "must be an array of numbers (null = missing)");
        }

        values.Clear();
        while (true)
        {
            position.Column = values.Count;
            if (!reader.Read())
            {
                throw new JsonException("truncated");
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.EndArray:
                    if (values.Count == 0)
                    {
                        position.Column = -1;
                        throw new ApiValidationException(position.Field, "must hold at least one value");
                    }

                    return [.. values];
                case JsonTokenType.Null:
                    values.Add(double.NaN);
                    break;
                case JsonTokenType.Number when ReadNumber(ref reader, out var v) && double.IsFinite(v):
                    values.Add(v);
                    break;
                case JsonTokenType.Number:
                    throw new ApiValidationException(position.Field, "is out of the range of a finite double");
                case JsonTokenType.String:
                    throw new ApiValidationException(position.Field, "must be a number or null, not a string");
                default:
                    throw new ApiValidationException(position.Field, "must be a number or null");
            }
        }
    }

    /// <summary>The shared missing-value rule, plus <c>null</c>, which JSON clients tend to write into CSV too.</summary>
    private static bool IsMissing(ReadOnlySpan<char> field) =>
        CsvFormat.IsMissing(field) || field.Trim().Equals("null", StringComparison.OrdinalIgnoreCase);

    private struct Position
    {
        public int Row;
        public int Column;

        public readonly string Field => Column < 0 ? $"rows[{Row}]" : $"rows[{Row}][{Column}]";
    }
}
