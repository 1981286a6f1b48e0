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
/// The grain state format. Version 5 (current): ASCII <c>EMGS</c>, u16 version, u8 reason, u8 flags (bit 0:
/// <see cref="ProducerWindows.Evicted"/>), i64 control sequence (the grain's own producer), i32 producer count, per producer
/// (u16 UTF-8 length, id, i64 highest sequence, i64 rows, 16 × u64 window bitmap, u16 count and that many (i64 from, i64 to)
/// ranges of sequences that left the window unapplied, i64 <see cref="ProducerWindows.Window.ForgottenBelow"/>, i64
/// <see cref="ProducerWindows.Window.LastRecordAt"/>), i32 model length, the model's bytes; little-endian.
/// Older versions still read: version 4 is version 5 with a flags byte of 0 and no record time (at most 32 windows, and a
/// full 32 may have evicted one, so that reads as evicted; no time reads as idle), version 3 is version 4 without the
/// forgotten mark, version 2 without the ranges either, and version 1 is what the retired home-made runtime stored as a
/// snapshot (u8 reason then the model's bytes, no producer windows).
/// </summary>
/// <remarks>
/// Version 4 or later is always written, also when no window keeps or forgot a range: a version-2 or version-3 state cannot say that
/// nothing was forgotten. Builds that wrote them dropped a producer's oldest missing range silently once it had more than
/// 32 (version 3; <see cref="ProducerWindows.MaxMissingRanges"/> is larger now), or every sequence that left the window unapplied (the builds
/// before missing ranges, version 2), and then went on writing the same version, also once late records had emptied the
/// ranges again. So a retry judged "seen" from such a state may be a 200 for rows that were never applied. They read
/// conservatively: below a producer's oldest kept range, or below its window when it keeps none, a sequence not kept as
/// missing is forgotten (a retry there is a 409 saying the model cannot tell, never a "seen" that may be wrong). Every range
/// such a writer forgot lay below every range it kept then or added later, and below its window, so nothing forgotten is
/// missed; the price is a 409 instead of a 200 for a retry of a batch older than that, from a producer of before the upgrade.
/// A build older than version 5 cannot read what this one writes (rolling back means restoring a snapshot it wrote).
/// </remarks>
internal static class ModelStateCodec
{
    /// <summary>The version written.</summary>
    public const ushort CurrentVersion = ProducerAgesVersion;

    /// <summary>Producer windows without missing ranges (read conservatively: see the remarks).</summary>
    public const ushort WindowsVersion = 2;

    /// <summary>Producer windows with missing ranges but no forgotten mark (read conservatively: see the remarks).</summary>
    public const ushort MissingRangesVersion = 3;

    /// <summary>Producer windows with missing ranges and the mark below which ranges were forgotten.</summary>
    public const ushort ForgottenRangesVersion = 4;

    /// <summary>Windows dated by their last record, more than 32 of them, and the mark that one was evicted.</summary>
    public const ushort ProducerAgesVersion = 5;

    /// <summary>How many windows a build before <see cref="ProducerAgesVersion"/> kept at most (it evicted at that many).</summary>
    private const int OldMaxProducers = 32;
    private static ReadOnlySpan<byte> Magic => "EMGS"u8;
    private const int WindowWords = ProducerWindows.WindowBits / 64;

    public static byte[] Encode(SnapshotReason reason, long controlSequence, ProducerWindows windows, ReadOnlySpan<byte> core) =>
        Encode(reason, controlSequence, windows, core, CurrentVersion);

    /// <summary>
    /// Encodes in <paramref name="version"/> (2 to 5): an older one drops what it has no room for (the tests write the states
    /// older builds wrote with it; the grain writes only <see cref="CurrentVersion"/>).
    /// </summary>
    internal static byte[] Encode(SnapshotReason reason, long controlSequence, ProducerWindows windows, ReadOnlySpan<byte> core, ushort version)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, WindowsVersion);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(version, ProducerAgesVersion);
        var size = 4 + 2 + 2 + 8 + 4 + 4 + core.Length;
        var withAges = version >= ProducerAgesVersion;
        var withForgotten = version >= ForgottenRangesVersion;
        var withMissing = version >= MissingRangesVersion;
        foreach (var w in windows.All)
        {
            size += 2 + Encoding.UTF8.GetByteCount(w.ProducerId) + 8 + 8 + (8 * WindowWords) + (withMissing ? 2 + (16 * w.Missing.Count) : 0) + (withForgotten ? 8 : 0) + (withAges ? 8 : 0);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], version);
        span[6] = (byte)reason;
        span[7] = withAges && windows.Evicted ? (byte)1 : (byte)0;
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

            if (withAges)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[offset..], w.LastRecordAt);
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
            return version is >= WindowsVersion and <= ProducerAgesVersion
                ? DecodeV2(data, version)
                : throw new InvalidDataException($"model state: format version {version} is not supported (this build reads 1 to {ProducerAgesVersion})");
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
            var maxProducers = version >= ProducerAgesVersion ? ProducerWindows.MaxProducers : OldMaxProducers;
            if (count is < 0 || count > maxProducers)
            {
                throw new InvalidDataException($"model state: {count} producer windows (at most {maxProducers})");
            }

            var flags = data[7];
            if (version >= ProducerAgesVersion && flags > 1)
            {
                throw new InvalidDataException($"model state: unknown flags {flags}");
            }

            var windows = new ProducerWindows();
            windows.RestoreEvicted(version >= ProducerAgesVersion ? (flags & 1) != 0 : count == OldMaxProducers);
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
                // Before version 4 nothing said whether ranges were forgotten: assume they were, below the window (see the remarks).
                var forgotten = Math.Max(0, highest - ProducerWindows.WindowBits);
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
                    else if (ranges > 0)
                    {
                        // Below the oldest kept range, not at the window: whatever a version-3 writer forgot lay below every range it kept.
                        forgotten = missing[0].Item1 - 1;
                    }
                }

                var lastRecordAt = 0L;
                if (version >= ProducerAgesVersion)
                {
                    lastRecordAt = BinaryPrimitives.ReadInt64LittleEndian(data[offset..]);
                    offset += 8;
                }

                if (!windows.TryRestore(id, highest, rows, bitmap, missing, forgotten, lastRecordAt))
                {
                    throw new InvalidDataException($"model state: producer '{id}' has two windows");
                }
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
