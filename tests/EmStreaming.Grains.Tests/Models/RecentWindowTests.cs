using EmStreaming.Grains.Models;

namespace EmStreaming.Grains.Tests.Models;

public sealed class RecentWindowTests
{
    private static double[] Rows(long first, int count, int d)
    {
        var values = new double[count * d];
        for (var i = 0; i < count; i++)
        {
            values.AsSpan(i * d, d).Fill(first + i);
        }

        return values;
    }

    [Fact]
    public void Add_MoreRowsThanCapacity_KeepsTheNewestOldestFirstWithTheirObservationNumbers()
    {
        var window = new RecentWindow(dimension: 2, capacity: 100);
        for (var first = 0L; first < 1_000; first += 37)
        {
            var n = (int)Math.Min(37, 1_000 - first);
            window.Add(Rows(first, n, 2), n, first + n);
        }

        var (rows, firstObservation) = window.CopyLatest();
        Assert.Equal(100, rows.Rows);
        Assert.Equal(900, firstObservation);
        Assert.Equal(Rows(900, 100, 2), rows.Values.ToArray());

        var (last, lastFirst) = window.CopyLatest(limit: 5);
        Assert.Equal(Rows(995, 5, 2), last.Values.ToArray());
        Assert.Equal(995, lastFirst);
    }

    [Fact]
    public void Add_OneBatchLargerThanCapacity_KeepsItsNewestRows()
    {
        var window = new RecentWindow(dimension: 3, capacity: 10);
        window.Add(Rows(0, 25, 3), 25, 25);

        var (rows, first) = window.CopyLatest();
        Assert.Equal(Rows(15, 10, 3), rows.Values.ToArray());
        Assert.Equal(15, first);
    }

    [Fact]
    public async Task CopyLatest_WhileTheWriterAddsAndGrows_NeverReturnsTornOrInconsistentRows()
    {
        const int d = 4, total = 200_000;
        var window = new RecentWindow(d, capacity: 5_000);
        var done = 0;
        var reads = 0;
        var reader = Task.Run(() =>
        {
            while (Volatile.Read(ref done) == 0)
            {
                var (rows, first) = window.CopyLatest(limit: 300);
                for (var i = 0; i < rows.Rows; i++)
                {
                    var row = rows.Row(i);
                    for (var j = 0; j < d; j++)
                    {
                        // Row i is observation first + i, and every entry of it carries that number.
                        Assert.Equal(first + i, row[j]);
                    }
                }

                Interlocked.Increment(ref reads);
            }
        });

        // Keep writing until the reader has copied many times during the writes (not only before or after them).
        for (long first = 0; first < total || (Volatile.Read(ref reads) < 100 && !reader.IsCompleted); first += 7)
        {
            window.Add(Rows(first, 7, d), 7, first + 7);
        }

        Volatile.Write(ref done, 1);
        await reader;
        Assert.True(reads >= 100);
    }
}
