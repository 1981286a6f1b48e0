using EmStreaming.Numerics;

namespace EmStreaming.Grains.Models;

/// <summary>
/// The model's window of recent rows: a ring of at most <c>capacity</c> rows, grown lazily (doubling) so a small model does
/// not pay for a large window up front. One writer (the grain's turn) and any number of readers on other threads: a reader
/// copies under a sequence lock (the writer makes the sequence odd while it writes; a reader that saw it odd or changed copies
/// again), so queries read recent rows without entering the mailbox and never see a half-written row.
/// </summary>
internal sealed class RecentWindow(int dimension, int capacity)
{
    private const int MinimumRows = 64;

    private double[] _ring = [];
    private long _written;       // rows ever added; row i lives in slot i % (ring rows)
    private long _endObservation; // observation number just after the newest row
    private int _sequence;

    public int Dimension { get; } = dimension;

    public int Capacity { get; } = capacity;

    /// <summary>Rows held (at most <see cref="Capacity"/>).</summary>
    public int Count => (int)Math.Min(Volatile.Read(ref _written), _ring.Length / Math.Max(Dimension, 1));

    /// <summary>Writer only: appends rows (keeping the newest <see cref="Capacity"/>); <paramref name="endObservation"/> numbers the row after the last.</summary>
    public void Add(ReadOnlySpan<double> values, int rows, long endObservation)
    {
        var d = Dimension;
        Interlocked.Increment(ref _sequence); // odd: readers retry
        try
        {
            var slots = _ring.Length / d;
            if (slots < Capacity && _written + rows > slots)
            {
                Grow((int)Math.Min(Capacity, Math.Max(_written + rows, Math.Max(MinimumRows, 2L * slots))));
                slots = _ring.Length / d;
            }

            // Rows older than the ring keeps are skipped, not written and overwritten.
            var skip = Math.Max(0, rows - slots);
            for (var i = skip; i < rows; i++)
            {
                var slot = (int)((_written + i) % slots);
                values.Slice(i * d, d).CopyTo(_ring.AsSpan(slot * d, d));
            }

            _written += rows;
            _endObservation = endObservation;
        }
        finally
        {
            Interlocked.Increment(ref _sequence); // even: consistent
        }
    }

    /// <summary>Any thread: the newest rows, oldest first, at most <paramref name="limit"/>, and the observation number of the first.</summary>
    public (DataMatrix Rows, long FirstObservation) CopyLatest(int limit = int.MaxValue)
    {
        var d = Dimension;
        var spins = new SpinWait();
        while (true)
        {
            var before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0)
            {
                var ring = Volatile.Read(ref _ring);
                var written = Volatile.Read(ref _written);
                var end = Volatile.Read(ref _endObservation);
                var slots = ring.Length / d;
                var n = (int)Math.Min(Math.Min(limit, written), slots);
                var values = new double[n * d];
                for (var i = 0; i < n; i++)
                {
                    var slot = (int)((written - n + i) % slots);
                    Array.Copy(ring, slot * d, values, i * d, d);
                }

                // The copies above must complete before the sequence is read again.
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _sequence) == before)
                {
                    return (new DataMatrix(values, n, d), end - n);
                }
            }

            spins.SpinOnce();
        }
    }

    private void Grow(int rows)
    {
        var d = Dimension;
        var oldSlots = _ring.Length / d;
        var grown = new double[rows * d];
        var n = (int)Math.Min(_written, oldSlots);
        for (var i = _written - n; i < _written; i++)
        {
            Array.Copy(_ring, (int)(i % oldSlots) * d, grown, (int)(i % rows) * d, d);
        }

        Volatile.Write(ref _ring, grown);
    }
}
