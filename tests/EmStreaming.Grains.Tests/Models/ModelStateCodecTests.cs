using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ModelStateCodecTests
{
    /// <summary>
    /// A state as the retired home-made runtime stored it (format version 1: reason byte, then the model's bytes), checked in:
    /// a GMM (window 300, generation 3) after 700 rows of <c>ModelHarness.Rows(100, 2, 0..6)</c>.
    /// </summary>
    private static readonly string V1Fixture = Path.Combine(AppContext.BaseDirectory, "data", "model-state-v1.bin");

    [Fact]
    public void Decode_StateWrittenByFormatVersion1_RestoresTheModelWithoutProducerWindows()
    {
        var decoded = ModelStateCodec.Decode(File.ReadAllBytes(V1Fixture));

        Assert.Equal(1, decoded.FormatVersion);
        Assert.Equal(SnapshotReason.Policy, decoded.Reason);
        Assert.Equal(0, decoded.Windows.Count);
        var core = ModelCore.Restore(ModelHarness.Gmm(window: 300), decoded.Core);
        Assert.Equal(3, core.Generation);
        Assert.Equal(700, core.Observations);
        Assert.Equal([-2.992297485930576, -2.9990439116777927, 3.0500682282510336, 3.024588913091922], core.Gmm!.Model.Means.ToArray());
    }

    [Fact]
    public void EncodeDecode_CurrentVersion_RoundTripsWindowsControlSequenceAndModel()
    {
        var windows = new ProducerWindows();
        Assert.True(windows.TryAccept("svc-a", 5, 100));
        Assert.True(windows.TryAccept("svc-a", 3, 50));
        Assert.True(windows.TryAccept("model", 2000, 0));
        var model = new byte[] { 1, 2, 3, 4 };

        var decoded = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Timer, 42, windows, model));

        Assert.Equal(ModelStateCodec.CurrentVersion, decoded.FormatVersion);
        Assert.Equal(SnapshotReason.Timer, decoded.Reason);
        Assert.Equal(42, decoded.ControlSequence);
        Assert.Equal(model, decoded.Core);
        Assert.Equal(150, decoded.Windows.RowsOf("svc-a"));
        Assert.False(decoded.Windows.TryAccept("svc-a", 5, 100));
        Assert.False(decoded.Windows.TryAccept("svc-a", 3, 50));
        Assert.True(decoded.Windows.TryAccept("svc-a", 4, 10));
        Assert.False(decoded.Windows.TryAccept("model", 2000, 0));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 9, 9, 9 })]
    [InlineData(new byte[] { (byte)'E', (byte)'M', (byte)'G', (byte)'S', 9, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'E', (byte)'M', (byte)'G', (byte)'S', 2, 0, 1, 0, 0, 0, 0, 0 })]
    public void Decode_CorruptOrUnknownBytes_ThrowsInvalidDataSayingWhat(byte[] data)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelStateCodec.Decode(data));
        Assert.StartsWith("model state:", e.Message);
    }

    [Fact]
    public void Decode_Truncated_ThrowsInvalidData()
    {
        var windows = new ProducerWindows();
        windows.TryAccept("p", 1, 1);
        var data = ModelStateCodec.Encode(SnapshotReason.Policy, 0, windows, [1, 2, 3]);
        for (var length = 8; length < data.Length; length += 7)
        {
            Assert.Throws<InvalidDataException>(() => ModelStateCodec.Decode(data.AsSpan(0, length)));
        }
    }
}
