namespace EmStreaming.Grains.Models;

/// <summary>
/// Per-producer anti-replay windows (IPsec style): the highest sequence applied and a 1,024-bit bitmap of the sequences
/// just below it. A sequence above the highest slides the window; one inside it is new only if its bit is clear; one
/// below the window is old (a duplicate) unless it left the window unapplied: such sequences are kept as ranges
/// (<see cref="MaxMissingRanges"/> at most; the oldest forgotten, and <see cref="Window.ForgottenBelow"/> remembers up to where), so a record delivered after more than a window of its
/// producer's later ones (an Azure Queue message held by a killed silo until its visibility timeout) is still applied. Kept in the grain's persisted state, atomically with the model, so a record
/// redelivered after a crash (streams are at-least-once and their sequence tokens restart with the reader) is skipped
/// exactly when its effect is already in the saved model.
/// </summary>
/// <remarks>
/// <para>Also counts, per producer, the rows of the observation records it accepted: the service subtracts that from the rows
/// it appended to get the rows still pending.</para>
/// <para>A model sees one producer per server process run (every silo of a cluster, and again after each restart) plus
/// external producers. Forgetting a producer's window is safe only once none of its records can arrive any more: a record
/// of a forgotten producer would start a new window (applied twice if it was a redelivery) or fall below one that
/// restarted (skipped, if it was late). So beyond <see cref="RecentProducers"/> windows a new producer replaces the least
/// recently used window that has seen no record for <see cref="IdleHorizon"/> (Azure Queue's default message
/// time-to-live: a queue holds no message of such a producer); while every window is younger, the windows grow, up to
/// <see cref="MaxProducers"/> (a cluster of that many silos appending to one model). Only past that is a window still in
/// use evicted (<see cref="ActiveEvictions"/>, logged by the grain). Once any window was forgotten,
/// <see cref="Judge"/> answers <see cref="RetryVerdict.Unknowable"/> where a forgotten window could have answered.</para>
/// </remarks>
internal sealed class ProducerWindows
{
    public const int WindowBits = 1_024;

    /// <summary>Windows kept whatever their age; beyond this many, a new producer replaces one idle for <see cref="IdleHorizon"/>.</summary>
    public const int RecentProducers = 32;

    /// <summary>Most windows kept: past this many, the least recently used is evicted even if its producer may still deliver.</summary>
    public const int MaxProducers = 1_024;

    /// <summary>How long a window must have seen no record before a new producer may replace it (Azure Queue's default message time-to-live).</summary>
    public static readonly TimeSpan IdleHorizon = TimeSpan.FromDays(7);

    /// <summary>
    /// Longest producer id kept (characters): the stored state writes an id's UTF-8 length in 16 bits. A record whose producer
    /// id is null or longer has no identity: it is never accepted (like a sequence below 1).
    /// </summary>
    public const int MaxProducerIdLength = 1_024;

    /// <summary>
    /// Ranges of sequences that left a window unapplied, kept per producer (the oldest forgotten: then old, as below the window).
    /// 16 bytes each in the stored state, only while they are open: 256 keep a record late by more than a window in each of
    /// 256 separate gaps of one producer (Azure Queue redelivers a dead silo's messages after its visibility timeout, in no
    /// order), while a model's state stays bounded (4 MB for the most windows, <see cref="MaxProducers"/>, all full).
    /// </summary>
    public const int MaxMissingRanges = 256;
    private const int Words = WindowBits / 64;

    private readonly List<Window> _windows = [];
    private readonly Dictionary<string, Window> _byId = new(StringComparer.Ordinal);
    private long _clock;

    public int Count => _windows.Count;

    /// <summary>
    /// Whether a window was ever forgotten (evicted). Stored: a forgotten producer's records, or its records below a window
    /// it restarted, can no longer be told apart from new ones, so <see cref="Judge"/> answers "unknowable" there.
    /// </summary>
    public bool Evicted { get; private set; }

    /// <summary>Windows evicted while their producer may still deliver (past <see cref="MaxProducers"/>), since this object was made; not stored.</summary>
    public int ActiveEvictions { get; private set; }

    public IEnumerable<Window> All => _windows;

