using System.Buffers.Binary;
using System.Text;
using EmStreaming.Providers.Storage;

namespace EmStreaming.Grains.Models;

/// <summary>Why a state was written (kept in the state and in the snapshot history's metadata).</summary>
internal enum SnapshotReason : byte
{
    Policy = 1,
    Timer = 2,
    Deactivation = 3,
    Reset = 4,
}

/// <summary>
/// What the model grain persists through <c>IPersistentState</c>: one opaque byte array in the format of
/// <see cref="ModelStateCodec"/>, so whatever serializer the storage provider uses stores bytes we version, and a
/// rename of a .NET type never breaks stored state.
/// </summary>
/// <remarks>
/// The storage keeps the bytes as they are (<see cref="IBinaryGrainState{TSelf}"/>); the grain decodes them on activation, so
/// a state it cannot read marks that one model failed (with the reason) instead of failing its activation.
/// </remarks>
[GenerateSerializer]
internal sealed class ModelGrainState : IBinaryGrainState<ModelGrainState>, ICorruptionTolerantGrainState
{
    [Id(0)] public byte[]? Data { get; set; }

    /// <summary>Set by the storage when the stored bytes fail its checksum or do not decode: the model activates failed (never stored: not in <see cref="ToBytes"/>).</summary>
    [Id(1)] public string? Corruption { get; private set; }

    public void MarkCorrupt(string reason)
    {
        Data = null;
        Corruption = reason;
    }

    public static ModelGrainState FromBytes(ReadOnlySpan<byte> bytes) => new() { Data = bytes.ToArray() };

    public byte[] ToBytes() => Data ?? [];
}

/// <summary>A decoded grain state: the model's bytes (<see cref="ModelCore.Save"/>) and the exactly-once bookkeeping saved with them.</summary>
internal sealed record DecodedModelState(int FormatVersion, SnapshotReason Reason, long ControlSequence, ProducerWindows Windows, byte[] Core);

/// <summary>
/// The grain state format. Version 2 (current): ASCII <c>EMGS</c>, u16 version, u8 reason, u8 reserved, i64 control
/// sequence (the grain's own producer), i32 producer count, per producer (u16 UTF-8 length, id, i64 highest sequence,
/// i64 rows, 16 × u64 window bitmap), i32 model length, the model's bytes; little-endian. Version 1 is what the retired
/// home-made runtime stored as a snapshot: u8 reason then the model's bytes, no producer windows; it still reads.
/// Version 3 is version 2 with, after each producer's bitmap, u16 count and that many (i64 from, i64 to) ranges of sequences
/// that left the window unapplied (<see cref="ProducerWindows"/>); written only when some producer has such a range, so a
/// state without any stays readable by builds that read version 2. Version 4 is version 3 with, after each producer's
/// ranges, i64 <see cref="ProducerWindows.Window.ForgottenBelow"/>; written only when some producer forgot a range. A version-3
/// state whose producer kept the full <see cref="ProducerWindows.MaxMissingRanges"/> ranges may have forgotten older ones
/// (that build did not record it): it reads as forgotten below its oldest kept range, so a retry there is a 409 rather than a
/// "seen" that may be wrong.
/// </summary>
internal static class ModelStateCodec
{
    public const ushort CurrentVersion = 2;

    /// <summary>The version written when some producer window keeps missing ranges.</summary>
    public const ushort MissingRangesVersion = 3;

    /// <summary>The version written when some producer window forgot missing ranges.</summary>
    public const ushort ForgottenRangesVersion = 4;
    private static ReadOnlySpan<byte> Magic => "EMGS"u8;
    private const int WindowWords = ProducerWindows.WindowBits / 64;

