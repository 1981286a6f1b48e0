using System.Reflection;
using Orleans.Serialization;
using Orleans.Storage;

namespace EmStreaming.Providers.Storage;

/// <summary>
/// The grain storage serializer of the EmStreaming providers (set explicitly, never Orleans' JSON with .NET type names).
/// Stored bytes: one format byte, then the body.
/// <list type="bullet">
/// <item><c>0x01</c>: the state implements <see cref="IBinaryGrainState{TSelf}"/>; the body is its own bytes, unchanged.</item>
/// <item><c>0x02</c>: any other type; the body is Orleans' binary serializer (fields by <c>[Id]</c>, no type name for the root).</item>
/// </list>
/// A body that cannot be read raises <see cref="FormatException"/>; the storage providers turn it into
/// <see cref="CorruptGrainStateException"/> naming the grain. A state type implementing
/// <see cref="ICorruptionTolerantGrainState"/> gets a fresh instance marked corrupt instead.
/// </summary>
public sealed class GrainStateSerializer : IGrainStorageSerializer
{
    /// <summary>Format byte of a state stored as its own bytes.</summary>
    public const byte BinaryStateFormat = 0x01;

    /// <summary>Format byte of a state stored with Orleans' binary serializer.</summary>
    public const byte OrleansBinaryFormat = 0x02;

    private readonly Serializer _serializer;

    /// <summary>Creates the serializer over Orleans' binary serializer of the silo.</summary>
    public GrainStateSerializer(Serializer serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        _serializer = serializer;
    }

    /// <inheritdoc/>
    public BinaryData Serialize<T>(T? input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (BinaryCodec<T>.Instance is { } codec)
        {
            var body = codec.ToBytes(input);
            var bytes = new byte[body.Length + 1];
            bytes[0] = BinaryStateFormat;
            body.CopyTo(bytes, 1);
            return new BinaryData(bytes);
        }

        var encoded = _serializer.SerializeToArray(input);
        var result = new byte[encoded.Length + 1];
        result[0] = OrleansBinaryFormat;
        encoded.CopyTo(result, 1);
        return new BinaryData(result);
    }

    /// <inheritdoc/>
    public T? Deserialize<T>(BinaryData input)
    {
        try
        {
            return Decode<T>(input);
        }
        catch (FormatException e) when (Activator.CreateInstance<T>() is ICorruptionTolerantGrainState tolerant)
        {
            // Such a state type is told instead of failing the read, whichever storage (SQLite, Azure Blob) calls us: the storage
            // then sets the stored ETag and RecordExists as for any state it read.
            tolerant.MarkCorrupt($"its bytes do not decode: {e.Message}");
            return (T)tolerant;
        }
    }

    private T? Decode<T>(BinaryData input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var bytes = input.ToMemory();
        if (bytes.IsEmpty)
        {
            throw new FormatException($"Stored state of type {typeof(T).Name} is empty (no format byte).");
        }

        var format = bytes.Span[0];
        var body = bytes[1..];
        switch (format)
        {
            case BinaryStateFormat when BinaryCodec<T>.Instance is { } codec:
                return codec.FromBytes(body.Span);
            case OrleansBinaryFormat when BinaryCodec<T>.Instance is null:
                try
                {
                    return _serializer.Deserialize<T>(body);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    throw new FormatException($"Stored state of type {typeof(T).Name} cannot be read by Orleans' binary serializer: {ex.Message}", ex);
                }

            default:
                throw new FormatException(
                    $"Stored state has format byte 0x{format:x2}, which a state of type {typeof(T).Name} does not use " +
                    $"(expected 0x{(BinaryCodec<T>.Instance is null ? OrleansBinaryFormat : BinaryStateFormat):x2}).");
        }
    }

    private delegate T FromBytesDelegate<T>(ReadOnlySpan<byte> bytes);

    /// <summary>The <see cref="IBinaryGrainState{TSelf}"/> members of <typeparamref name="T"/>, looked up once per type (immutable).</summary>
    private sealed class BinaryCodec<T>(Func<T, byte[]> toBytes, FromBytesDelegate<T> fromBytes)
    {
        public static readonly BinaryCodec<T>? Instance = Create();

        public byte[] ToBytes(T value) => toBytes(value);

        public T FromBytes(ReadOnlySpan<byte> bytes) => fromBytes(bytes);

        private static BinaryCodec<T>? Create()
        {
            // Not MakeGenericType: it throws for a T that violates the interface's self-type constraint.
            if (!Array.Exists(typeof(T).GetInterfaces(), i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IBinaryGrainState<>) && i.GenericTypeArguments[0] == typeof(T)))
            {
                return null;
            }

            // T satisfies the constraint only at run time, so bind the generic helpers by reflection, once per type.
            const BindingFlags flags = BindingFlags.Static | BindingFlags.NonPublic;
            var to = typeof(GrainStateSerializer).GetMethod(nameof(ToBytesOf), flags)!.MakeGenericMethod(typeof(T));
            var from = typeof(GrainStateSerializer).GetMethod(nameof(FromBytesOf), flags)!.MakeGenericMethod(typeof(T));
            return new BinaryCodec<T>(to.CreateDelegate<Func<T, byte[]>>(), from.CreateDelegate<FromBytesDelegate<T>>());
        }
    }

    private static byte[] ToBytesOf<TState>(TState state)
        where TState : IBinaryGrainState<TState> => state.ToBytes();

    private static TState FromBytesOf<TState>(ReadOnlySpan<byte> bytes)
        where TState : IBinaryGrainState<TState> => TState.FromBytes(bytes);
}
