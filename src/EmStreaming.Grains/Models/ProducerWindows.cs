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
/// Also counts, per producer, the rows of the observation records it accepted: the service subtracts that from the rows
/// it appended to get the rows still pending. At most <see cref="MaxProducers"/> producers are remembered (least
/// recently used evicted): a model sees one producer per server process run plus external producers.
/// </remarks>
internal sealed class ProducerWindows
{
    public const int WindowBits = 1_024;
    public const int MaxProducers = 32;

    /// <summary>
    /// Longest producer id kept (characters): the stored state writes an id's UTF-8 length in 16 bits. A record whose producer
    /// id is null or longer has no identity: it is never accepted (like a sequence below 1).
    /// </summary>
    public const int MaxProducerIdLength = 1_024;

    /// <summary>Ranges of sequences that left a window unapplied, kept per producer (the oldest forgotten: then old, as below the window).</summary>
    public const int MaxMissingRanges = 32;
    private const int Words = WindowBits / 64;

    private readonly List<Window> _windows = [];
    private long _clock;

    public int Count => _windows.Count;

    public IEnumerable<Window> All => _windows;

    /// <summary>
    /// True when (<paramref name="producerId"/>, <paramref name="sequence"/>) was not seen: marks it seen and counts
    /// <paramref name="rows"/>. False for a duplicate (or a sequence below 1, or no valid producer id).
    /// </summary>
    public bool TryAccept(string producerId, long sequence, int rows)
    {
        if (sequence < 1 || !IsIdentity(producerId))
        {
            return false;
        }

        var w = Find(producerId);
        if (w is not null)
        {
            w.LastUsed = ++_clock;
        }

        if (!IsNew(w, sequence))
        {
            return false;
        }

        if (w is null)
        {
            w = new Window(producerId) { LastUsed = ++_clock };
            if (_windows.Count == MaxProducers)
            {
                _windows.RemoveAt(IndexOfLeastRecent());
            }

            _windows.Add(w);
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
            return w is null && _windows.Count == MaxProducers ? RetryVerdict.Unknowable : RetryVerdict.New;
        }

        if (IsNew(w, sequence))
        {
            return RetryVerdict.New;
        }

        // Below the window and not kept as missing: applied, unless it lies where missing ranges were forgotten (more than
        // MaxMissingRanges of them): then it may be a record that never arrived, and "seen" would answer a retry whose rows
        // were never applied.
        var below = w.Highest - sequence >= WindowBits;
        return below && (sequence <= w.ForgottenBelow || _windows.Count == MaxProducers) ? RetryVerdict.Unknowable : RetryVerdict.Seen;
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

    public void Clear() => _windows.Clear();

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
        var copy = new ProducerWindows { _clock = _clock };
        foreach (var w in _windows)
        {
            var c = new Window(w.ProducerId) { Highest = w.Highest, Rows = w.Rows, LastUsed = w.LastUsed, ForgottenBelow = w.ForgottenBelow };
            w.Bitmap.CopyTo(c.Bitmap, 0);
            c.Missing.AddRange(w.Missing);
            copy._windows.Add(c);
        }

        return copy;
    }

    internal void Restore(string producerId, long highest, long rows, ReadOnlySpan<ulong> bitmap, IEnumerable<(long From, long To)>? missing = null, long forgottenBelow = 0)
    {
        var w = new Window(producerId) { Highest = highest, Rows = rows, LastUsed = ++_clock, ForgottenBelow = forgottenBelow };
        bitmap.CopyTo(w.Bitmap);
        w.Missing.AddRange(missing ?? []);
        _windows.Add(w);
    }

    private Window? Find(string producerId)
    {
        foreach (var w in _windows)
        {
            if (w.ProducerId == producerId)
            {
                return w;
            }
        }

        return null;
    }

    private int IndexOfLeastRecent()
    {
        var index = 0;
        for (var i = 1; i < _windows.Count; i++)
        {
            if (_windows[i].LastUsed < _windows[index].LastUsed)
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