    /// <summary>
    /// True when (<paramref name="producerId"/>, <paramref name="sequence"/>) was not seen: marks it seen and counts
    /// <paramref name="rows"/>. False for a duplicate (or a sequence below 1, or no valid producer id). <paramref name="now"/>
    /// (UTC ticks, the consumer's clock) dates the producer's window for <see cref="IdleHorizon"/>.
    /// </summary>
    public bool TryAccept(string producerId, long sequence, int rows, long now)
    {
        if (sequence < 1 || !IsIdentity(producerId))
        {
            return false;
        }

        var w = Find(producerId);
        if (w is not null)
        {
            w.LastUsed = ++_clock;
            w.LastRecordAt = Math.Max(w.LastRecordAt, now); // a duplicate too: the producer's records still arrive
        }

        if (!IsNew(w, sequence))
        {
            return false;
        }

        if (w is null)
        {
            w = new Window(producerId) { LastUsed = ++_clock, LastRecordAt = now };
            MakeRoom(now);
            Add(w);
        }

        if (w.Highest == 0)
        {
            // A new window: what lies below it was never tracked (old, as before this producer was seen or after it was forgotten).
            w.Highest = sequence;
            w.Bitmap[0] |= 1UL;
        }
        else if (sequence > w.Highest)
        {
            KeepMissing(w, sequence);
            Shift(w.Bitmap, sequence - w.Highest);
            w.Highest = sequence;
            w.Bitmap[0] |= 1UL;
        }
        else if (w.Highest - sequence < WindowBits)
        {
            var offset = w.Highest - sequence;
            w.Bitmap[(int)(offset / 64)] |= 1UL << (int)(offset % 64);
        }
        else
        {
            RemoveMissing(w, sequence);
        }

        w.Rows += rows;
        return true;
    }

    /// <summary>Whether <see cref="TryAccept"/> would accept this record now (it changes nothing).</summary>
    public bool WouldAccept(string producerId, long sequence) => sequence >= 1 && IsIdentity(producerId) && IsNew(Find(producerId), sequence);

    /// <summary>
    /// What the windows can tell of a record identity an idempotent retry would append again: <see cref="RetryVerdict.New"/>
    /// (never applied: appending it applies it once, whichever copy arrives first), <see cref="RetryVerdict.Seen"/> (applied
    /// or its generation's inert record marked), or <see cref="RetryVerdict.Unknowable"/> when what would tell may have
    /// been forgotten: the model has <see cref="MaxProducers"/> producers, so some window may have been evicted (an unknown
    /// producer may be a forgotten one, and a known one's window may have restarted above the sequence).
    /// </summary>
    public RetryVerdict Judge(string producerId, long sequence)
    {
        if (sequence < 1 || !IsIdentity(producerId))
        {
            return RetryVerdict.Unknowable;
        }

        var w = Find(producerId);
        if (w is null || sequence > w.Highest)
        {
            return w is null && Evicted ? RetryVerdict.Unknowable : RetryVerdict.New;
        }

        if (IsNew(w, sequence))
        {
            return RetryVerdict.New;
        }

        // Below the window and not kept as missing: applied, unless it lies where missing ranges were forgotten (more than
        // MaxMissingRanges of them): then it may be a record that never arrived, and "seen" would answer a retry whose rows
        // were never applied.
        var below = w.Highest - sequence >= WindowBits;
        return below && (sequence <= w.ForgottenBelow || Evicted) ? RetryVerdict.Unknowable : RetryVerdict.Seen;
    }

    /// <summary>Whether a producer id can be kept in a window (and stored): not null, at most <see cref="MaxProducerIdLength"/> characters.</summary>
    public static bool IsIdentity(string? producerId) => producerId is { Length: <= MaxProducerIdLength };

    /// <summary>A sequence is new above the window's highest, or inside the window with its bit clear; below the window it is old.</summary>
    private static bool IsNew(Window? w, long sequence)
    {
        if (w is null || sequence > w.Highest)
        {
            return true;
        }

        var offset = w.Highest - sequence;
        return offset < WindowBits ? (w.Bitmap[(int)(offset / 64)] & (1UL << (int)(offset % 64))) == 0 : IndexOfMissing(w, sequence) >= 0;
    }

