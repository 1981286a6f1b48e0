using EmStreaming.Grains.Observations;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Text;
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

/// <summary>What a single pass over a CSV file reads: its header, the selected columns (indices into it) and its separator.</summary>
internal sealed record CsvSchema(string Path, string[] Header, int[] Columns, char Separator);

/// <summary>
/// Where <see cref="CsvLoader.ReadRows"/> copies data row <c>row</c> (0-based) once it is parsed and checked: a span of one
/// value per selected column. It is asked for only complete, valid rows, so a sink never holds part of a bad row.
/// </summary>
internal delegate Span<double> CsvRowTarget(long row);

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

    // allowEmptyRows: a row with nothing observed in the selected columns is kept (all NaN) instead of refused; imputation fills it.
    public static CsvData Load(string path, IReadOnlyList<string>? names, IProgress<CsvProgress>? progress, CancellationToken cancellationToken, bool allowEmptyRows = false)
    {
        var separator = DetectSeparator(path);
        var scan = Scan(path, separator, names, untilDecided: false, progress, cancellationToken);
        var data = Fill(new CsvSchema(path, scan.Header, scan.Columns, separator), scan.Rows, progress, cancellationToken, allowEmptyRows);
        return new CsvData(data, scan.Header, scan.Columns, separator);
    }

    /// <summary>
    /// Settles what a single pass over the file reads (<see cref="ReadRows"/>), reading as little as it can: nothing past
    /// the header when <paramref name="names"/> are given, and otherwise only until every column has shown a number. A
    /// column that never does (a label, or a column whose only values are missing) can be told apart only at the end, so
    /// then the whole file is scanned first, as <see cref="Load"/> does; either way the columns are those Load selects.
    /// </summary>
    public static CsvSchema Plan(string path, IReadOnlyList<string>? names, IProgress<CsvProgress>? progress, CancellationToken cancellationToken)
    {
        var separator = DetectSeparator(path);
        var scan = Scan(path, separator, names, untilDecided: true, progress, cancellationToken);
        return new CsvSchema(path, scan.Header, scan.Columns, separator);
    }

    /// <summary>
    /// Parses the selected columns of every data row, in file order, into the spans <paramref name="target"/> gives (one
    /// value per column, NaN for missing), with the rules of <see cref="Load"/>: a malformed row, a value that is not a
    /// number, an infinite value or a row with nothing observed is an error naming the row, its line and the column. Returns
    /// the number of data rows; a file without any is an error. <paramref name="progress"/> hears of every 65,536 rows.
    /// </summary>
    public static long ReadRows(CsvSchema schema, CsvRowTarget target, Action<long>? progress, CancellationToken cancellationToken, bool allowEmptyRows = false)
    {
        var (path, _, columns, separator) = schema;
        using var reader = OpenAfterHeader(path, separator, out var header);
        if (header.Length != schema.Header.Length)
        {
            throw new CliException($"{path} changed while it was read");
        }

        var d = columns.Length;
        Span<double> values = d <= 64 ? stackalloc double[d] : new double[d];
        var r = 0L;
        foreach (var row in reader)
        {
            if (!IsDataRow(row, header.Length, path))
            {
                continue;
            }

            var observed = 0;
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

                // The server's bound (its rows beyond it are rejected): squares of such values overflow the EM statistics, and the
                // fits died with an InvalidOperationException's stack trace ("could not build the provisional model").
                if (Math.Abs(value) > ModelInput.MaxMagnitude)
                {
                    throw new CliException(
                        $"{path}: row {r + 1} (line {row.LineNumberFrom}), column '{header[columns[j]]}': '{CsvFormat.Quote(column.Span)}' is beyond ±1e100, the largest magnitude a model takes");
                }

                observed += double.IsNaN(value) ? 0 : 1;
                values[j] = value;
            }

            if (observed == 0 && !allowEmptyRows)
            {
                throw new CliException(
                    $"{path}: row {r + 1} (line {row.LineNumberFrom}) has no observed value in the selected columns; such a row carries no information");
            }

            values.CopyTo(target(r));
            if (++r % ReportEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke(r);
            }
        }

        if (r == 0)
        {
            throw new CliException($"{path}: the file has a header but no data rows");
        }

        return r;
    }

    /// <summary>Checks that the file exists and returns its separator (',' unless the header has ';' and no ',').</summary>
    public static char DetectSeparator(string path)
    {
        InputPath.Check(path, "file");
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

    /// <summary>
    /// Parses a field: a plain decimal exactly (<see cref="PlainDecimal"/>), otherwise Sep's fast float parser, and the shared
    /// rules (trim, NA, NaN, empty) when that declines.
    /// </summary>
    public static bool TryParse(SepReader.Col column, out double value)
    {
        if (PlainDecimal.TryParse(column.Span, out value))
        {
            return true;
        }

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

    private static int[] Resolve(string path, string[] header, IReadOnlyList<string> names)
    {
        var indices = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var index = Array.IndexOf(header, names[i]);
            if (index < 0)
            {
                throw new CliException($"{path}: column '{names[i]}' is not in the file; its columns are: {string.Join(", ", header)}");
            }

            indices[i] = index;
        }

        if (indices.Distinct().Count() != indices.Length)
        {
            throw new CliException("--columns names a column more than once");
        }

        return indices;
    }

    /// <summary>The shape of the file; <see cref="Rows"/> is −1 when the scan stopped early (<c>untilDecided</c>).</summary>
    private sealed record ScanResult(string[] Header, int[] Columns, int Rows);

    private static ScanResult Scan(string path, char separator, IReadOnlyList<string>? names, bool untilDecided, IProgress<CsvProgress>? progress, CancellationToken cancellationToken)
    {
        using var reader = OpenAfterHeader(path, separator, out var header);
        var named = names is { Count: > 0 } ? Resolve(path, header, names) : null;
        if (untilDecided && named is not null)
        {
            return new ScanResult(header, named, -1);
        }

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

            // Every column holds a number: all are selected, whatever the rest of the file holds.
            if (untilDecided && undecided == 0)
            {
                return new ScanResult(header, [.. Enumerable.Range(0, header.Length)], -1);
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
            throw new CliException($"{path}: the file has no numeric column");
        }

        if (rows * columns.Length > Array.MaxLength)
        {
            throw new CliException($"{path}: {rows:N0} rows × {columns.Length} columns is more than one array holds; use --columns or split the file");
        }

        return new ScanResult(header, columns, (int)rows);
    }

    private static DataMatrix Fill(CsvSchema schema, int rows, IProgress<CsvProgress>? progress, CancellationToken cancellationToken, bool allowEmptyRows)
    {
        var d = schema.Columns.Length;
        var values = new double[(long)rows * d];
        var read = ReadRows(
            schema,
            r => r < rows ? values.AsSpan((int)r * d, d) : throw new CliException($"{schema.Path} changed while it was read"),
            progress is null ? null : r => progress.Report(new CsvProgress("loading", r, rows)),
            cancellationToken,
            allowEmptyRows);
        if (read != rows)
        {
            throw new CliException($"{schema.Path} changed while it was read");
        }

        return new DataMatrix(values, rows, d);
    }
}
