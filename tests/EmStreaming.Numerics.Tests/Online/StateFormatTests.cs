using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

public sealed class StateFormatTests
{
    [Fact]
    public void WriterReader_SpecialDoubles_RoundTripBitForBit()
    {
        double[] values = [-0.0, double.Epsilon, double.MaxValue, BitConverter.UInt64BitsToDouble(0x7FF8_0000_0000_1234), 1.0 / 3.0];
        var w = new StateWriter("TEST", 3);
        w.WriteDoubles(values);
        w.WriteInt64(long.MinValue);
        w.WriteBoolean(true);
        var bytes = w.ToArray();

        var r = new StateReader(bytes, "TEST", 1, 3, "test state");
        var back = r.ReadDoubles("values", values.Length);
        Assert.Equal(values.Select(BitConverter.DoubleToUInt64Bits), back.Select(BitConverter.DoubleToUInt64Bits));
        Assert.Equal(long.MinValue, r.ReadInt64("n"));
        Assert.True(r.ReadBoolean("flag"));
        r.EnsureEnd();
        Assert.Equal(3, r.Version);
    }

    [Fact]
    public void Reader_FlippedByte_ThrowsChecksumMismatch()
    {
        var w = new StateWriter("TEST", 1);
        w.WriteDouble(42.0);
        var bytes = w.ToArray();
        bytes[8] ^= 0x10;
        var e = Assert.Throws<InvalidDataException>(() => new StateReader(bytes, "TEST", 1, 1, "test state"));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void Reader_NewerVersionOrOtherTag_ThrowsNamingIt()
    {
        var bytes = new StateWriter("TEST", 2).ToArray();
        Assert.Contains("version 2", Assert.Throws<InvalidDataException>(() => new StateReader(bytes, "TEST", 1, 1, "test state")).Message);
        Assert.Contains("'ABCD'", Assert.Throws<InvalidDataException>(() => new StateReader(bytes, "ABCD", 1, 2, "test state")).Message);
    }

    [Fact]
    public void Reader_ReadingPastEnd_ThrowsNamingField()
    {
        var bytes = new StateWriter("TEST", 1).ToArray();
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            var r = new StateReader(bytes, "TEST", 1, 1, "test state");
            r.ReadInt32("counter");
        });
        Assert.Contains("'counter'", e.Message);
    }
}
