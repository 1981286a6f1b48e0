using EmStreaming.Providers.Storage;
using EmStreaming.Providers.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace EmStreaming.Providers.Tests.Storage;

public sealed class GrainStateSerializerTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    private GrainStateSerializer Serializer => new(_services.GetRequiredService<Serializer>());

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Serialize_BinaryState_IsFormatByteThenTheStatesOwnBytes()
    {
        var bytes = Serializer.Serialize(new BlobState("hi")).ToArray();

        Assert.Equal(new byte[] { 0x01, (byte)'B', (byte)'S', (byte)'1', (byte)'h', (byte)'i' }, bytes);
    }

    [Fact]
    public void Deserialize_BytesStoredByTheFirstVersion_StillRead()
    {
        // Pinned when the format was introduced: an Orleans upgrade or a change here that cannot read them breaks stored state.
        var counter = Convert.FromHexString(Pinned.CounterStateV1);

        var state = Serializer.Deserialize<CounterState>(new BinaryData(counter))!;

        Assert.Equal(42, state.Value);
        Assert.Equal("sensor", state.Name);
        Assert.Equal("v1 text", Serializer.Deserialize<BlobState>(new BinaryData(Convert.FromHexString("0142533176312074657874")))!.Text);
    }

    [Fact]
    public void Serialize_OrleansState_StillWritesThePinnedBytes()
    {
        var bytes = Serializer.Serialize(new CounterState { Value = 42, Name = "sensor" }).ToArray();

        Assert.Equal(Pinned.CounterStateV1, Convert.ToHexString(bytes));
    }

    [Fact]
    public void Deserialize_EmptyOrUnknownFormat_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => Serializer.Deserialize<CounterState>(new BinaryData(Array.Empty<byte>())));
        Assert.Throws<FormatException>(() => Serializer.Deserialize<CounterState>(new BinaryData(new byte[] { 0x07, 1, 2 })));
        Assert.Throws<FormatException>(() => Serializer.Deserialize<CounterState>(new BinaryData(new byte[] { 0x02, 0xff, 0xff, 0xff })));
    }

    [Fact]
    public void Serialize_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => Serializer.Serialize<CounterState>(null));
    }

    private static class Pinned
    {
        public const string CounterStateV1 = "022000A9410D73656E736F72E0";
    }
}
