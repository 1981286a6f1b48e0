namespace EmStreaming.Numerics.Online;

/// <summary>
/// xoshiro256** (Blackman &amp; Vigna 2018): a small seeded generator whose whole state is four 64-bit words, so
/// it can be saved and restored bit for bit (System.Random cannot). Seeded through SplitMix64 as the authors advise.
/// </summary>
internal struct OnlineRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public OnlineRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
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

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) (n ≥ 1), by Lemire's multiply-shift with rejection.</summary>
    public int NextInt(int n)
    {
        var range = (ulong)n;
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

    public readonly void WriteTo(StateWriter writer)
    {
        writer.WriteUInt64(_s0);
        writer.WriteUInt64(_s1);
        writer.WriteUInt64(_s2);
        writer.WriteUInt64(_s3);
    }

    public static OnlineRandom ReadFrom(ref StateReader reader)
    {
        var r = new OnlineRandom
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

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
