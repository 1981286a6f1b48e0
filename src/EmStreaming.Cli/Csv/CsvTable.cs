using System.Globalization;
using EmStreaming.Numerics;

namespace EmStreaming.Cli.Csv;

/// <summary>
/// A CSV file with a header row, held as text so that selected columns can be parsed as numbers and
/// the others written back untouched (imputation keeps the file's other columns as they were).
/// </summary>
internal sealed class CsvTable
{
    private CsvTable(string[] header, List<string[]> rows, char separator)
    {
        Header = header;
        Rows = rows;
        Separator = separator;
    }

    public string[] Header { get; }

    /// <summary>Data rows (without the header), each with exactly <see cref="Header"/>.Length fields.</summary>
    public List<string[]> Rows { get; }

    public char Separator { get; }

    public static CsvTable Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"file not found: {path}");
        }

        using var reader = new StreamReader(path);
        return Parse(reader, path);
    }

    public static CsvTable Parse(TextReader reader, string sourceName)
    {
        var headerLine = reader.ReadLine() ?? throw new CliException($"{sourceName}: the file is empty; a header row is required");
        var separator = headerLine.Contains(',') || !headerLine.Contains(';') ? ',' : ';';
        var header = SplitLine(headerLine, separator, sourceName, 1);
        for (var i = 0; i < header.Length; i++)
        {
            header[i] = header[i].Trim();
            if (header[i].Length == 0)
            {
                throw new CliException($"{sourceName}: column {i + 1} of the header row has no name");
            }
        }

        var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new CliException($"{sourceName}: the header names column '{duplicate.Key}' twice");
        }

        var rows = new List<string[]>();
        var lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0 || line.AsSpan().Trim().IsEmpty)
            {
                continue;
            }

            var fields = SplitLine(line, separator, sourceName, lineNumber);
            if (fields.Length != header.Length)
            {
                throw new CliException(
                    $"{sourceName}: line {lineNumber} has {fields.Length} fields but the header has {header.Length}");
            }

            rows.Add(fields);
        }

        return new CsvTable(header, rows, separator);
    }

    /// <summary>
    /// Resolves the columns to use: the named ones in the given order, or by default every column that
    /// holds numbers (a column with no numeric value at all, such as iris' species, is a label column and
    /// is left out; a column mixing numbers and text is an error when it is parsed).
    /// </summary>
    public int[] SelectColumns(IReadOnlyList<string>? names)
    {
        if (names is { Count: > 0 })
        {
            var indices = new int[names.Count];
            for (var i = 0; i < names.Count; i++)
            {
                var index = Array.IndexOf(Header, names[i]);
                if (index < 0)
                {
                    throw new CliException(
                        $"column '{names[i]}' is not in the file; its columns are: {string.Join(", ", Header)}");
                }

                indices[i] = index;
            }

            if (indices.Distinct().Count() != indices.Length)
            {
                throw new CliException("--columns names a column more than once");
            }

            return indices;
        }

        var selected = new List<int>();
        for (var c = 0; c < Header.Length; c++)
        {
            if (Rows.Count == 0 || Rows.Any(r => TryParseValue(r[c], out var v) && !double.IsNaN(v)))
            {
                selected.Add(c);
            }
        }

        if (selected.Count == 0)
        {
            throw new CliException("the file has no numeric column");
        }

        return [.. selected];
    }

    /// <summary>Parses the selected columns into a row-major matrix; empty fields and NA are missing (NaN).</summary>
    public DataMatrix ToMatrix(int[] columns, string sourceName)
    {
        if (Rows.Count == 0)
        {
            throw new CliException($"{sourceName}: the file has a header but no data rows");
        }

        var values = new double[Rows.Count * columns.Length];
        for (var r = 0; r < Rows.Count; r++)
        {
            var observed = 0;
            for (var j = 0; j < columns.Length; j++)
            {
                var field = Rows[r][columns[j]];
                if (!TryParseValue(field, out var value))
                {
                    throw new CliException(
                        $"{sourceName}: row {r + 1} (line {r + 2}), column '{Header[columns[j]]}': '{field.Trim()}' is not a number");
                }

                if (double.IsInfinity(value))
                {
                    throw new CliException(
                        $"{sourceName}: row {r + 1} (line {r + 2}), column '{Header[columns[j]]}': infinite values are not allowed");
                }

                if (!double.IsNaN(value))
                {
                    observed++;
                }

                values[(r * columns.Length) + j] = value;
            }

            if (observed == 0)
            {
                throw new CliException(
                    $"{sourceName}: row {r + 1} (line {r + 2}) has no observed value in the selected columns; such a row carries no information");
            }
        }

        return new DataMatrix(values, Rows.Count, columns.Length);
    }

    /// <summary>Empty, NA and NaN (any case) are missing values; anything else must be an invariant-culture number.</summary>
    public static bool TryParseValue(string field, out double value)
    {
        var text = field.AsSpan().Trim();
        if (text.IsEmpty || text.Equals("NA", StringComparison.OrdinalIgnoreCase) || text.Equals("NaN", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return true;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    public static string FormatValue(double value) =>
        double.IsNaN(value) ? string.Empty : value.ToString("R", CultureInfo.InvariantCulture);

    public void Write(TextWriter writer)
    {
        writer.WriteLine(JoinLine(Header));
        foreach (var row in Rows)
        {
            writer.WriteLine(JoinLine(row));
        }
    }

    private string JoinLine(string[] fields) =>
        string.Join(Separator, fields.Select(f => f.IndexOfAny([Separator, '"', '\n', '\r']) >= 0 ? $"\"{f.Replace("\"", "\"\"")}\"" : f));

    private static string[] SplitLine(string line, char separator, string sourceName, int lineNumber)
    {
        if (line.IndexOf('"') < 0)
        {
            return line.Split(separator);
        }

        // RFC 4180 quoting: a quoted field may hold separators and doubled quotes.
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < line.Length && line[i + 1] == '"')
                    {
                        current.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    current.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == separator)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(ch);
            }
        }

        if (quoted)
        {
            throw new CliException($"{sourceName}: line {lineNumber} has an unterminated quoted field");
        }

        fields.Add(current.ToString());
        return [.. fields];
    }
}
