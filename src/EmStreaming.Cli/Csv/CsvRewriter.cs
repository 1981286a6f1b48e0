using System.Globalization;
using EmStreaming.Numerics;
using nietras.SeparatedValues;

namespace EmStreaming.Cli.Csv;

/// <summary>
/// Writes a CSV file again, row by row from the file itself, with the missing entries of its selected columns
/// replaced: every other field keeps its text, quoted per RFC 4180 when it holds a separator, a quote or a line break.
/// </summary>
internal static class CsvRewriter
{
    /// <summary>Writes <paramref name="source"/>'s file to <paramref name="output"/> with its missing values taken from <paramref name="completed"/>; returns how many were filled.</summary>
    public static int Write(string path, CsvData source, DataMatrix completed, TextWriter output, CancellationToken cancellationToken)
    {
        using var reader = CsvLoader.OpenAfterHeader(path, source.Separator, out var header);
        using var writer = Sep.New(source.Separator)
            .Writer(o => o with { WriteHeader = false, Escape = true, CultureInfo = CultureInfo.InvariantCulture })
            .To(output, leaveOpen: true);
        using (var names = writer.NewRow())
        {
            for (var c = 0; c < header.Length; c++)
            {
                names[c].Set(header[c]);
            }
        }

        // Position in the matrix of each file column, or -1 for a column that was not selected.
        var position = Enumerable.Repeat(-1, header.Length).ToArray();
        for (var j = 0; j < source.Columns.Length; j++)
        {
            position[source.Columns[j]] = j;
        }

        var r = 0;
        var filled = 0;
        foreach (var row in reader)
        {
            if (!CsvLoader.IsDataRow(row, header.Length, path))
            {
                continue;
            }

            if (r == source.Data.Rows)
            {
                throw new CliException($"{path} changed while it was read");
            }

            using var written = writer.NewRow();
            for (var c = 0; c < header.Length; c++)
            {
                var j = position[c];
                if (j >= 0 && double.IsNaN(source.Data[r, j]))
                {
                    written[c].Set(completed[r, j].ToString("R", CultureInfo.InvariantCulture));
                    filled++;
                }
                else
                {
                    written[c].Set(row[c].Span);
                }
            }

            if (++r % 65536 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return filled;
    }
}
