using EmStreaming.Numerics;
using EmStreaming.Server.Api;
using nietras.SeparatedValues;

namespace EmStreaming.Cli.Csv;

/// <summary>What a long CSV step has done so far (shown on a terminal).</summary>
/// <param name="Phase">"scanning" (first pass: shape and columns) or "loading" (second pass: numbers).</param>
/// <param name="Rows">Data rows done.</param>
/// <param name="Total">Data rows in the file, once known (the second pass); 0 while scanning.</param>
internal readonly record struct CsvProgress(string Phase, long Rows, long Total)
{
    public string Describe() => Total > 0
        ? $"{Phase} {Rows:N0} of {Total:N0} rows ({100.0 * Rows / Total:F0}%)"
        : $"{Phase} {Rows:N0} rows";
}

/// <summary>The selected columns of a CSV file as one row-major matrix, and what it was read from.</summary>
internal sealed record CsvData(DataMatrix Data, string[] Header, int[] Columns, char Separator)
{
    public string[] ColumnNames => [.. Columns.Select(c => Header[c])];
}

/// <summary>
/// Reads a CSV file with a header row (RFC 4180 through Sep: quoted fields may hold separators, doubled quotes and
/// line breaks) into the flat buffer the estimators use, without holding the file's text: a first pass checks the
/// shape of every row and finds the numeric columns, a second parses only the selected columns straight into an
/// array of exactly rows × columns doubles. Memory is the data's own size; the page cache serves the second pass.
/// </summary>
/// <remarks>
/// The rules: the separator is ',' unless the header has ';' and no ','; blank lines are skipped; empty fields,
/// NA and NaN are missing; by default every column holding at least one number is used (a text-only column such as
/// iris' species is a label and is left out); a selected column holding text, an infinite value or a row with
/// nothing observed is an error naming the row, its line and the column.
/// </remarks>
internal static class CsvLoader
{
    private const int ReportEvery = 1 << 16;
    private static readonly System.Buffers.SearchValues<char> PlainNumber = System.Buffers.SearchValues.Create("0123456789+-.eE");

    public static CsvData Load(string path, IReadOnlyList<string>? names, IProgress<CsvProgress>? progress, CancellationToken cancellationToken)
    {
        var separator = DetectSeparator(path);
        var scan = Scan(path, separator, names, progress, cancellationToken);
        var data = Fill(path, separator, scan, progress, cancellationToken);
        return new CsvData(data, scan.Header, scan.Columns, separator);
    }

