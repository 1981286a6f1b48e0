using System.Text;
using EmStreaming.Providers.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace EmStreaming.Providers.TestKit;

/// <summary>
/// The Orleans <see cref="IGrainStorage"/> contract of the EmStreaming providers, run against every implementation: derive a
/// sealed class and implement <see cref="Create"/>. States go through the real <see cref="GrainStateSerializer"/>.
/// </summary>
public abstract class GrainStorageContractTests : IAsyncLifetime
{
    protected const string StateName = "model";
    protected static readonly GrainId Grain = GrainId.Create("model", "sensor-1");
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly List<IGrainStorage> _created = [];

    /// <summary>The serializer every storage under test must use.</summary>
    protected GrainStateSerializer Serializer => new(_services.GetRequiredService<Serializer>());

    /// <summary>Orleans' activators, which make a fresh state when nothing is stored.</summary>
    protected IActivatorProvider Activators => _services.GetRequiredService<IActivatorProvider>();

    /// <summary>Creates a storage (empty for the first call of a test; a later call of a test reopens the same store when it is durable).</summary>
    protected abstract IGrainStorage Create(IGrainStorageSerializer serializer);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var storage in _created)
        {
            if (storage is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }

        await _services.DisposeAsync();
    }

    protected IGrainStorage New()
    {
        var storage = Create(Serializer);
        _created.Add(storage);
        return storage;
    }

    [Fact]
    public async Task ReadStateAsync_NothingStored_FreshStateWithoutETag()
    {
        var storage = New();
        var state = new TestGrainState<CounterState>();

        await storage.ReadStateAsync(StateName, Grain, state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State.Value);
    }

    [Fact]
    public async Task WriteStateAsync_ThenRead_RoundTripsOrleansSerializedState()
    {
        var storage = New();
        var written = new TestGrainState<CounterState>(new CounterState { Value = 42, Name = "ün" });

        await storage.WriteStateAsync(StateName, Grain, written);
        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);

        Assert.True(written.RecordExists);
        Assert.NotNull(written.ETag);
        Assert.Equal(written.ETag, read.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal(42, read.State.Value);
        Assert.Equal("ün", read.State.Name);
    }

    [Fact]
    public async Task WriteStateAsync_BinaryState_StoredAsItsOwnBytes()
    {
        var storage = New();
        var written = new TestGrainState<BlobState>(new BlobState("payload-v1"));

        await storage.WriteStateAsync(StateName, Grain, written);
        var read = new TestGrainState<BlobState>();
        await storage.ReadStateAsync(StateName, Grain, read);

        Assert.Equal("payload-v1", read.State.Text);
        // The stored format is the format byte followed by exactly the state's own bytes.
        Assert.Equal([GrainStateSerializer.BinaryStateFormat, .. new BlobState("payload-v1").ToBytes()], Serializer.Serialize(written.State).ToArray());
    }

    [Fact]
    public async Task WriteStateAsync_EveryWriteChangesTheETag_AndTheNewETagWritesAgain()
    {
        var storage = New();
        var state = new TestGrainState<CounterState>(new CounterState { Value = 1 });
        await storage.WriteStateAsync(StateName, Grain, state);
        var first = state.ETag;

        state.State.Value = 2;
        await storage.WriteStateAsync(StateName, Grain, state);

        Assert.NotEqual(first, state.ETag);
        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);
        Assert.Equal(2, read.State.Value);
    }

    [Fact]
    public async Task WriteStateAsync_StaleETag_ThrowsInconsistentStateAndKeepsTheWinner()
    {
        var storage = New();
        var winner = new TestGrainState<CounterState>(new CounterState { Value = 1 });
        await storage.WriteStateAsync(StateName, Grain, winner);
        var loser = new TestGrainState<CounterState>(new CounterState { Value = 1 }) { ETag = winner.ETag, RecordExists = true };
        winner.State.Value = 2;
        await storage.WriteStateAsync(StateName, Grain, winner);

        loser.State.Value = 99;
        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain, loser));

        Assert.Equal(winner.ETag, error.StoredEtag);
        Assert.Contains(Grain.ToString(), error.Message);
        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);
        Assert.Equal(2, read.State.Value);
    }

    [Fact]
    public async Task WriteStateAsync_NoETagButStateExists_ThrowsInconsistentState()
    {
        var storage = New();
        await storage.WriteStateAsync(StateName, Grain, new TestGrainState<CounterState>(new CounterState { Value = 1 }));

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain, new TestGrainState<CounterState>(new CounterState { Value = 2 })));
    }

    [Fact]
    public async Task WriteStateAsync_ETagButNothingStored_ThrowsInconsistentStateAndStoresNothing()
    {
        var storage = New();

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain, new TestGrainState<CounterState>(new CounterState()) { ETag = "made-up" }));

        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);
        Assert.False(read.RecordExists);
    }

    [Fact]
    public async Task ClearStateAsync_MatchingETag_DeletesAndAFreshWriteNeedsNoETag()
    {
        var storage = New();
        var state = new TestGrainState<CounterState>(new CounterState { Value = 5 });
        await storage.WriteStateAsync(StateName, Grain, state);

        await storage.ClearStateAsync(StateName, Grain, state);

        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);
        Assert.False(read.RecordExists);
        await storage.WriteStateAsync(StateName, Grain, new TestGrainState<CounterState>(new CounterState { Value = 6 }));
    }

    [Fact]
    public async Task ClearStateAsync_StaleETag_ThrowsInconsistentStateAndDeletesNothing()
    {
        var storage = New();
        var state = new TestGrainState<CounterState>(new CounterState { Value = 5 });
        await storage.WriteStateAsync(StateName, Grain, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, Grain, new TestGrainState<CounterState>() { ETag = "stale" }));

        var read = new TestGrainState<CounterState>();
        await storage.ReadStateAsync(StateName, Grain, read);
        Assert.Equal(5, read.State.Value);
    }

    [Fact]
    public async Task ReadStateAsync_PayloadNotAValidEncodingOfTheType_ThrowsCorruptGrainStateNamingTheGrain()
    {
        var storage = New();
        // Bytes written for one type are, for another, a corrupt payload: the format byte or the codec rejects them.
        await storage.WriteStateAsync(StateName, Grain, new TestGrainState<CounterState>(new CounterState { Value = 1 }));
        var other = GrainId.Create("model", "sensor-2");
        await storage.WriteStateAsync(StateName, other, new TestGrainState<BlobState>(new BlobState("x")));

        var error = await Assert.ThrowsAsync<CorruptGrainStateException>(() => storage.ReadStateAsync(StateName, Grain, new TestGrainState<BlobState>()));
        var error2 = await Assert.ThrowsAsync<CorruptGrainStateException>(() => storage.ReadStateAsync(StateName, other, new TestGrainState<CounterState>()));

        Assert.Equal(Grain.ToString(), error.GrainId);
        Assert.Contains(Grain.ToString(), error.Message);
        Assert.Equal(StateName, error.StateName);
        Assert.Equal(other.ToString(), error2.GrainId);
    }

    [Fact]
    public async Task ReadStateAsync_BinaryCodecRejectsItsBytes_ThrowsCorruptGrainStateAndOtherGrainsStillRead()
    {
        var storage = New();
        await storage.WriteStateAsync(StateName, Grain, new TestGrainState<BlobState>(new BlobState(BlobState.Poison)));
        var healthy = GrainId.Create("model", "sensor-2");
        await storage.WriteStateAsync(StateName, healthy, new TestGrainState<BlobState>(new BlobState("fine")));

        var error = await Assert.ThrowsAsync<CorruptGrainStateException>(() => storage.ReadStateAsync(StateName, Grain, new TestGrainState<BlobState>()));

        Assert.IsType<FormatException>(error.InnerException);
        var read = new TestGrainState<BlobState>();
        await storage.ReadStateAsync(StateName, healthy, read);
        Assert.Equal("fine", read.State.Text);
    }

    [Fact]
    public async Task ReadStateAsync_CorruptionTolerantState_ReadsMarkedWithStoredETagAndARecoveryWriteReplacesIt()
    {
        var storage = New();
        var written = new TestGrainState<TolerantState>(new TolerantState(BlobState.Poison));
        await storage.WriteStateAsync(StateName, Grain, written);

        var read = new TestGrainState<TolerantState>();
        await storage.ReadStateAsync(StateName, Grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Contains("damaged", read.State.Corruption);
        // Holding the stored ETag, the grain can store a sound state over the bad one; nothing changed before that.
        read.State = new TolerantState("restored");
        await storage.WriteStateAsync(StateName, Grain, read);
        var again = new TestGrainState<TolerantState>();
        await storage.ReadStateAsync(StateName, Grain, again);
        Assert.Null(again.State.Corruption);
        Assert.Equal("restored", again.State.Text);
    }

    [Fact]
    public async Task WriteStateAsync_ConcurrentGrains_AllStoredIndependently()
    {
        var storage = New();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            storage.WriteStateAsync(StateName, GrainId.Create("model", $"m{i}"), new TestGrainState<CounterState>(new CounterState { Value = i }))));

        for (var i = 0; i < 50; i++)
        {
            var read = new TestGrainState<CounterState>();
            await storage.ReadStateAsync(StateName, GrainId.Create("model", $"m{i}"), read);
            Assert.Equal(i, read.State.Value);
        }
    }
}

