using System.Globalization;
using System.Text;
using EmStreaming.Server.Api;

namespace EmStreaming.Server.Tests.Api;

/// <summary>
/// The JSON body reader parses the common shape <c>{"rows":[[…],…]}</c> without a tokenizer and hands anything else to
/// Utf8JsonReader. The fast path may decline any body, but a body it accepts must give exactly the rows the reader gives,
/// and the reader must have accepted it too: it changes speed, never a result or an error.
/// </summary>
public sealed class JsonRowsFastPathTests
{
    private const string Alphabet = "{}[],:\" \t\r\n-+.eE0123456789nulrowsx/*\\";

    [Fact]
    public void TryParseJsonRows_RandomBodies_SameRowsAsReader()
    {
        var random = new Random(11);
        for (var n = 0; n < 3_000; n++)
        {
            var body = Encoding.UTF8.GetBytes(RandomBody(random));
            var fast = RowsReader.TryParseJsonRows(body);
            Assert.NotNull(fast);
            AssertSameRows(RowsReader.ParseJsonWithReader(body), fast);
        }
    }

    [Fact]
    public void TryParseJsonRows_MutatedBodies_AcceptsOnlyWhatReaderAcceptsWithSameRows()
    {
        var random = new Random(12);
        var accepted = 0;
        for (var n = 0; n < 20_000; n++)
        {
            var text = new StringBuilder(RandomBody(random, maxRows: 4));
            Mutate(random, text);
            var fast = AssertAgreesWithReader(text.ToString(), RowsReader.TryParseJsonRows, RowsReader.ParseJsonWithReader, RowsReader.ParseJson);
            accepted += fast is null ? 0 : 1;
        }

        // The mutations leave many bodies valid (a digit for a digit, a space inserted): the fast path must still take them.
        Assert.InRange(accepted, 1_000, 20_000);
    }

    [Fact]
    public void TryParseNdjsonRows_RandomAndMutatedBodies_SameRowsOrErrorsAsReader()
    {
        var random = new Random(13);
        var accepted = 0;
        for (var n = 0; n < 10_000; n++)
        {
            var lines = Enumerable.Range(0, random.Next(0, 6)).Select(_ => random.Next(8) == 0
                ? " \t"[..random.Next(3)]
                : RandomRow(random, " \t"));
            var text = new StringBuilder(string.Join(random.Next(2) == 0 ? "\n" : "\r\n", lines));
            var mutated = n % 2 == 1;
            if (mutated)
            {
                Mutate(random, text);
            }

            var fast = AssertAgreesWithReader(text.ToString(), RowsReader.TryParseNdjsonRows, RowsReader.ParseNdjsonWithReader, RowsReader.ParseNdjson);
            if (!mutated)
            {
                Assert.NotNull(fast);
            }

            accepted += fast is null ? 0 : 1;
        }

        Assert.InRange(accepted, 5_500, 10_000);
    }

    [Theory]
    [InlineData("{\"rows\":[[1,2]],\"rows\":[[3,4]]}")] // a repeated member: the reader decides
    [InlineData("{\"rows\":[[1,2]] /* c */}")] // comments
    [InlineData("{\"\\u0072ows\":[[1,2]]}")] // an escaped name
    [InlineData("\uFEFF\uFEFF{\"rows\":[[1,2]]}")] // a second byte order mark: only the first is the body's signature
    [InlineData(" \uFEFF{\"rows\":[[1,2]]}")] // a byte order mark after the start
    [InlineData("{\"rows\":[[]]}")] // an empty row (a 400 naming rows[0])
    [InlineData("{\"rows\":[[1e400]]}")] // not a finite double (a 400 naming rows[0][0])
    [InlineData("{\"rows\":[[01]]}")] // not a JSON number
    [InlineData("{\"rows\":[[1.]]}")]
    [InlineData("{\"rows\":[[.5]]}")]
    [InlineData("{\"rows\":[[+1]]}")]
    [InlineData("{\"rows\":[[1,]]}")]
    [InlineData("{\"rows\":[[1]],}")]
    [InlineData("{\"rows\":[[1]]}x")]
    [InlineData("{\"rows\":[[NaN]]}")]
    [InlineData("{\"rows\":[[\"1\"]]}")]
    [InlineData("{\"rows\":[[nul]]}")]
    [InlineData("{\"rows\":[[null1]]}")]
    [InlineData("{\"rows\":[[1]]")]
    [InlineData("{\"rows\":[1,2]}")]
    public void TryParseJsonRows_OtherShapes_LeavesThemToTheReader(string json) =>
        Assert.Null(RowsReader.TryParseJsonRows(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("{\"rows\":[]}", 0)]
    [InlineData("{\"rows\":[[1e-400,-1E-400,123456789012345678901234567890.5,0.000000000000000000000000001]]}", 1)] // underflow to zero, long mantissas
    [InlineData(" {\r\n\t\"rows\" : [ [ -0 , null , 1E+2 , 2.5e-3 ] , [0.0,-1] ] }\n", 2)]
    [InlineData("{\"rows\":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33]]}", 1)]
    [InlineData("\uFEFF{\"rows\":[[1,2]]}", 1)] // a leading UTF-8 byte order mark
    [InlineData("\uFEFF {\"rows\":[[1,null],[3,4]]}\n", 2)]
    public void TryParseJsonRows_EdgeShapes_SameAsReader(string json, int rows)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var fast = RowsReader.TryParseJsonRows(body);
        Assert.NotNull(fast);
        Assert.Equal(rows, fast.Count);
        AssertSameRows(RowsReader.ParseJsonWithReader(body), fast);
    }

