using System.Text;

namespace EmStreaming.Runtime.Streams;

/// <summary>Stable key → partition hash (FNV-1a over UTF-8). string.GetHashCode is randomised per process, so it cannot be used for a durable layout.</summary>
internal static class StreamPartitioner
{
    public static int GetPartition(string key, int partitionCount)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> buffer = stackalloc byte[GrainKey.MaxLength * 3];
        var length = Encoding.UTF8.GetBytes(key.AsSpan(0, Math.Min(key.Length, GrainKey.MaxLength)), buffer);
        var hash = 2166136261u;
        foreach (var b in buffer[..length])
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)partitionCount);
    }
}
