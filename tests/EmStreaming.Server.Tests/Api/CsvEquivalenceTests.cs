using System.Globalization;
using System.Text;
using EmStreaming.Server.Api;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// The Sep-based CSV body reader against the hand-written one it replaced, on 200,000 seeded random bodies without
/// quotes (the one place where behaviour was meant to change: quoted fields are now RFC 4180). Both must accept the
/// same bodies with the same values, and refuse the same bodies naming the same entry.
/// </summary>
public sealed class CsvEquivalenceTests
{
    private const int Bodies = 200_000;

    private static readonly string[] Numbers = ["0", "1", "-2.5", "1e3", "-1E-2", ".5", "3.", "+4", "12345.678", "007", "1e400"];
    private static readonly string[] Missing = ["", "NA", "na", "NaN", "nan", "null", "NULL"];
    private static readonly string[] Text = ["abc", "x y", "inf", "Infinity", "1,5x", "--1", "1e", "temp_c", "é"];
    private static readonly string[] Spaces = ["", " ", "  ", "\t"];
    private static readonly string[] LineEnds = ["\n", "\r\n"];

    [Fact]
    public void ParseCsv_RandomUnquotedBodies_AgreesWithTheReaderItReplaced()
    {
        var random = new Random(12);
        var agreedErrors = 0;
        var agreedRows = 0;
        for (var i = 0; i < Bodies; i++)
        {
            var body = RandomBody(random);
            var bytes = Encoding.UTF8.GetBytes(body);
            var expected = Outcome(() => LegacyCsvReader.Parse(bytes));
            var actual = Outcome(() => RowsReader.ParseCsv(bytes));
            Assert.True(expected == actual, $"body {i} {Show(body)}: legacy {expected}, Sep {actual}");
            if (expected.StartsWith("error", StringComparison.Ordinal))
            {
                agreedErrors++;
            }
            else
            {
                agreedRows++;
            }
        }

        // Both outcomes must be well represented, or the comparison proves little.
        Assert.True(agreedErrors > Bodies / 10, $"only {agreedErrors} error bodies");
        Assert.True(agreedRows > Bodies / 10, $"only {agreedRows} accepted bodies");
    }

    private static string Show(string body) => body.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\t", "\\t");

    /// <summary>The rows as text (NaN for missing), or the field an error names.</summary>
    private static string Outcome(Func<List<double[]>> parse)
    {
        try
        {
            var rows = parse();
            return string.Join(" | ", rows.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
        }
        catch (ApiValidationException e)
        {
            return $"error {e.Field}";
        }
    }

    private static string RandomBody(Random random)
    {
        var text = new StringBuilder();
        var width = random.Next(1, 5);
        if (random.Next(3) == 0)
        {
            text.Append(string.Join(',', Enumerable.Range(0, width).Select(j => $"c{j}"))).Append(Pick(random, LineEnds));
        }

        var rows = random.Next(0, 6);
        for (var r = 0; r < rows; r++)
        {
            if (random.Next(8) == 0)
            {
                text.Append(Pick(random, Spaces)).Append(Pick(random, LineEnds)); // a blank line
            }

            // Mostly the same width, sometimes ragged: the reader passes ragged rows on for the endpoint to judge.
            var fields = random.Next(6) == 0 ? random.Next(1, 6) : width;
            for (var j = 0; j < fields; j++)
            {
                if (j > 0)
                {
                    text.Append(',');
                }

                var kind = random.Next(20);
                var value = kind < 14 ? Pick(random, Numbers) : kind < 18 ? Pick(random, Missing) : Pick(random, Text);
                text.Append(Pick(random, Spaces)).Append(value).Append(random.Next(4) == 0 ? Pick(random, Spaces) : "");
            }

            if (r < rows - 1 || random.Next(2) == 0)
            {
                text.Append(Pick(random, LineEnds));
            }
        }

        return text.ToString();
    }

    private static string Pick(Random random, string[] choices) => choices[random.Next(choices.Length)];

    /// <summary>The hand-written CSV body reader of RowsReader before Sep, kept here as the reference.</summary>
    private static class LegacyCsvReader
    {
        public static List<double[]> Parse(ReadOnlySpan<byte> body)
        {
            ReadOnlySpan<char> text = Encoding.UTF8.GetString(body);
            var rows = new List<double[]>();
            var first = true;
            while (!text.IsEmpty)
            {
                var end = text.IndexOf('\n');
                var line = (end < 0 ? text : text[..end]).TrimEnd('\r');
                text = end < 0 ? default : text[(end + 1)..];
                if (line.Trim().IsEmpty)
                {
                    continue;
                }

                if (first)
                {
                    first = false;
                    if (IsHeader(line))
                    {
                        continue;
                    }
                }

                var row = new double[line.Count(',') + 1];
                var j = 0;
                foreach (var range in line.Split(','))
                {
                    var field = line[range].Trim().Trim('"');
                    if (IsMissing(field))
                    {
                        row[j] = double.NaN;
                    }
                    else if (double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
                    {
                        row[j] = value;
                    }
                    else
                    {
                        throw new ApiValidationException($"rows[{rows.Count}][{j}]", "is not a finite number");
                    }

                    j++;
                }

                rows.Add(row);
            }

            return rows;
        }

        // Names and no numbers (the rule since a first row "1,2x" was dropped as a header instead of being a 400).
        private static bool IsHeader(ReadOnlySpan<char> line)
        {
            var names = false;
            foreach (var range in line.Split(','))
            {
                var field = line[range];
                if (IsMissing(field))
                {
                    continue;
                }

                if (double.TryParse(field.Trim().Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    return false;
                }

                names = true;
            }

            return names;
        }

        private static bool IsMissing(ReadOnlySpan<char> field)
        {
            var f = field.Trim().Trim('"');
            return f.IsEmpty || f.Equals("NA", StringComparison.OrdinalIgnoreCase) || f.Equals("NaN", StringComparison.OrdinalIgnoreCase) || f.Equals("null", StringComparison.OrdinalIgnoreCase);
        }
    }
}