/// <summary>A plain <see cref="IGrainState{T}"/> for driving a storage without a silo.</summary>
public sealed class TestGrainState<T>(T state) : IGrainState<T>
{
    public TestGrainState()
        : this(Activator.CreateInstance<T>())
    {
    }

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public T State { get; set; } = state;

    public string? ETag { get; set; }

    public bool RecordExists { get; set; }
}

/// <summary>A state stored with Orleans' binary serializer.</summary>
[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)]
    public int Value { get; set; }

    [Id(1)]
    public string? Name { get; set; }
}

/// <summary>A state that is its own codec: magic "BS1" then UTF-8 text; <see cref="Poison"/> text encodes to bytes its reader rejects.</summary>
public sealed class BlobState : IBinaryGrainState<BlobState>
{
    public const string Poison = "poison";
    private static readonly byte[] Magic = "BS1"u8.ToArray();

    public BlobState()
        : this(string.Empty)
    {
    }

    public BlobState(string text) => Text = text;

    public string Text { get; }

    public byte[] ToBytes() => [.. Magic, .. Encoding.UTF8.GetBytes(Text)];

    public static BlobState FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.StartsWith(Magic))
        {
            throw new FormatException("BlobState bytes do not start with BS1.");
        }

        var text = Encoding.UTF8.GetString(bytes[Magic.Length..]);
        return text == Poison ? throw new FormatException("BlobState body is damaged.") : new BlobState(text);
    }
}

/// <summary><see cref="BlobState"/>'s codec in a state type that asks to be told about corruption instead of a failed read.</summary>
public sealed class TolerantState : IBinaryGrainState<TolerantState>, ICorruptionTolerantGrainState
{
    public TolerantState()
        : this(string.Empty)
    {
    }

    public TolerantState(string text) => Text = text;

    public string Text { get; private set; }

    public string? Corruption { get; private set; }

    public void MarkCorrupt(string reason)
    {
        Text = string.Empty;
        Corruption = reason;
    }

    public byte[] ToBytes() => new BlobState(Text).ToBytes();

    public static TolerantState FromBytes(ReadOnlySpan<byte> bytes) => new(BlobState.FromBytes(bytes).Text);
}
