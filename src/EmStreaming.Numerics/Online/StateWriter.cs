using System.Buffers;
using System.Buffers.Binary;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Writes a compact, versioned binary state for bit-exact round trips: a 4-byte magic tag, a 2-byte format
/// version, little-endian fields (doubles as their raw IEEE bits, so −0.0 and every payload survive) and a
/// trailing 64-bit FNV-1a checksum of everything before it. The field order is the format: writer and
/// <see cref="StateReader"/> must mirror each other; bump the version when it changes.
/// </summary>
/// <remarks>Shared by the online GMM and HMM estimators; not thread-safe; allocates only the output buffer.</remarks>
internal sealed class StateWriter
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    private readonly ArrayBufferWriter<byte> _buffer;
    private ulong _hash = FnvOffset;
    private bool _completed;

    /// <summary>Starts a state with the given magic tag (four ASCII characters) and format version.</summary>
    public StateWriter(string magic, ushort version, int initialCapacity = 256)
    {
        if (magic is not { Length: 4 } || magic.Any(c => c > 0x7F))
        {
            throw new ArgumentException("magic must be four ASCII characters.", nameof(magic));
        }

        _buffer = new ArrayBufferWriter<byte>(Math.Max(initialCapacity, 16));
        Span<byte> head = stackalloc byte[6];
        for (var i = 0; i < 4; i++)
        {
            head[i] = (byte)magic[i];
        }

        BinaryPrimitives.WriteUInt16LittleEndian(head[4..], version);
        Append(head);
    }

    public void WriteByte(byte value) => Append([value]);

    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteInt32(int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        Append(b);
    }

    public void WriteInt64(long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        Append(b);
    }

    public void WriteUInt64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Append(b);
    }

    /// <summary>Writes the raw IEEE-754 bits, so reading gives back the identical double.</summary>
    public void WriteDouble(double value) => WriteUInt64(BitConverter.DoubleToUInt64Bits(value));

    /// <summary>Writes a length prefix then the raw bits of each value.</summary>
    public void WriteDoubles(ReadOnlySpan<double> values)
    {
        WriteInt32(values.Length);
        Span<byte> b = stackalloc byte[8];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b, BitConverter.DoubleToUInt64Bits(v));
            Append(b);
        }
    }

    /// <summary>Writes a length prefix then each value.</summary>
    public void WriteInt32s(ReadOnlySpan<int> values)
    {
        WriteInt32(values.Length);
        foreach (var v in values)
        {
            WriteInt32(v);
        }
    }

    /// <summary>Appends the checksum and returns the state bytes. The writer cannot be used afterwards.</summary>
    public byte[] ToArray()
    {
        if (!_completed)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, _hash);
            b.CopyTo(_buffer.GetSpan(8));
            _buffer.Advance(8);
            _completed = true;
        }

        return _buffer.WrittenSpan.ToArray();
    }

    internal static ulong Checksum(ReadOnlySpan<byte> data)
    {
        var h = FnvOffset;
        foreach (var b in data)
        {
            h = (h ^ b) * FnvPrime;
        }

        return h;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The state has already been completed by ToArray().");
        }

        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
        var h = _hash;
        foreach (var b in bytes)
        {
            h = (h ^ b) * FnvPrime;
        }

        _hash = h;
    }
}
