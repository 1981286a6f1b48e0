using EmStreaming.Grains.Models;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ProducerWindowsTests
{
    [Fact]
    public void TryAccept_InOrderThenEveryRedelivery_EachSequenceAcceptedOnce()
    {
        var w = new ProducerWindows();
        for (var s = 1; s <= 3_000; s++)
        {
            Assert.True(w.TryAccept("p", s, 1));
        }

        for (var s = 1; s <= 3_000; s++)
        {
            Assert.False(w.TryAccept("p", s, 1));
        }

        Assert.Equal(3_000, w.RowsOf("p"));
    }

    [Fact]
    public void TryAccept_OutOfOrderWithinTheWindow_AcceptedOnce_BelowTheWindowRejected()
    {
        var w = new ProducerWindows();
        Assert.True(w.TryAccept("p", 2_000, 1));
        Assert.True(w.TryAccept("p", 2_000 - 1_023, 1)); // the oldest sequence the window still tracks
        Assert.False(w.TryAccept("p", 2_000 - 1_023, 1));
        Assert.False(w.TryAccept("p", 2_000 - 1_024, 1)); // below the window: treated as already applied
        Assert.False(w.TryAccept("p", 0, 1));
        Assert.True(w.TryAccept("q", 1, 1)); // another producer has its own window
    }

    [Fact]
    public void TryAccept_AnyPermutationWithinTheWindowWithDuplicates_AcceptsEachDistinctSequenceExactlyOnce()
    {
        var arrivals = Gen.Choose(1, 1_500).ListOf().Select(l => l.ToArray());
        Prop.ForAll(arrivals.ToArbitrary(), sequence =>
        {
            var w = new ProducerWindows();
            var accepted = new HashSet<long>();
            var highest = 0L;
            foreach (var s in sequence)
            {
                var inWindow = s > highest - ProducerWindows.WindowBits;
                var result = w.TryAccept("p", s, 1);
                if (result != (inWindow && !accepted.Contains(s)))
                {
                    return false;
                }

                if (result)
                {
                    accepted.Add(s);
                }

                highest = Math.Max(highest, s);
            }

            return w.RowsOf("p") == accepted.Count;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void TryAccept_MoreProducersThanKept_LeastRecentlyUsedForgotten()
    {
        var w = new ProducerWindows();
        for (var p = 0; p <= ProducerWindows.MaxProducers; p++)
        {
            w.TryAccept($"p{p}", 1, 1);
        }

        Assert.Equal(ProducerWindows.MaxProducers, w.Count);
        Assert.Equal(0, w.RowsOf("p0"));
        Assert.Equal(1, w.RowsOf($"p{ProducerWindows.MaxProducers}"));
    }
}
