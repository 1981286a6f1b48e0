using System.Buffers.Binary;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Observations;

/// <summary>
/// The payload of an observation batch on a model's stream: a small header and the row-major values as
/// little-endian IEEE 754 bits, so what the grain decodes is bit-identical to what the producer validated
/// (NaN marks a missing entry). Versioned so the log stays readable across upgrades.
/// </summary>
/// <remarks>Layout: u8 version (1), u8 reserved, u16 columns, i32 rows, then rows × columns f64.</remarks>
public static class ObservationBatchCodec
{
    public const byte Version = 1;
    public const int HeaderSize = 8;

    public static int EncodedSize(int rows, int columns) => HeaderSize + (rows * columns * sizeof(double));

    public static byte[] Encode(DataMatrix rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var buffer = new byte[EncodedSize(rows.Rows, rows.Columns)];
        Encode(rows, buffer);
        return buffer;
    }

    public static void Encode(DataMatrix rows, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Columns > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), "too many columns");
        }

        destination[0] = Version;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)rows.Columns);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], rows.Rows);
        var offset = HeaderSize;
        for (var i = 0; i < rows.Rows; i++)
        {
            foreach (var v in rows.Row(i))
            {
                BinaryPrimitives.WriteDoubleLittleEndian(destination[offset..], v);
                offset += sizeof(double);
            }
        }
    }

    /// <summary>Decodes into a fresh array; throws <see cref="FormatException"/> for a payload this version cannot read.</summary>
    public static DataMatrix Decode(ReadOnlySpan<byte> payload)
    {
        var (rows, columns) = ReadHeader(payload);
        var values = new double[rows * columns];
        DecodeValues(payload, values);
        return new DataMatrix(values, rows, columns);
    }

    public static (int Rows, int Columns) ReadHeader(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize || payload[0] != Version)
        {
            throw new FormatException($"observation batch: unsupported payload (version {(payload.Length > 0 ? payload[0] : 0)}, {payload.Length} bytes)");
        }

        int columns = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        var rows = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        if (rows < 0 || columns < 1 || payload.Length != EncodedSize(rows, columns))
        {
            throw new FormatException($"observation batch: header says {rows}×{columns} but the payload has {payload.Length} bytes");
        }

        return (rows, columns);
    }

    /// <summary>Decodes the values into caller-owned storage (rows × columns doubles) without allocating.</summary>
    public static void DecodeValues(ReadOnlySpan<byte> payload, Span<double> destination)
    {
        var (rows, columns) = ReadHeader(payload);
        var count = rows * columns;
        if (destination.Length < count)
        {
            throw new ArgumentException($"destination holds {destination.Length} values; {count} needed", nameof(destination));
        }

        var source = payload[HeaderSize..];
        for (var i = 0; i < count; i++)
        {
            destination[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[(i * sizeof(double))..]);
        }
    }
}