    public static byte[] Encode(SnapshotReason reason, long controlSequence, ProducerWindows windows, ReadOnlySpan<byte> core)
    {
        var size = 4 + 2 + 2 + 8 + 4 + 4 + core.Length;
        var withForgotten = windows.All.Any(w => w.ForgottenBelow > 0);
        var withMissing = withForgotten || windows.All.Any(w => w.Missing.Count > 0);
        foreach (var w in windows.All)
        {
            size += 2 + Encoding.UTF8.GetByteCount(w.ProducerId) + 8 + 8 + (8 * WindowWords) + (withMissing ? 2 + (16 * w.Missing.Count) : 0) + (withForgotten ? 8 : 0);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], withForgotten ? ForgottenRangesVersion : withMissing ? MissingRangesVersion : CurrentVersion);
        span[6] = (byte)reason;
        span[7] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], controlSequence);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], windows.Count);
        var offset = 20;
        // Least recently used first: a restore numbers them in this order, so the one it forgets first is the one least
        // recently used, as before the write (not the one seen first, which may be the producer still in use).
        foreach (var w in windows.All.OrderBy(w => w.LastUsed))
        {
            var length = Encoding.UTF8.GetBytes(w.ProducerId, span[(offset + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[offset..], (ushort)length);
            offset += 2 + length;
            BinaryPrimitives.WriteInt64LittleEndian(span[offset..], w.Highest);
            BinaryPrimitives.WriteInt64LittleEndian(span[(offset + 8)..], w.Rows);
            offset += 16;
            foreach (var word in w.Bitmap)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(span[offset..], word);
                offset += 8;
            }

            if (withMissing)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span[offset..], (ushort)w.Missing.Count);
                offset += 2;
                foreach (var (from, to) in w.Missing)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(span[offset..], from);
                    BinaryPrimitives.WriteInt64LittleEndian(span[(offset + 8)..], to);
                    offset += 16;
                }
            }

            if (withForgotten)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[offset..], w.ForgottenBelow);
                offset += 8;
            }
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], core.Length);
        core.CopyTo(span[(offset + 4)..]);
        return buffer;
    }

    /// <summary>Decodes a state of any supported version; <see cref="InvalidDataException"/> says what is wrong with one that is not.</summary>
    public static DecodedModelState Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 8 && data[..4].SequenceEqual(Magic))
        {
            var version = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
            return version is CurrentVersion or MissingRangesVersion or ForgottenRangesVersion
                ? DecodeV2(data, version)
                : throw new InvalidDataException($"model state: format version {version} is not supported (this build reads 1 to {ForgottenRangesVersion})");
        }

        // Version 1 (the retired runtime's snapshot): a reason byte, then the model's bytes (which start with their own version 1).
        if (data.Length >= 2 && data[0] is >= 1 and <= 4 && data[1] == 1)
        {
            return new DecodedModelState(1, (SnapshotReason)data[0], 0, new ProducerWindows(), data[1..].ToArray());
        }

        throw new InvalidDataException($"model state: unrecognized format ({data.Length} bytes, neither EMGS nor a version 1 snapshot)");
    }

    private static DecodedModelState DecodeV2(ReadOnlySpan<byte> data, ushort version)
    {
        try
        {
            var reason = (SnapshotReason)data[6];
            var control = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
            var count = BinaryPrimitives.ReadInt32LittleEndian(data[16..]);
            if (count is < 0 or > ProducerWindows.MaxProducers)
            {
                throw new InvalidDataException($"model state: {count} producer windows (at most {ProducerWindows.MaxProducers})");
            }

            var windows = new ProducerWindows();
            var offset = 20;
            Span<ulong> bitmap = stackalloc ulong[WindowWords];
            for (var i = 0; i < count; i++)
            {
                int length = BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);
                var id = Encoding.UTF8.GetString(data.Slice(offset + 2, length));
                offset += 2 + length;
                var highest = BinaryPrimitives.ReadInt64LittleEndian(data[offset..]);
                var rows = BinaryPrimitives.ReadInt64LittleEndian(data[(offset + 8)..]);
                offset += 16;
                for (var j = 0; j < WindowWords; j++)
                {
                    bitmap[j] = BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
                    offset += 8;
                }

                List<(long, long)>? missing = null;
                var forgotten = 0L;
                if (version >= MissingRangesVersion)
                {
                    int ranges = BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);
                    if (ranges > ProducerWindows.MaxMissingRanges)
                    {
                        throw new InvalidDataException($"model state: {ranges} missing ranges (at most {ProducerWindows.MaxMissingRanges})");
                    }

                    offset += 2;
                    missing = new List<(long, long)>(ranges);
                    for (var j = 0; j < ranges; j++)
                    {
                        missing.Add((BinaryPrimitives.ReadInt64LittleEndian(data[offset..]), BinaryPrimitives.ReadInt64LittleEndian(data[(offset + 8)..])));
                        offset += 16;
                    }

                    if (version >= ForgottenRangesVersion)
                    {
                        forgotten = BinaryPrimitives.ReadInt64LittleEndian(data[offset..]);
                        offset += 8;
                    }
                    else if (ranges == ProducerWindows.MaxMissingRanges)
                    {
                        forgotten = missing[0].Item1 - 1; // the writer may have forgotten older ranges without saying (see above)
                    }
                }

                windows.Restore(id, highest, rows, bitmap, missing, forgotten);
            }

            var coreLength = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
            if (coreLength < 0 || offset + 4 + coreLength != data.Length)
            {
                throw new InvalidDataException($"model state: the model's bytes are {coreLength} long but {data.Length - offset - 4} remain");
            }

            return new DecodedModelState(version, reason, control, windows, data.Slice(offset + 4, coreLength).ToArray());
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"model state: truncated ({data.Length} bytes)", e);
        }
    }
}
