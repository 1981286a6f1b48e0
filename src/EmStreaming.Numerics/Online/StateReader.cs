using System.Buffers.Binary;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Reads a state written by <see cref="StateWriter"/>: checks the magic tag, the version range and the checksum up
/// front, then hands out fields in the order they were written. Every failure is an
/// <see cref="InvalidDataException"/> naming what was being read, never a partially applied state.
/// </summary>
internal ref struct StateReader
{
    private readonly ReadOnlySpan<byte> _payload;
    private readonly string _what;
    private int _position;

    /// <summary>Validates the header and checksum of <paramref name="state"/>.</summary>
    /// <param name="state">Bytes from <see cref="StateWriter.ToArray"/>.</param>
    /// <param name="magic">Expected four-character tag.</param>
    /// <param name="minVersion">Oldest format version this reader understands.</param>
    /// <param name="maxVersion">Newest format version this reader understands.</param>
    /// <param name="what">Name of the state for error messages, e.g. "online GMM state".</param>
    /// <exception cref="InvalidDataException">Wrong tag, unsupported version, truncated or corrupted bytes.</exception>
    public StateReader(ReadOnlySpan<byte> state, string magic, ushort minVersion, ushort maxVersion, string what)
    {
        _what = what;
        if (state.Length < 14)
        {
            throw new InvalidDataException($"{what}: {state.Length} bytes is too short to be a state.");
        }

        for (var i = 0; i < 4; i++)
        {
            if (state[i] != (byte)magic[i])
            {
                throw new InvalidDataException($"{what}: the bytes do not start with the tag '{magic}'; they are not this kind of state.");
            }
        }

        var body = state[..^8];
        var stored = BinaryPrimitives.ReadUInt64LittleEndian(state[^8..]);
        if (StateWriter.Checksum(body) != stored)
        {
            throw new InvalidDataException($"{what}: checksum mismatch; the state is truncated or corrupted.");
        }

        Version = BinaryPrimitives.ReadUInt16LittleEndian(state[4..]);
        if (Version < minVersion || Version > maxVersion)
        {
            throw new InvalidDataException($"{what}: format version {Version} is not supported (this build reads {minVersion}..{maxVersion}).");
        }

        _payload = body;
        _position = 6;
    }

    /// <summary>Format version found in the header.</summary>
    public ushort Version { get; }

    public byte ReadByte(string field) => Take(1, field)[0];

    public bool ReadBoolean(string field) => ReadByte(field) switch
    {
        0 => false,
        1 => true,
        var b => throw new InvalidDataException($"{_what}: field '{field}' holds {b}, not a boolean."),
    };

    public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

    public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    public double ReadDouble(string field) => BitConverter.UInt64BitsToDouble(ReadUInt64(field));

    /// <summary>Reads a length-prefixed double array whose length must be <paramref name="expectedLength"/> (or any length when negative).</summary>
    public double[] ReadDoubles(string field, int expectedLength = -1)
    {
        var n = ReadLength(field, expectedLength, 8);
        var result = new double[n];
        var bytes = Take(8 * n, field);
        for (var i = 0; i < n; i++)
        {
            result[i] = BitConverter.UInt64BitsToDouble(BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(8 * i, 8)));
        }

        return result;
    }

    /// <summary>Reads a length-prefixed int array whose length must be <paramref name="expectedLength"/> (or any length when negative).</summary>
    public int[] ReadInt32s(string field, int expectedLength = -1)
    {
        var n = ReadLength(field, expectedLength, 4);
        var result = new int[n];
        var bytes = Take(4 * n, field);
        for (var i = 0; i < n; i++)
        {
            result[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(4 * i, 4));
        }

        return result;
    }

    /// <summary>Throws unless every byte has been read (trailing bytes mean writer and reader disagree).</summary>
    public readonly void EnsureEnd()
    {
        if (_position != _payload.Length)
        {
            throw new InvalidDataException($"{_what}: {_payload.Length - _position} unexpected trailing bytes.");
        }
    }

    /// <summary>Builds the error for a field whose value is out of range.</summary>
    public readonly InvalidDataException Invalid(string field, string reason) => new($"{_what}: field '{field}' {reason}.");

    private int ReadLength(string field, int expectedLength, int elementSize)
    {
        var n = ReadInt32(field);
        if (n < 0 || (expectedLength >= 0 && n != expectedLength) || (long)n * elementSize > _payload.Length - _position)
        {
            throw new InvalidDataException($"{_what}: field '{field}' has length {n}" + (expectedLength >= 0 ? $", expected {expectedLength}." : "."));
        }

        return n;
    }

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > _payload.Length - _position)
        {
            throw new InvalidDataException($"{_what}: truncated while reading '{field}'.");
        }

        var s = _payload.Slice(_position, count);
        _position += count;
        return s;
    }
}
