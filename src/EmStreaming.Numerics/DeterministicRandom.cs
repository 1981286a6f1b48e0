using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics;

/// <summary>
/// xoshiro256** (Blackman &amp; Vigna 2018) seeded through SplitMix64, as its authors advise: a small, fast generator
/// whose sequence is fixed by its seed on every platform and runtime version (System.Random makes no such promise), so
/// fits are bit-reproducible; and whose whole state is four 64-bit words, so it can be saved and restored bit for bit.
/// </summary>
/// <remarks>
/// A mutable struct: copying it forks the stream. The online estimators rely on that to draw on a copy and commit it
/// only when a batch succeeds; everything else keeps one instance in a local or passes it by <c>ref</c>.
/// </remarks>
internal struct DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public DeterministicRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>A seed for an independent stream <paramref name="stream"/> derived from one user seed.</summary>
    public static ulong DeriveSeed(ulong seed, ulong stream)
    {
        var x = seed ^ (0xD1B54A32D192ED03UL * (stream + 1));
        return SplitMix64(ref x);
    }

    /// <summary>Reads the four state words written by <see cref="WriteTo"/>.</summary>
    /// <exception cref="FormatException">The state is all zero (xoshiro256** never reaches it).</exception>
    public static DeterministicRandom ReadFrom(ref StateReader reader)
    {
        var r = new DeterministicRandom
        {
            _s0 = reader.ReadUInt64("rng.s0"),
            _s1 = reader.ReadUInt64("rng.s1"),
            _s2 = reader.ReadUInt64("rng.s2"),
            _s3 = reader.ReadUInt64("rng.s3"),
        };
        if ((r._s0 | r._s1 | r._s2 | r._s3) == 0)
        {
            throw reader.Invalid("rng", "is all zero, which xoshiro256** never reaches");
        }

        return r;
    }

    /// <summary>Writes the state (four 64-bit words) so that <see cref="ReadFrom"/> resumes the exact stream.</summary>
    public readonly void WriteTo(StateWriter writer)
    {
        writer.WriteUInt64(_s0);
        writer.WriteUInt64(_s1);
        writer.WriteUInt64(_s2);
        writer.WriteUInt64(_s3);
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>) (≥ 1), unbiased: Lemire's multiply-shift with rejection.</summary>
    public int NextInt(int maxExclusive)
    {
        var range = (ulong)maxExclusive;
        var threshold = (0UL - range) % range;
        while (true)
        {
            var r = NextUInt64();
            var hi = Math.BigMul(r, range, out var lo);
            if (lo >= threshold)
            {
                return (int)hi;
            }
        }
    }

    /// <summary>Standard normal draw (Box–Muller; one uniform pair per draw keeps the stream position simple).</summary>
    public double NextGaussian()
    {
        double u1;
        do
        {
            u1 = NextDouble();
        }
        while (u1 <= 0);
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