    [Fact]
    public void LeadingByteOrderMark_RandomBodies_SameRowsOrErrorsAsWithout()
    {
        // A leading UTF-8 BOM is the body's encoding signature, not content: both paths, JSON and NDJSON, read the body
        // after it exactly as they read the body without it (the rows, or the same error).
        var random = new Random(14);
        for (var n = 0; n < 2_000; n++)
        {
            var json = new StringBuilder(RandomBody(random, maxRows: 4));
            var ndjson = new StringBuilder(string.Join('\n', Enumerable.Range(0, random.Next(1, 4)).Select(_ => RandomRow(random, " \t"))));
            if (n % 2 == 1)
            {
                Mutate(random, json);
                Mutate(random, ndjson);
            }

            AssertSameAsWithoutBom(json.ToString(), RowsReader.ParseJson, RowsReader.ParseJsonWithReader);
            AssertSameAsWithoutBom(ndjson.ToString(), RowsReader.ParseNdjson, RowsReader.ParseNdjsonWithReader);
            Assert.Equal(
                RowsReader.TryParseJsonRows(Encoding.UTF8.GetBytes(json.ToString())) is null,
                RowsReader.TryParseJsonRows(Encoding.UTF8.GetBytes("\uFEFF" + json)) is null);
            Assert.Equal(
                RowsReader.TryParseNdjsonRows(Encoding.UTF8.GetBytes(ndjson.ToString())) is null,
                RowsReader.TryParseNdjsonRows(Encoding.UTF8.GetBytes("\uFEFF" + ndjson)) is null);
        }
    }

