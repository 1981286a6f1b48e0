using EmStreaming.Grains.Models;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ProducerWindowsTests
{
    /// <summary>The clock the tests' records arrive by (unless a test moves it).</summary>
    internal static readonly long T0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

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
            var first = 0L;
            foreach (var s in sequence)
            {
                // Never twice; always when new and inside the window; below it, only what left the window unapplied (and
                // was tracked: not below the first sequence's window), unless its range was forgotten (more than 32 kept).
                var inWindow = s > highest - ProducerWindows.WindowBits;
                var result = w.TryAccept("p", s, 1);
                if ((result && accepted.Contains(s)) || (!result && inWindow && !accepted.Contains(s))
                    || (result && !inWindow && s <= first - ProducerWindows.WindowBits))
                {
                    return false;
                }

                first = first == 0 && result ? s : first;
                if (result)
                {
                    accepted.Add(s);
                }

                highest = Math.Max(highest, s);
            }

            return w.RowsOf("p") == accepted.Count;
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>
    /// A cluster of 40 silos appends to one model round-robin: 40 producers, all sending. With the windows capped at 32 (least
    /// recently used evicted) they took turns evicting each other, so a redelivered record started a new window and was applied
    /// twice, and a record that arrived after a later one of its producer fell below that new window and was skipped.
    /// </summary>
    [Fact]
    public void TryAccept_FortyProducersAllSending_EveryRedeliveryAndLateRecordAppliedExactlyOnce()
    {
        var w = new ProducerWindows();
        const int producers = 40;
        for (var round = 1; round <= 3; round++)
        {
            for (var p = 0; p < producers; p++)
            {
                Assert.True(w.TryAccept($"svc-{p}", 2 * round, 1)); // the odd sequences arrive late
            }
        }

        for (var p = 0; p < producers; p++)
        {
            Assert.False(w.TryAccept($"svc-{p}", 2, 1)); // redelivered
            Assert.True(w.TryAccept($"svc-{p}", 1, 1)); // late
            Assert.True(w.TryAccept($"svc-{p}", 5, 1));
        }

        Assert.Equal(producers, w.Count);
        Assert.All(Enumerable.Range(0, producers), p => Assert.Equal(5, w.RowsOf($"svc-{p}")));
        Assert.False(w.Evicted);
        Assert.Equal(RetryVerdict.New, w.Judge("never-seen", 1)); // nothing was forgotten
        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9])).Windows;
        Assert.Equal(producers, stored.Count);
        Assert.False(stored.TryAccept("svc-0", 5, 1));
    }

    /// <summary>Beyond 32 windows, a new producer replaces the least recently used window that has seen no record for the idle horizon (7 days).</summary>
    [Fact]
    public void TryAccept_ANewProducerBeyondTheRecentOnes_ReplacesTheLeastRecentlyUsedIdleWindow()
    {
        var w = new ProducerWindows();
        var later = T0 + ProducerWindows.IdleHorizon.Ticks + 1;
        for (var p = 0; p < ProducerWindows.RecentProducers; p++)
        {
            Assert.True(w.TryAccept($"old-{p}", 1, 1, T0));
        }

        Assert.True(w.TryAccept("old-0", 2, 1, later)); // still sending: the least recently used idle one is old-1
        Assert.True(w.TryAccept("new", 1, 1, later));

        Assert.Equal(ProducerWindows.RecentProducers, w.Count);
        Assert.Equal(0, w.RowsOf("old-1"));
        Assert.Equal(2, w.RowsOf("old-0"));
        Assert.True(w.Evicted);
        Assert.Equal(0, w.ActiveEvictions);
        Assert.Equal(RetryVerdict.Unknowable, w.Judge("old-1", 1)); // forgotten: it cannot tell
        Assert.Equal(RetryVerdict.Seen, w.Judge("old-2", 1)); // inside a window its bit still tells

        // No window idle long enough: the windows grow instead.
        Assert.True(w.TryAccept("newer", 1, 1, later + 1));
        Assert.Equal(ProducerWindows.RecentProducers, w.Count); // old-2, idle since T0, went

        for (var p = 0; p < ProducerWindows.RecentProducers; p++)
        {
            w.TryAccept($"recent-{p}", 1, 1, later + 2);
        }

        Assert.True(w.Count > ProducerWindows.RecentProducers, $"{w.Count} windows");
    }

    /// <summary>Past <see cref="ProducerWindows.MaxProducers"/> producers that all sent recently, the least recently used is evicted anyway, and counted.</summary>
    [Fact]
    public void TryAccept_MoreRecentProducersThanTheMost_LeastRecentlyUsedEvicted_Counted()
    {
        var w = new ProducerWindows();
        for (var p = 0; p <= ProducerWindows.MaxProducers; p++)
        {
            Assert.True(w.TryAccept($"p{p}", 1, 1));
        }

        Assert.Equal(ProducerWindows.MaxProducers, w.Count);
        Assert.Equal(0, w.RowsOf("p0"));
        Assert.Equal(1, w.RowsOf($"p{ProducerWindows.MaxProducers}"));
        Assert.Equal(1, w.ActiveEvictions);
        Assert.True(w.Evicted);
        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9])).Windows;
        Assert.True(stored.Evicted);
        Assert.Equal(ProducerWindows.MaxProducers, stored.Count);
    }

    [Fact]
    public void TryAccept_SequenceThatLeftTheWindowUnapplied_AcceptedOnceWhenItArrives_StoredStateKeepsIt()
    {
        var w = new ProducerWindows();
        for (var s = 1; s <= 3_000; s++)
        {
            if (s is not (5 or 6 or 700))
            {
                Assert.True(w.TryAccept("p", s, 1));
            }
        }

        Assert.False(w.TryAccept("p", 2_500, 1));
        Assert.False(w.TryAccept("p", 4, 1)); // applied, and below the window: old
        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w.Clone(), [9])).Windows;
        foreach (var windows in new[] { w, stored })
        {
            Assert.True(windows.WouldAccept("p", 6));
            Assert.True(windows.TryAccept("p", 6, 1));
            Assert.False(windows.TryAccept("p", 6, 1));
            Assert.True(windows.TryAccept("p", 700, 1));
            Assert.True(windows.TryAccept("p", 5, 1));
            Assert.False(windows.WouldAccept("p", 5));
            Assert.Equal(3_000, windows.RowsOf("p"));
        }

    }

    [Fact]
    public void TryAccept_JumpOverMoreThanAWindow_TheSequencesJumpedOverAreMissing_BelowTheFirstWindowOld()
    {
        var w = new ProducerWindows();
        Assert.True(w.TryAccept("p", 2_000, 1));
        Assert.True(w.TryAccept("p", 10_000, 1));
        Assert.True(w.TryAccept("p", 5_000, 1)); // jumped over, never applied
        Assert.True(w.TryAccept("p", 1_000, 1)); // inside the first window, never applied
        Assert.False(w.TryAccept("p", 2_000, 1));
        Assert.False(w.TryAccept("p", 900, 1)); // below the first window: never tracked, old
    }

    [Fact]
    public void StoredAndRestored_MoreProducersThanKept_TheLeastRecentlyUsedIsForgotten_NotTheFirstSeen()
    {
        // A long-lived producer (an external gateway) first, then a service producer per process run of each silo.
        // Eight days later only the gateway still sends.
        var w = new ProducerWindows();
        var later = T0 + TimeSpan.FromDays(8).Ticks;
        Assert.True(w.TryAccept("gateway", 1, 1));
        for (var p = 1; p < ProducerWindows.RecentProducers; p++)
        {
            Assert.True(w.TryAccept($"svc-{p}", 1, 1));
        }

        Assert.True(w.TryAccept("gateway", 2, 1, later)); // still in use: the most recently used

        // The grain reactivates (its state is read back); then another process run appends.
        var restored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9])).Windows;
        foreach (var windows in new[] { w, restored })
        {
            Assert.True(windows.TryAccept("svc-new", 1, 1, later));
            Assert.Equal(0, windows.RowsOf("svc-1")); // the least recently used is forgotten
            Assert.False(windows.WouldAccept("gateway", 2)); // the gateway's window is kept: a redelivery is still skipped
            Assert.Equal(2, windows.RowsOf("gateway"));
        }
    }

    [Fact]
    public void Judge_AppliedGapUnknownAndForgotten_NewSeenOrUnknowable()
    {
        var w = new ProducerWindows();
        for (var s = 1; s <= 2_000; s++)
        {
            if (s != 5)
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        Assert.Equal(RetryVerdict.Seen, w.Judge("svc", 1_990)); // inside the window, applied
        Assert.Equal(RetryVerdict.Seen, w.Judge("svc", 6)); // below the window, not missing: applied
        Assert.Equal(RetryVerdict.New, w.Judge("svc", 5)); // the gap, kept as a missing range
        Assert.Equal(RetryVerdict.New, w.Judge("svc", 2_001));
        Assert.Equal(RetryVerdict.New, w.Judge("never-seen", 1)); // nothing was forgotten
        Assert.Equal(RetryVerdict.Unknowable, w.Judge(null!, 1));

        for (var p = 1; p <= ProducerWindows.RecentProducers; p++)
        {
            Assert.True(w.TryAccept($"other-{p}", 1, 1));
        }

        Assert.Equal(RetryVerdict.New, w.Judge("never-seen", 1)); // more windows than the recent ones, all sending: none forgotten
        Assert.False(w.TryAccept("svc", 2_000, 1, T0 + TimeSpan.FromDays(8).Ticks)); // a redelivery of svc's: it is the most recently used now
        Assert.True(w.TryAccept("late", 1, 1, T0 + TimeSpan.FromDays(8).Ticks)); // replaces other-1, idle for 8 days

        // One was forgotten: an unknown producer may be a forgotten one, and a known one's window may have restarted above an old sequence.
        Assert.Equal(RetryVerdict.Unknowable, w.Judge("never-seen", 1));
        Assert.Equal(RetryVerdict.Unknowable, w.Judge("svc", 6));
        Assert.Equal(RetryVerdict.Seen, w.Judge("svc", 1_990)); // inside the window the bit itself says so
        Assert.Equal(RetryVerdict.New, w.Judge("svc", 5));
    }

    [Fact]
    public void TryAccept_HundredLateRecordsInSeparateGapsBelowTheWindow_EachAppliedOnce_AlsoAfterAStoredRoundTrip()
    {
        // A dead silo's messages come back after the visibility timeout in no order, past a window of later records: 100
        // separate gaps. With 32 ranges kept, the 68 oldest late records were skipped: acknowledged rows lost.
        var gaps = Enumerable.Range(1, 100).Select(g => 37L * g).ToHashSet();
        var w = new ProducerWindows();
        for (var s = 1L; s <= gaps.Max() + 2_000; s++)
        {
            if (!gaps.Contains(s))
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9])).Windows;
        foreach (var windows in new[] { w, stored })
        {
            foreach (var late in gaps.Reverse())
            {
                Assert.True(windows.TryAccept("svc", late, 1), $"late record {late}");
                Assert.False(windows.TryAccept("svc", late, 1), $"its redelivery {late}");
            }
        }
    }

    [Fact]
    public void Judge_GapWhoseRangeWasForgotten_IsUnknowable_NotSeen_AlsoAfterAStoredRoundTrip()
    {
        // Sequence 5 never arrives; then MaxMissingRanges + 8 more gaps, each leaving the window unapplied: the window keeps
        // the newest MaxMissingRanges ranges, so 5's range is forgotten. A retry of 5 (its first attempt reached the stream but
        // the record was lost, or is still on its way) used to be judged "seen": a 200 for rows never applied. It is
        // unknowable now: a 409.
        const int More = ProducerWindows.MaxMissingRanges + 8;
        const long Last = 5 + (More * 10) + 2_000;
        var w = new ProducerWindows();
        var gaps = new HashSet<long> { 5 };
        for (var g = 1; g <= More; g++)
        {
            gaps.Add(5 + (g * 10));
        }

        for (var s = 1L; s <= Last; s++)
        {
            if (!gaps.Contains(s))
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9]));
        Assert.Equal(ModelStateCodec.CurrentVersion, stored.FormatVersion);
        foreach (var windows in new[] { w, stored.Windows })
        {
            Assert.Equal(RetryVerdict.Unknowable, windows.Judge("svc", 5));
            Assert.Equal(RetryVerdict.Unknowable, windows.Judge("svc", 6)); // applied, but in the forgotten stretch: cannot tell
            Assert.Equal(RetryVerdict.New, windows.Judge("svc", 5 + (More * 10))); // a gap still kept
            Assert.Equal(RetryVerdict.Seen, windows.Judge("svc", 5 + (More * 10) + 1)); // above every forgotten range: applied
            Assert.Equal(RetryVerdict.Seen, windows.Judge("svc", Last - 10)); // inside the window
        }
    }

    [Fact]
    public void Decode_Version3WithTheFullNumberOfRanges_TreatsWhatLiesBelowThemAsForgotten()
    {
        // A build that did not record forgotten ranges wrote version 3; with all 32 ranges kept it may have dropped older ones.
        var w = new ProducerWindows();
        var gaps = Enumerable.Range(1, ProducerWindows.MaxMissingRanges).Select(g => 100L + (g * 10)).ToHashSet();
        for (var s = 1; s <= 3_000; s++)
        {
            if (!gaps.Contains(s))
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        var bytes = ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9], ModelStateCodec.MissingRangesVersion);
        Assert.Equal(ModelStateCodec.MissingRangesVersion, ModelStateCodec.Decode(bytes).FormatVersion);
        Assert.Equal(RetryVerdict.Seen, w.Judge("svc", 50)); // this build knows nothing was forgotten

        var decoded = ModelStateCodec.Decode(bytes).Windows;
        Assert.Equal(RetryVerdict.Unknowable, decoded.Judge("svc", 50));
        Assert.Equal(RetryVerdict.New, decoded.Judge("svc", 110));
        Assert.Equal(RetryVerdict.Seen, decoded.Judge("svc", 111));
    }

    /// <summary>
    /// The hole the "32 ranges kept" test above left: a version-3 writer forgot a range when it had 33, then a late record
    /// filled one of the rest, so it wrote 31 ranges and no sign of what it forgot. Read as "nothing forgotten", a retry of the
    /// forgotten gap was "seen": a 200 for rows never applied.
    /// </summary>
    [Fact]
    public void Decode_Version3WithFewerRangesAfterOneWasForgotten_StillTreatsWhatLiesBelowThemAsForgotten()
    {
        var w = new ProducerWindows();
        // Every gap leaves the window (sequences run 2,000 past the last one), one more than are kept.
        var gaps = Enumerable.Range(0, ProducerWindows.MaxMissingRanges + 1).Select(g => 100L + (g * 10)).ToHashSet();
        for (var s = 1L; s <= gaps.Max() + 2_000; s++)
        {
            if (!gaps.Contains(s))
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        Assert.True(w.TryAccept("svc", 200, 1)); // a late record: one kept range less
        var decoded = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9], ModelStateCodec.MissingRangesVersion)).Windows;

        Assert.Equal(RetryVerdict.Unknowable, decoded.Judge("svc", 100)); // forgotten by the writer
        Assert.Equal(RetryVerdict.New, decoded.Judge("svc", 110));
        Assert.Equal(RetryVerdict.Seen, decoded.Judge("svc", 111));
    }

    /// <summary>
    /// A version-2 state says nothing of sequences that left a window unapplied (written by builds that dropped them, and by
    /// later builds whenever no range was kept at that moment): below the window nothing can be judged "seen".
    /// </summary>
    [Fact]
    public void Decode_Version2_TreatsWhatLiesBelowTheWindowAsForgotten_InsideTheWindowTheBitsStillTell()
    {
        var w = new ProducerWindows();
        for (var s = 1; s <= 3_000; s++)
        {
            if (s is not (50 or 2_900))
            {
                Assert.True(w.TryAccept("svc", s, 1));
            }
        }

        var decoded = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9], ModelStateCodec.WindowsVersion)).Windows;

        Assert.Equal(RetryVerdict.Unknowable, decoded.Judge("svc", 50));
        Assert.Equal(RetryVerdict.Unknowable, decoded.Judge("svc", 51));
        Assert.Equal(RetryVerdict.New, decoded.Judge("svc", 2_900));
        Assert.Equal(RetryVerdict.Seen, decoded.Judge("svc", 2_901));
    }

    /// <summary>
    /// A version-4 state kept at most 32 windows and evicted one whenever a 33rd producer came: with 32 it may have forgotten one
    /// (read as evicted, so retries an evicted window could have answered are unknowable), with fewer it forgot none. It stored
    /// no record times: its windows read as idle, replaceable first, as that build would have replaced them.
    /// </summary>
    [Fact]
    public void Decode_Version4_FullReadsAsEvicted_ItsWindowsIdle()
    {
        foreach (var producers in new[] { 31, 32 })
        {
            var w = new ProducerWindows();
            for (var p = 0; p < producers; p++)
            {
                Assert.True(w.TryAccept($"svc-{p}", 1, 1));
            }

            var decoded = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9], ModelStateCodec.ForgottenRangesVersion));
            Assert.Equal(ModelStateCodec.ForgottenRangesVersion, decoded.FormatVersion);
            Assert.Equal(producers == 32, decoded.Windows.Evicted);
            Assert.Equal(producers == 32 ? RetryVerdict.Unknowable : RetryVerdict.New, decoded.Windows.Judge("never-seen", 1));
            Assert.All(decoded.Windows.All, x => Assert.Equal(0, x.LastRecordAt));
        }
    }

    /// <summary>The current version keeps each window's last record time and the evicted mark; a state naming one producer twice, or with unknown flags, is refused.</summary>
    [Fact]
    public void EncodeDecode_CurrentVersion_KeepsRecordTimesAndTheEvictedMark_RefusesDuplicatesAndUnknownFlags()
    {
        var w = new ProducerWindows();
        var later = T0 + TimeSpan.FromDays(8).Ticks;
        for (var p = 0; p < ProducerWindows.RecentProducers; p++)
        {
            Assert.True(w.TryAccept($"svc-{p}", 1, 1));
        }

        Assert.True(w.TryAccept("svc-1", 2, 1, later));
        Assert.True(w.TryAccept("svc-new", 1, 1, later)); // replaces svc-0

        var bytes = ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9]);
        var decoded = ModelStateCodec.Decode(bytes).Windows;
        Assert.True(decoded.Evicted);
        Assert.Equal(
            w.All.ToDictionary(x => x.ProducerId, x => x.LastRecordAt),
            decoded.All.ToDictionary(x => x.ProducerId, x => x.LastRecordAt));
        Assert.Equal(later, decoded.All.Single(x => x.ProducerId == "svc-1").LastRecordAt);

        var flagged = (byte[])bytes.Clone();
        flagged[7] = 2;
        Assert.Contains("flags", Assert.Throws<InvalidDataException>(() => ModelStateCodec.Decode(flagged)).Message);

        var twice = new ProducerWindows();
        Assert.True(twice.TryAccept("svc-a", 1, 1));
        Assert.True(twice.TryAccept("svc-b", 1, 1));
        var duplicated = ModelStateCodec.Encode(SnapshotReason.Policy, 0, twice, [9]);
        var b = System.Text.Encoding.UTF8.GetBytes("svc-b");
        var at = duplicated.AsSpan().LastIndexOf(b);
        System.Text.Encoding.UTF8.GetBytes("svc-a").CopyTo(duplicated, at);
        Assert.Contains("two windows", Assert.Throws<InvalidDataException>(() => ModelStateCodec.Decode(duplicated)).Message);
    }

    /// <summary>Every state is written in the current version, also with no range kept or forgotten: nothing of it reads as forgotten.</summary>
    [Fact]
    public void Encode_NothingMissing_WritesTheCurrentVersion_BelowTheWindowStaysSeen()
    {
        var w = new ProducerWindows();
        for (var s = 1; s <= 3_000; s++)
        {
            Assert.True(w.TryAccept("svc", s, 1));
        }

        var stored = ModelStateCodec.Decode(ModelStateCodec.Encode(SnapshotReason.Policy, 0, w, [9]));

        Assert.Equal(ModelStateCodec.CurrentVersion, stored.FormatVersion);
        Assert.Equal(RetryVerdict.Seen, stored.Windows.Judge("svc", 50));
    }
}

/// <summary>Records that arrive at <see cref="ProducerWindowsTests.T0"/>, for tests where time plays no part.</summary>
internal static class ProducerWindowsTestClock
{
    public static bool TryAccept(this ProducerWindows windows, string producerId, long sequence, int rows) =>
        windows.TryAccept(producerId, sequence, rows, ProducerWindowsTests.T0);
}