    /// <summary>Before the window slides up to <paramref name="highest"/>: the sequences leaving it unapplied (clear bits, and those jumped over) are kept as missing.</summary>
    private static void KeepMissing(Window w, long highest)
    {
        var leaveTo = highest - WindowBits; // the highest sequence that leaves the window
        var from = Math.Max(1, w.Highest - WindowBits + 1);
        for (var sequence = from; sequence <= Math.Min(leaveTo, w.Highest); sequence++)
        {
            var offset = w.Highest - sequence;
            if ((w.Bitmap[(int)(offset / 64)] & (1UL << (int)(offset % 64))) == 0)
            {
                AddMissing(w, sequence, sequence);
            }
        }

        if (leaveTo > w.Highest)
        {
            AddMissing(w, Math.Max(from, w.Highest + 1), leaveTo);
        }
    }

    /// <summary>Appends a range above every kept one (sequences leave the window in order), merging a contiguous one.</summary>
    private static void AddMissing(Window w, long from, long to)
    {
        if (w.Missing is [.., var last] && last.To + 1 == from)
        {
            w.Missing[^1] = (last.From, to);
            return;
        }

        w.Missing.Add((from, to));
        if (w.Missing.Count > MaxMissingRanges)
        {
            Forget(w, 0);
        }
    }

    /// <summary>Drops a kept range (too many): its sequences' fate is no longer known (<see cref="Window.ForgottenBelow"/>).</summary>
    private static void Forget(Window w, int index)
    {
        w.ForgottenBelow = Math.Max(w.ForgottenBelow, w.Missing[index].To);
        w.Missing.RemoveAt(index);
    }

