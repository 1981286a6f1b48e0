using System.Buffers.Binary;
using EmStreaming.Grains.Observations;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Models;

/// <summary>What a model's stream carries: observation batches, and the refit control records that make refits replayable.</summary>
internal enum ModelRecordKind : byte
{
    Observations = 1,
    RefitRequest = 2,
    RefitResult = 3,
}

/// <summary>
/// Envelope of every entry of a model's stream: u8 kind, u8 reserved, i64 definition generation, then per kind:
/// observations: u64 idempotency-key hash (0 = none) + <see cref="ObservationBatchCodec"/> payload;
/// refit request: nothing; refit result: i64 sequence, then the refit parameters as raw f64 bits.
/// The generation makes entries of a deleted or reset model inert for its successor.
/// </summary>
internal static class ModelRecord
{
    public const int HeaderSize = 10;

    public static byte[] EncodeObservations(long generation, ulong keyHash, DataMatrix rows)
    {
        var buffer = new byte[HeaderSize + 8 + ObservationBatchCodec.EncodedSize(rows.Rows, rows.Columns)];
        WriteHeader(buffer, ModelRecordKind.Observations, generation);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(HeaderSize), keyHash);
        ObservationBatchCodec.Encode(rows, buffer.AsSpan(HeaderSize + 8));
        return buffer;
    }

    public static byte[] EncodeRefitRequest(long generation)
    {
        var buffer = new byte[HeaderSize];
        WriteHeader(buffer, ModelRecordKind.RefitRequest, generation);
        return buffer;
    }

    public static byte[] EncodeRefitResult(long generation, long sequence, ReadOnlySpan<double> parameters)
    {
        var buffer = new byte[HeaderSize + 8 + 4 + (parameters.Length * 8)];
        WriteHeader(buffer, ModelRecordKind.RefitResult, generation);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(HeaderSize), sequence);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(HeaderSize + 8), parameters.Length);
        for (var i = 0; i < parameters.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(HeaderSize + 12 + (i * 8)), parameters[i]);
        }

        return buffer;
    }

    public static (ModelRecordKind Kind, long Generation) ReadHeader(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize || payload[0] is < 1 or > 3)
        {
            throw new FormatException($"model record: unknown kind or short payload ({payload.Length} bytes)");
        }

        return ((ModelRecordKind)payload[0], BinaryPrimitives.ReadInt64LittleEndian(payload[2..]));
    }

    public static (ulong KeyHash, DataMatrix Rows) ReadObservations(ReadOnlySpan<byte> payload) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(payload[HeaderSize..]), ObservationBatchCodec.Decode(payload[(HeaderSize + 8)..]));

    public static (long Sequence, double[] Parameters) ReadRefitResult(ReadOnlySpan<byte> payload)
    {
        var sequence = BinaryPrimitives.ReadInt64LittleEndian(payload[HeaderSize..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[(HeaderSize + 8)..]);
        if (count < 0 || payload.Length != HeaderSize + 12 + (count * 8))
        {
            throw new FormatException("model record: refit result length mismatch");
        }

        var values = new double[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = BinaryPrimitives.ReadDoubleLittleEndian(payload[(HeaderSize + 12 + (i * 8))..]);
        }

        return (sequence, values);
    }

    /// <summary>Stable 64-bit FNV-1a of an idempotency key (never 0, which means "no key").</summary>
    public static ulong HashKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return 0;
        }

        var hash = 14695981039346656037UL;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }

    private static void WriteHeader(Span<byte> buffer, ModelRecordKind kind, long generation)
    {
        buffer[0] = (byte)kind;
        buffer[1] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(buffer[2..], generation);
    }
}
