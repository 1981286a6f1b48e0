using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>The observation values of a stream record on the wire: packed bytes, and records written before packing.</summary>
public sealed class ModelStreamRecordTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Fact]
    public void PackUnpack_KeepsEveryBit()
    {
        double[] values = [0.0, -0.0, 1.5, -2.25e-310, double.Epsilon, double.MaxValue, double.NegativeInfinity, double.NaN, BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_1234)];
        var back = ModelStreamRecord.Unpack(ModelStreamRecord.Pack(values));
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), back.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Serialize_ObservationRecord_RoundTripsPacked_SmallerThanValueByValue()
    {
        var rows = ModelHarness.Rows(1000, 4, 3);
        var record = ModelStreamRecord.Observations("p", 7, 2, rows, T0, keyHash: 5);
        Assert.Null(record.Values);

        var bytes = Serializer.SerializeToArray(record);
        var back = Serializer.Deserialize<ModelStreamRecord>(bytes)!;
        Assert.Equal(1000, back.RowCount);
        Assert.Equal(rows.Values.ToArray(), back.ReadValues());
        Assert.Equal((record.ProducerId, record.Sequence, record.Generation, record.KeyHash, record.Columns), (back.ProducerId, back.Sequence, back.Generation, back.KeyHash, back.Columns));

        // The same record as earlier builds wrote it: a value-by-value array with a field header per value.
        var valueByValue = Serializer.SerializeToArray(record with { PackedValues = null, Values = rows.Values.ToArray() });
        Assert.True(bytes.Length <= (rows.Values.Length * sizeof(double)) + 200, $"packed record {bytes.Length} bytes");
        Assert.True(bytes.Length < valueByValue.Length, $"packed {bytes.Length} bytes, value by value {valueByValue.Length}");
    }

    [Fact]
    public void Serialize_RecordOfAnEarlierBuild_StillReadsAndApplies()
    {
        var rows = ModelHarness.Rows(50, 2, 1);
        var old = new ModelStreamRecord { Kind = ModelRecordKind.Observations, ProducerId = "p", Sequence = 1, Generation = 1, Timestamp = T0, Values = rows.Values.ToArray(), Columns = 2 };
        var back = Serializer.Deserialize<ModelStreamRecord>(Serializer.SerializeToArray(old))!;
        Assert.Null(back.PackedValues);
        Assert.Equal(50, back.RowCount);

        var viaOld = new ModelCore(ModelHarness.Gmm(window: 100), 1);
        var viaPacked = new ModelCore(ModelHarness.Gmm(window: 100), 1);
        viaOld.Apply(back, "m");
        viaPacked.Apply(ModelStreamRecord.Observations("p", 1, 1, rows, T0), "m");
        Assert.Equal(50, viaOld.Observations);
        Assert.Equal(viaPacked.Save(), viaOld.Save());
    }

    [Fact]
    public void PackedValues_TrailingPartialValue_IsNotCounted()
    {
        var record = new ModelStreamRecord { Kind = ModelRecordKind.Observations, ProducerId = "p", Sequence = 1, Timestamp = T0, PackedValues = new byte[(3 * sizeof(double)) + 5], Columns = 1 };
        Assert.Equal(3, record.ValueCount);
        Assert.Equal(3, record.RowCount);
        Assert.Equal(3, record.ReadValues()!.Length);
    }

    [Fact]
    public void ControlRecord_HasNoRows()
    {
        var request = ModelStreamRecord.RefitRequest("c", 1, 1, T0);
        Assert.Equal(0, request.RowCount);
        Assert.Null(request.ReadValues());
    }
}
