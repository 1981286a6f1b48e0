using System.Buffers.Binary;
using System.Runtime.InteropServices;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Models;

/// <summary>What a model's stream carries besides external <see cref="ObservationBatch"/>es.</summary>
internal enum ModelRecordKind : byte
{
    Observations = 1,
    RefitRequest = 2,
    RefitResult = 3,

    /// <summary>
    /// A catch-up marker the grain appends to its own stream when it activates: once it reads its own marker back, every
    /// record that was in the log before it (from a previous process too) has been delivered. No effect on the model.
    /// </summary>
    CatchUpMarker = 4,
}

/// <summary>
/// One event of a model's stream, as the service and the grain itself produce it: observations (from the HTTP API), and
/// the refit control records that make refits replayable (a request from the refit timer, a result from the background
/// refit). Every record carries its producer and that producer's sequence number (exactly-once, see
/// <see cref="ProducerWindows"/>) and the definition generation it was produced for (0 = whatever is current), so
/// records of a deleted or reset model are inert for its successor.
/// </summary>
[GenerateSerializer, Immutable]
internal sealed record ModelStreamRecord
{
    [Id(0)] public required ModelRecordKind Kind { get; init; }
    [Id(1)] public required string ProducerId { get; init; }
    [Id(2)] public required long Sequence { get; init; }
    [Id(3)] public long Generation { get; init; }
    [Id(4)] public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Observations: FNV-1a hash of the HTTP Idempotency-Key (0 = none).</summary>
    [Id(5)] public ulong KeyHash { get; init; }

    /// <summary>
    /// Observations: row-major values; <see cref="Columns"/> per row. Orleans writes a <c>double[]</c> value by value, each
    /// with a field header, so the service writes <see cref="PackedValues"/> instead; this field is read for records queued
    /// by earlier builds (and external producers' batches). Read the values with <see cref="ReadValues"/>.
    /// </summary>
    [Id(6)] public double[]? Values { get; init; }
    [Id(7)] public int Columns { get; init; }

    /// <summary>Refit result: the refit's sequence and its parameters (empty = the refit failed).</summary>
    [Id(8)] public long RefitSequence { get; init; }
    [Id(9)] public double[]? Parameters { get; init; }

    /// <summary>Catch-up marker: the activation's random tag (markers are matched by it, never deduplicated by sequence).</summary>
    [Id(10)] public long Nonce { get; init; }

    /// <summary>
    /// Observations: the row-major values as one block of little-endian bytes, 8 per value (<see cref="Pack"/>), copied in
    /// one piece by the serializer: the queue put, the queue read and the delivery to another silo each serialize a record,
    /// and value by value that took more silo CPU than the HTTP parse of the rows. Used when <see cref="Values"/> is null.
    /// </summary>
    [Id(11)] public byte[]? PackedValues { get; init; }

    /// <summary>Number of values an observation record carries (a trailing partial value of a malformed block is not one).</summary>
    public int ValueCount => Values?.Length ?? (PackedValues?.Length ?? 0) / sizeof(double);

    /// <summary>Rows in an observation record (0 for control records).</summary>
    public int RowCount => Kind == ModelRecordKind.Observations && Columns > 0 ? ValueCount / Columns : 0;

    /// <summary>The values of an observation record (<see cref="Values"/>, or <see cref="PackedValues"/> unpacked: a new array each call), or null.</summary>
    public double[]? ReadValues() => Values ?? (PackedValues is { } packed ? Unpack(packed) : null);

    /// <summary>Values as their little-endian bytes, for <see cref="PackedValues"/>.</summary>
    public static byte[] Pack(ReadOnlySpan<double> values)
    {
        var bytes = new byte[values.Length * sizeof(double)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)), values[i]);
            }
        }

        return bytes;
    }

    /// <summary>The values <see cref="Pack"/> wrote; a trailing partial value is ignored.</summary>
    public static double[] Unpack(ReadOnlySpan<byte> bytes)
    {
        var values = new double[bytes.Length / sizeof(double)];
        if (BitConverter.IsLittleEndian)
        {
            bytes[..(values.Length * sizeof(double))].CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * sizeof(double))..]);
            }
        }

        return values;
    }

    /// <summary>The record an external producer's batch stands for.</summary>
    public static ModelStreamRecord From(ObservationBatch batch) => new()
    {
        Kind = ModelRecordKind.Observations,
        ProducerId = batch.ProducerId,
        Sequence = batch.Sequence,
        Timestamp = batch.Timestamp,
        Values = batch.Values,
        Columns = batch.Columns,
    };

    /// <summary>An observation record (what the service produces for an append).</summary>
    public static ModelStreamRecord Observations(string producerId, long sequence, long generation, DataMatrix rows, DateTimeOffset timestamp, ulong keyHash = 0) => new()
    {
        Kind = ModelRecordKind.Observations, ProducerId = producerId, Sequence = sequence, Generation = generation, Timestamp = timestamp,
        KeyHash = keyHash, PackedValues = Pack(rows.Values), Columns = rows.Columns,
    };

    /// <summary>A refit request (what the refit timer produces).</summary>
    public static ModelStreamRecord RefitRequest(string producerId, long sequence, long generation, DateTimeOffset timestamp) => new()
    {
        Kind = ModelRecordKind.RefitRequest, ProducerId = producerId, Sequence = sequence, Generation = generation, Timestamp = timestamp,
    };

    /// <summary>A refit result (what a finished refit produces); empty parameters mean the refit failed.</summary>
    public static ModelStreamRecord RefitResult(string producerId, long sequence, long generation, long refitSequence, double[] parameters, DateTimeOffset timestamp) => new()
    {
        Kind = ModelRecordKind.RefitResult, ProducerId = producerId, Sequence = sequence, Generation = generation, Timestamp = timestamp,
        RefitSequence = refitSequence, Parameters = parameters,
    };

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
}
