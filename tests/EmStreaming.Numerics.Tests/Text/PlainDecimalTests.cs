using System.Globalization;
using System.Text;
using EmStreaming.Numerics.Text;

namespace EmStreaming.Numerics.Tests.Text;

public sealed class PlainDecimalTests
{
    [Fact]
    public void TryParse_RandomDecimals_SameBitsAsDoubleParseWheneverAccepted()
    {
        var random = new Random(12);
        var accepted = 0;
        for (var n = 0; n < 200_000; n++)
        {
            // 1 to 20 digits with the point anywhere (or nowhere), and a sign now and then.
            var digits = random.Next(1, 21);
            var chars = new char[digits];
            for (var i = 0; i < digits; i++)
            {
                chars[i] = (char)('0' + random.Next(10));
            }

            var text = new string(chars);
            var point = random.Next(0, digits + 1);
            if (point > 0 && point < digits)
            {
                text = text.Insert(point, ".");
            }

            text = random.Next(4) switch { 0 => "-" + text, 1 => "+" + text, _ => text };
            var ok = PlainDecimal.TryParse(text, out var value);
            // The UTF-8 overload (JSON bodies) decides and reads exactly as the UTF-16 one (CSV fields).
            Assert.Equal(ok, PlainDecimal.TryParse(Encoding.UTF8.GetBytes(text), out var utf8));
            Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(utf8));
            if (ok)
            {
                accepted++;
                Assert.Equal(BitConverter.DoubleToInt64Bits(double.Parse(text, CultureInfo.InvariantCulture)), BitConverter.DoubleToInt64Bits(value));
            }
        }

        Assert.InRange(accepted, 100_000, 200_000);
    }

    [Theory]
    [InlineData("-3.14159", -3.14159)]
    [InlineData("+2.5", 2.5)]
    [InlineData("0.00001", 0.00001)]
    [InlineData("9007199254740992", 9007199254740992.0)]
    [InlineData("0.1", 0.1)]
    [InlineData("123456789.0123456789", double.NaN)] // 19 digits but a mantissa beyond 2^53: not exact here
    [InlineData("9007199254740993", double.NaN)]
    [InlineData("1e5", double.NaN)]
    [InlineData("1.", double.NaN)]
    [InlineData(".5", double.NaN)]
    [InlineData("-0.0", double.NaN)]
    [InlineData(" 1.5", double.NaN)]
    [InlineData("1,5", double.NaN)]
    [InlineData("NA", double.NaN)]
    [InlineData("", double.NaN)]
    [InlineData("-", double.NaN)]
    [InlineData("1.2.3", double.NaN)]
    public void TryParse_Field_ExactOrDeclined(string text, double expected)
    {
        var ok = PlainDecimal.TryParse(text, out var value);
        Assert.Equal(!double.IsNaN(expected), ok);
        Assert.Equal(ok, PlainDecimal.TryParse(Encoding.UTF8.GetBytes(text), out var utf8));
        Assert.Equal(value, utf8);
        if (ok)
        {
            Assert.Equal(expected, value);
        }
    }
}