    private static int IndexOfMissing(Window w, long sequence)
    {
        for (var i = 0; i < w.Missing.Count; i++)
        {
            if (w.Missing[i].From <= sequence && sequence <= w.Missing[i].To)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A missing sequence was applied: no longer missing.</summary>
    private static void RemoveMissing(Window w, long sequence)
    {
        var i = IndexOfMissing(w, sequence);
        var (from, to) = w.Missing[i];
        if (from == to)
        {
            w.Missing.RemoveAt(i);
        }
        else if (sequence == from)
        {
            w.Missing[i] = (from + 1, to);
        }
        else if (sequence == to)
        {
            w.Missing[i] = (from, to - 1);
        }
        else
        {
            w.Missing[i] = (from, sequence - 1);
            w.Missing.Insert(i + 1, (sequence + 1, to));
            if (w.Missing.Count > MaxMissingRanges)
            {
                Forget(w, 0);
            }
        }
    }

    /// <summary>Rows accepted from <paramref name="producerId"/> (0 when unknown).</summary>
    public long RowsOf(string producerId) => Find(producerId)?.Rows ?? 0;

    public void Clear()
    {
        _windows.Clear();
        _byId.Clear();
        Evicted = false;
    }

    /// <summary>The model was reset to a new generation: the rows counted so far belong to the old one (the sequences stay seen).</summary>
    public void ResetRows()
    {
        foreach (var w in _windows)
        {
            w.Rows = 0;
        }
    }

    /// <summary>An independent copy (the windows a state write stores, read by other calls while this one changes).</summary>
    public ProducerWindows Clone()
    {
        var copy = new ProducerWindows();
        copy.ReplaceWith(this);
        return copy;
    }

    /// <summary>Makes these windows an independent copy of <paramref name="source"/>'s, every field of them (a restore from a stored state).</summary>
    public void ReplaceWith(ProducerWindows source)
    {
        _windows.Clear();
        _byId.Clear();
        _clock = source._clock;
        Evicted = source.Evicted;
        foreach (var w in source._windows)
        {
            var c = new Window(w.ProducerId) { Highest = w.Highest, Rows = w.Rows, LastUsed = w.LastUsed, ForgottenBelow = w.ForgottenBelow, LastRecordAt = w.LastRecordAt };
            w.Bitmap.CopyTo(c.Bitmap, 0);
            c.Missing.AddRange(w.Missing);
            Add(c);
        }
    }

    /// <summary>Adds a stored window (false, nothing added: this producer has one already).</summary>
    internal bool TryRestore(
        string producerId, long highest, long rows, ReadOnlySpan<ulong> bitmap, IEnumerable<(long From, long To)>? missing = null, long forgottenBelow = 0, long lastRecordAt = 0)
    {
        if (_byId.ContainsKey(producerId))
        {
            return false;
        }

        var w = new Window(producerId) { Highest = highest, Rows = rows, LastUsed = ++_clock, ForgottenBelow = forgottenBelow, LastRecordAt = lastRecordAt };
        bitmap.CopyTo(w.Bitmap);
        w.Missing.AddRange(missing ?? []);
        Add(w);
        return true;
    }

    /// <summary>Restores the stored mark that some window was forgotten.</summary>
    internal void RestoreEvicted(bool evicted) => Evicted = evicted;

    private Window? Find(string producerId) => _byId.GetValueOrDefault(producerId);

    private void Add(Window w)
    {
        _windows.Add(w);
        _byId.Add(w.ProducerId, w);
    }

    /// <summary>Before a new producer's window is added: evicts one if there are too many (see the remarks).</summary>
    private void MakeRoom(long now)
    {
        if (_windows.Count < RecentProducers)
        {
            return;
        }

        var idleBefore = now - IdleHorizon.Ticks;
        var index = IndexOfLeastRecent(w => w.LastRecordAt < idleBefore);
        if (index < 0 && _windows.Count < MaxProducers)
        {
            return; // every window may still see records: keep them all
        }

        if (index < 0)
        {
            index = IndexOfLeastRecent(_ => true);
            ActiveEvictions++;
        }

        _byId.Remove(_windows[index].ProducerId);
        _windows.RemoveAt(index);
        Evicted = true;
    }

    private int IndexOfLeastRecent(Func<Window, bool> eligible)
    {
        var index = -1;
        for (var i = 0; i < _windows.Count; i++)
        {
            if (eligible(_windows[i]) && (index < 0 || _windows[i].LastUsed < _windows[index].LastUsed))
            {
                index = i;
            }
        }

        return index;
    }

    /// <summary>Bit i stands for sequence Highest − i; sliding the window up by n moves every bit n places up.</summary>
    private static void Shift(ulong[] bitmap, long n)
    {
        if (n >= WindowBits)
        {
            Array.Clear(bitmap);
            return;
        }

        var words = (int)(n / 64);
        var bits = (int)(n % 64);
        for (var i = Words - 1; i >= 0; i--)
        {
            var source = i - words;
            var value = source >= 0 ? bitmap[source] << bits : 0;
            if (bits > 0 && source - 1 >= 0)
            {
                value |= bitmap[source - 1] >> (64 - bits);
            }

            bitmap[i] = value;
        }
    }

    internal sealed class Window(string producerId)
    {
        public string ProducerId { get; } = producerId;
        public long Highest { get; set; }
        public long Rows { get; set; }
        public long LastUsed { get; set; }
        public ulong[] Bitmap { get; } = new ulong[Words];

        /// <summary>Ranges (inclusive, ascending, disjoint) of sequences below the window that left it unapplied.</summary>
        public List<(long From, long To)> Missing { get; } = [];

        /// <summary>
        /// The highest sequence of a missing range that was forgotten (0: none): below the window, a sequence at or under it
        /// that is not in <see cref="Missing"/> was either applied or never arrived, and which one is not known.
        /// </summary>
        public long ForgottenBelow { get; set; }

        /// <summary>When a record of this producer last arrived (UTC ticks, the consumer's clock; 0: not known, as in states stored before it was kept).</summary>
        public long LastRecordAt { get; set; }
    }
}

/// <summary>See <see cref="ProducerWindows.Judge"/>.</summary>
[GenerateSerializer]
internal enum RetryVerdict
{
    /// <summary>Never applied: append it.</summary>
    New,

    /// <summary>Applied (or marked as an inert record of an older generation).</summary>
    Seen,

    /// <summary>The windows may have forgotten it.</summary>
    Unknowable,
}
