using System.Globalization;
using System.Text;
using EmStreaming.Server.Api;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// The JSON body reader takes plain decimals through the exact fast path and everything else through Utf8JsonReader: every
/// number must come out as the double double.Parse gives for its text, bit for bit, whichever path read it.
/// </summary>
public sealed class JsonNumberTests
{
    [Fact]
    public void ParseJson_RandomNumbers_SameBitsAsDoubleParse()
    {
        var random = new Random(7);
        for (var body = 0; body < 2_000; body++)
        {
            var texts = new List<string[]>();
            var json = new StringBuilder("{\"rows\":[");
            for (var r = 0; r < 20; r++)
            {
                var row = new string[4];
                for (var c = 0; c < row.Length; c++)
                {
                    row[c] = RandomNumber(random);
                }

                texts.Add(row);
                json.Append(r == 0 ? "[" : ",[").AppendJoin(',', row).Append(']');
            }

            var rows = RowsReader.ParseJson(Encoding.UTF8.GetBytes(json.Append("]}").ToString()));
            Assert.Equal(texts.Count, rows.Count);
            for (var r = 0; r < rows.Count; r++)
            {
                for (var c = 0; c < 4; c++)
                {
                    var expected = double.Parse(texts[r][c], CultureInfo.InvariantCulture);
                    Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(rows[r][c]),
                        $"'{texts[r][c]}' read as {rows[r][c]:R}, double.Parse gives {expected:R}");
                }
            }
        }
    }

    /// <summary>A valid JSON number: plain decimals of 1 to 20 digits (some beyond the exact case), zeros, exponents.</summary>
    internal static string RandomNumber(Random random)
    {
        var sign = random.Next(3) == 0 ? "-" : "";
        var kind = random.Next(10);
        if (kind == 0)
        {
            return sign + (random.Next(2) == 0 ? "0" : "0.0");
        }

        var digits = new StringBuilder(random.Next(1, 10).ToString(CultureInfo.InvariantCulture));
        for (var i = random.Next(0, 10); i > 0; i--)
        {
            digits.Append((char)('0' + random.Next(10)));
        }

        var text = sign + digits;
        var fraction = new StringBuilder();
        for (var i = random.Next(0, 12); i > 0; i--)
        {
            fraction.Append((char)('0' + random.Next(10)));
        }

        if (fraction.Length > 0)
        {
            text += "." + fraction;
        }

        return kind == 1 ? text + (random.Next(2) == 0 ? "e" : "E") + random.Next(-30, 30).ToString(CultureInfo.InvariantCulture) : text;
    }
}
