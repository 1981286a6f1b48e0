using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using EmStreaming.Numerics;

namespace EmStreaming.Grains.Registry;

/// <summary>
/// What an idempotency key's stored answer remembers of its request, to tell a retry of the same batch from a different batch
/// under the same key: the first 128 bits of a SHA-256 of the validated request (the accepted rows with their width, the
/// indexes of the rejected ones), or, for answers stored before it existed, the 64-bit FNV-1a hash that was used then
/// (<see cref="Legacy"/>).
/// </summary>
/// <remarks>
/// The FNV hash was replaced because a collision answers a different batch as the retry of the stored one: a 200 for rows
/// that are never applied. It mixed whole 64-bit words (xor, then a multiplication that carries only upwards), so two bodies
/// that differ in two values collide whenever the second difference cancels the first one's effect on the state, which
/// anybody who knows a batch can compute; truncated SHA-256 leaves no such structure (2^128 work for a chosen collision,
/// 2^-128 by chance). A legacy answer is still compared with the legacy hash of the retry, so a retry that spans the upgrade
/// is judged as before; keys reserved from now on are never compared by FNV.
/// </remarks>
internal readonly record struct RequestFingerprint(UInt128 Value, bool Legacy = false)
{
    /// <summary>Whether a request whose validated rows are <paramref name="validated"/> is the one this fingerprint was taken of.</summary>
    public bool Matches((DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) validated) =>
        Legacy ? Value == LegacyHash(validated) : this == Of(validated);

    /// <summary>The fingerprint of a validated request.</summary>
    public static RequestFingerprint Of((DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) validated)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> word = stackalloc byte[8];
        // Every part is preceded by its length, so no two different requests feed the same bytes.
        Append(sha, word, validated.Rejected.Count);
        foreach (var r in validated.Rejected)
        {
            Append(sha, word, r.Index);
        }

        if (validated.Accepted is { } rows)
        {
            Append(sha, word, rows.Rows);
            Append(sha, word, rows.Columns);
            if (BitConverter.IsLittleEndian)
            {
                sha.AppendData(MemoryMarshal.AsBytes(rows.Values));
            }
            else
            {
                foreach (var v in rows.Values)
                {
                    Append(sha, word, BitConverter.DoubleToInt64Bits(v));
                }
            }
        }
        else
        {
            Append(sha, word, -1);
        }

        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return new RequestFingerprint(BinaryPrimitives.ReadUInt128LittleEndian(digest));
    }

    /// <summary>An answer stored before fingerprints: its 64-bit FNV-1a hash.</summary>
    public static RequestFingerprint FromLegacy(ulong hash) => new(hash, Legacy: true);

    /// <summary>The fingerprint as stored (16 bytes, little-endian); a legacy one is never written again.</summary>
    public byte[] ToBytes()
    {
        if (Legacy)
        {
            throw new InvalidOperationException("a legacy request hash is read, never written");
        }

        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, Value);
        return bytes;
    }

    /// <summary>A stored fingerprint (<see cref="ToBytes"/>); <see cref="InvalidDataException"/> when it is not 16 bytes.</summary>
    public static RequestFingerprint FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length == 16
        ? new RequestFingerprint(BinaryPrimitives.ReadUInt128LittleEndian(bytes))
        : throw new InvalidDataException($"idempotency answer: a request fingerprint is 16 bytes, not {bytes.Length}");

    /// <summary>The hash answers were stored with before fingerprints (kept only to judge retries of those).</summary>
    internal static ulong LegacyHash((DataMatrix? Accepted, IReadOnlyList<RejectedRow> Rejected) validated)
    {
        var hash = 14695981039346656037UL;
        foreach (var r in validated.Rejected)
        {
            hash = (hash ^ (ulong)r.Index) * 1099511628211UL;
        }

        if (validated.Accepted is { } rows)
        {
            hash = (hash ^ (ulong)rows.Columns) * 1099511628211UL;
            foreach (var v in rows.Values)
            {
                hash = (hash ^ BitConverter.DoubleToUInt64Bits(v)) * 1099511628211UL;
            }
        }

        return hash;
    }

    private static void Append(IncrementalHash sha, Span<byte> word, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(word, value);
        sha.AppendData(word);
    }
}