    [Theory]
    [InlineData("\uFEFF\uFEFF{\"rows\":[[1,2]]}", "body")]
    [InlineData("{\"rows\":[[1,\uFEFF2]]}", "body")]
    public void ParseJson_ByteOrderMarkAfterTheStart_IsAnErrorSayingSo(string json, string field)
    {
        var error = Assert.Throws<ApiValidationException>(() => RowsReader.ParseJson(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(field, error.Field);
        Assert.Contains("byte-order mark", error.Message);
    }

    [Fact]
    public void ParseNdjson_ByteOrderMarkAtTheStartOfALaterLine_IsAnErrorNamingTheRow()
    {
        var error = Assert.Throws<ApiValidationException>(() => RowsReader.ParseNdjson(Encoding.UTF8.GetBytes("\uFEFF[1,2]\n\uFEFF[3,4]\n")));
        Assert.Equal("rows[1]", error.Field);
        Assert.Contains("byte-order mark", error.Message);
    }

    private static void AssertSameAsWithoutBom(string text, Parse endpoint, Parse reader)
    {
        foreach (var parse in new[] { endpoint, reader })
        {
            List<double[]>? plain = null;
            ApiValidationException? plainError = null;
            try
            {
                plain = parse(Encoding.UTF8.GetBytes(text));
            }
            catch (ApiValidationException e)
            {
                plainError = e;
            }

            var marked = Encoding.UTF8.GetBytes("\uFEFF" + text);
            if (plainError is null)
            {
                AssertSameRows(plain!, parse(marked));
            }
            else
            {
                var again = Assert.Throws<ApiValidationException>(() => parse(marked));
                Assert.Equal((plainError.Field, plainError.Message), (again.Field, again.Message));
            }
        }
    }

    private delegate List<double[]>? Scan(ReadOnlySpan<byte> body);

    private delegate List<double[]> Parse(ReadOnlySpan<byte> body);

    /// <summary>
    /// The contract for one body: whatever <paramref name="scan"/> accepts, <paramref name="reader"/> accepts too, with
    /// the same rows; and <paramref name="endpoint"/> gives the reader's rows or its error (field and message). Returns
    /// what the scanner gave.
    /// </summary>
    private static List<double[]>? AssertAgreesWithReader(string text, Scan scan, Parse reader, Parse endpoint)
    {
        var body = Encoding.UTF8.GetBytes(text);
        List<double[]>? byReader = null;
        ApiValidationException? error = null;
        try
        {
            byReader = reader(body);
        }
        catch (ApiValidationException e)
        {
            error = e;
        }

        var fast = scan(body);
        if (fast is not null)
        {
            Assert.True(error is null, $"the fast path accepted {text} but the reader said {error?.Field}: {error?.Message}");
            AssertSameRows(byReader!, fast);
        }

        if (error is null)
        {
            AssertSameRows(byReader!, endpoint(body));
        }
        else
        {
            var again = Assert.Throws<ApiValidationException>(() => endpoint(body));
            Assert.Equal((error.Field, error.Message), (again.Field, again.Message));
        }

        return fast;
    }

    /// <summary>One to three random edits (replace, delete, insert) with characters that matter to JSON.</summary>
    private static void Mutate(Random random, StringBuilder text)
    {
        for (var m = random.Next(1, 4); m > 0; m--)
        {
            var at = random.Next(text.Length + 1);
            var c = Alphabet[random.Next(Alphabet.Length)];
            switch (random.Next(3))
            {
                case 0 when at < text.Length:
                    text[at] = c;
                    break;
                case 1 when at < text.Length:
                    text.Remove(at, 1);
                    break;
                default:
                    text.Insert(at, c);
                    break;
            }
        }
    }

    private static void AssertSameRows(List<double[]> expected, List<double[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var r = 0; r < expected.Count; r++)
        {
            Assert.Equal(expected[r].Length, actual[r].Length);
            for (var c = 0; c < expected[r].Length; c++)
            {
                Assert.True(BitConverter.DoubleToInt64Bits(expected[r][c]) == BitConverter.DoubleToInt64Bits(actual[r][c]),
                    $"rows[{r}][{c}]: {actual[r][c]:R} where the reader gives {expected[r][c]:R}");
            }
        }
    }

    /// <summary>A valid body: 0 to <paramref name="maxRows"/> rows of 1 to 12 numbers or nulls, random JSON whitespace.</summary>
    private static string RandomBody(Random random, int maxRows = 30)
    {
        string Ws() => Whitespace(random, " \t\r\n");
        var json = new StringBuilder().Append(Ws()).Append('{').Append(Ws()).Append("\"rows\"").Append(Ws()).Append(':').Append(Ws()).Append('[');
        var rows = random.Next(maxRows + 1);
        for (var r = 0; r < rows; r++)
        {
            json.Append(r == 0 ? "" : ",").Append(RandomRow(random, " \t\r\n"));
        }

        return json.Append(Ws()).Append(']').Append(Ws()).Append('}').Append(Ws()).ToString();
    }

    /// <summary>One row <c>[…]</c> of 1 to 12 numbers or nulls, with whitespace drawn from <paramref name="whitespace"/>.</summary>
    private static string RandomRow(Random random, string whitespace)
    {
        string Ws() => Whitespace(random, whitespace);
        var row = new StringBuilder().Append(Ws()).Append('[');
        var columns = random.Next(1, 13);
        for (var c = 0; c < columns; c++)
        {
            row.Append(Ws()).Append(c == 0 ? "" : ",").Append(Ws())
                .Append(random.Next(10) == 0 ? "null" : JsonNumberTests.RandomNumber(random));
        }

        return row.Append(Ws()).Append(']').Append(Ws()).ToString();
    }

    private static string Whitespace(Random random, string from) =>
        random.Next(4) != 0 ? "" : new string([.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => from[random.Next(from.Length)])]);
}
