namespace EmStreaming.Providers.Storage;

/// <summary>
/// A grain state that is its own codec: it writes and reads its own versioned bytes (magic, format version, fields).
/// <see cref="GrainStateSerializer"/> stores those bytes as they are, so the stored format is exactly the type's codec and a
/// rename of a .NET type never breaks stored state.
/// </summary>
/// <typeparam name="TSelf">The state type.</typeparam>
public interface IBinaryGrainState<TSelf>
    where TSelf : IBinaryGrainState<TSelf>
{
    /// <summary>The state's bytes, including whatever version header the type needs to read older formats.</summary>
    byte[] ToBytes();

    /// <summary>Reads bytes written by <see cref="ToBytes"/> of this or an earlier version.</summary>
    /// <exception cref="FormatException">The bytes are not a valid encoding (the storage reports it as <see cref="CorruptGrainStateException"/>).</exception>
    static abstract TSelf FromBytes(ReadOnlySpan<byte> bytes);
}