    /// <summary>Checks that the file exists and returns its separator (',' unless the header has ';' and no ',').</summary>
    public static char DetectSeparator(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"file not found: {path}");
        }

        try
        {
            using var reader = new StreamReader(path);
            var header = reader.ReadLine() ?? throw new CliException($"{path}: the file is empty; a header row is required");
            return header.Contains(',') || !header.Contains(';') ? ',' : ';';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {path}: {e.Message}");
        }
    }

    /// <summary>Opens the file positioned after its header row, whose names it returns checked.</summary>
    public static SepReader OpenAfterHeader(string path, char separator, out string[] header)
    {
        SepReader? reader = null;
        try
        {
            reader = CsvFormat.Reader(separator).FromFile(path);
            if (!reader.MoveNext())
            {
                throw new CliException($"{path}: the file is empty; a header row is required");
            }

            header = ReadHeader(reader.Current, path);
            var opened = reader;
            reader = null;
            return opened;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {path}: {e.Message}");
        }
        finally
        {
            reader?.Dispose();
        }
    }

    /// <summary>
    /// Checks a data row's shape before any column is read (reading one unescapes it in place): false for a blank row
    /// (skipped); an unterminated quote or a field count other than the header's is an error naming the line.
    /// </summary>
    public static bool IsDataRow(SepReader.Row row, int width, string path)
    {
        if (CsvFormat.HasUnterminatedQuote(row.Span))
        {
            throw new CliException($"{path}: line {row.LineNumberFrom} has an unterminated quoted field (a quote inside a field is written as two quotes)");
        }

        if (CsvFormat.IsBlank(row.Span))
        {
            return false;
        }

        if (row.ColCount != width)
        {
            throw new CliException($"{path}: line {row.LineNumberFrom} has {row.ColCount} fields but the header has {width}");
        }

        return true;
    }

    /// <summary>Parses a field: Sep's fast float parser first, the shared rules (trim, NA, NaN, empty) when it declines.</summary>
    public static bool TryParse(SepReader.Col column, out double value)
    {
        // The nullable overload goes through csFastFloat (about twice as fast as double.TryParse), which also takes
        // "1,5" as 15 and "inf" as infinity: only plain decimal text is left to it, anything else gets the strict rules.
        if (!column.Span.ContainsAnyExcept(PlainNumber) && column.TryParse<double>() is { } parsed)
        {
            value = parsed;
            return true;
        }

        return CsvFormat.TryParseValue(column.Span, out value);
    }

    private static string[] ReadHeader(SepReader.Row row, string path)
    {
        if (CsvFormat.HasUnterminatedQuote(row.Span))
        {
            throw new CliException($"{path}: the header row has an unterminated quoted field");
        }

        var header = new string[row.ColCount];
        for (var i = 0; i < header.Length; i++)
        {
            header[i] = row[i].Span.Trim().ToString();
            if (header[i].Length == 0)
            {
                throw new CliException($"{path}: column {i + 1} of the header row has no name");
            }
        }

        var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new CliException($"{path}: the header names column '{duplicate.Key}' twice");
        }

        return header;
    }

    private static int[] Resolve(string[] header, IReadOnlyList<string> names)
    {
        var indices = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var index = Array.IndexOf(header, names[i]);
            if (index < 0)
            {
                throw new CliException($"column '{names[i]}' is not in the file; its columns are: {string.Join(", ", header)}");
            }

            indices[i] = index;
        }

        if (indices.Distinct().Count() != indices.Length)
        {
            throw new CliException("--columns names a column more than once");
        }

        return indices;
    }

    private sealed record ScanResult(string[] Header, int[] Columns, int Rows);

    private static ScanResult Scan(string path, char separator, IReadOnlyList<string>? names, IProgress<CsvProgress>? progress, CancellationToken cancellationToken)
    {
        using var reader = OpenAfterHeader(path, separator, out var header);
        var named = names is { Count: > 0 } ? Resolve(header, names) : null;
        var numeric = new bool[header.Length];
        var undecided = named is null ? header.Length : 0;
        var rows = 0L;
        foreach (var row in reader)
        {
            if (!IsDataRow(row, header.Length, path))
            {
                continue;
            }

            // A column is numeric once one value parses; only the undecided (label-like) columns are parsed here.
            for (var j = 0; undecided > 0 && j < header.Length; j++)
            {
                if (!numeric[j] && TryParse(row[j], out var value) && !double.IsNaN(value))
                {
                    numeric[j] = true;
                    undecided--;
                }
            }

            if (++rows % ReportEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new CsvProgress("scanning", rows, 0));
            }
        }

        if (rows == 0)
        {
            throw new CliException($"{path}: the file has a header but no data rows");
        }

        var columns = named ?? [.. Enumerable.Range(0, header.Length).Where(j => numeric[j])];
        if (columns.Length == 0)
        {
            throw new CliException("the file has no numeric column");
        }

        if (rows * columns.Length > Array.MaxLength)
        {
            throw new CliException($"{path}: {rows:N0} rows × {columns.Length} columns is more than one array holds; use --columns or split the file");
        }

        return new ScanResult(header, columns, (int)rows);
    }

    private static DataMatrix Fill(string path, char separator, ScanResult scan, IProgress<CsvProgress>? progress, CancellationToken cancellationToken)
    {
        var (header, columns, rows) = scan;
        var d = columns.Length;
        var values = new double[(long)rows * d];
        using var reader = OpenAfterHeader(path, separator, out _);
        var r = 0;
        foreach (var row in reader)
        {
            if (!IsDataRow(row, header.Length, path))
            {
                continue;
            }

            if (r == rows)
            {
                throw new CliException($"{path} changed while it was read");
            }

            var observed = 0;
            var offset = r * d;
            for (var j = 0; j < d; j++)
            {
                var column = row[columns[j]];
                if (!TryParse(column, out var value))
                {
                    throw new CliException(
                        $"{path}: row {r + 1} (line {row.LineNumberFrom}), column '{header[columns[j]]}': '{CsvFormat.Quote(column.Span)}' is not a number");
                }

                if (double.IsInfinity(value))
                {
                    throw new CliException(
                        $"{path}: row {r + 1} (line {row.LineNumberFrom}), column '{header[columns[j]]}': infinite values are not allowed");
                }

                observed += double.IsNaN(value) ? 0 : 1;
                values[offset + j] = value;
            }

            if (observed == 0)
            {
                throw new CliException(
                    $"{path}: row {r + 1} (line {row.LineNumberFrom}) has no observed value in the selected columns; such a row carries no information");
            }

            if (++r % ReportEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new CsvProgress("loading", r, rows));
            }
        }

        if (r != rows)
        {
            throw new CliException($"{path} changed while it was read");
        }

        return new DataMatrix(values, rows, d);
    }
}
