using System.Collections.Concurrent;
using System.Diagnostics;

namespace EmStreaming.Benchmarks.Load;

/// <summary>
/// Append → visible latency: a producer registers (batch end, start time) before it appends; when the model publishes a
/// view whose observation count reaches the batch end, the batch is visible to queries and its latency is recorded in a
/// 0.1 ms histogram (lock-free). Each model's queue has one writer (its producer) and one reader (its grain's turn).
/// </summary>
internal sealed class LatencyRecorder(int models)
{
    private const double BucketMs = 0.1;
    private const int Buckets = 200_000; // 20 s

    private readonly ConcurrentQueue<(long End, long Started)>[] _pending = [.. Enumerable.Range(0, models).Select(_ => new ConcurrentQueue<(long, long)>())];
    private readonly long[] _histogram = new long[Buckets];
    private volatile bool _recording;

    public bool Recording { get => _recording; set => _recording = value; }

    public void Sent(int model, long end, long started) => _pending[model].Enqueue((end, started));

    public void Published(int model, long observations)
    {
        var queue = _pending[model];
        long now = 0;
        while (queue.TryPeek(out var entry) && entry.End <= observations)
        {
            queue.TryDequeue(out _);
            if (_recording)
            {
                now = now == 0 ? Stopwatch.GetTimestamp() : now;
                var ms = Stopwatch.GetElapsedTime(entry.Started, now).TotalMilliseconds;
                Interlocked.Increment(ref _histogram[Math.Min(Buckets - 1, (int)(ms / BucketMs))]);
            }
        }
    }

    /// <summary>Records a latency measured elsewhere (the append's acknowledgement) in this histogram.</summary>
    public void Record(long started)
    {
        if (_recording)
        {
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Interlocked.Increment(ref _histogram[Math.Min(Buckets - 1, (int)(ms / BucketMs))]);
        }
    }

    public long Count => _histogram.Sum();

    public double Percentile(double p)
    {
        var total = Count;
        if (total == 0)
        {
            return double.NaN;
        }

        var target = (long)Math.Ceiling(p * total);
        long seen = 0;
        for (var i = 0; i < Buckets; i++)
        {
            seen += _histogram[i];
            if (seen >= target)
            {
                return (i + 1) * BucketMs;
            }
        }

        return double.PositiveInfinity;
    }
}
