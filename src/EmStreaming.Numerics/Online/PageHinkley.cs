namespace EmStreaming.Numerics.Online;

/// <summary>
/// Page–Hinkley test (Page 1954; Hinkley 1971) for an abrupt increase of a model's prequential loss −log p(x_n | past),
/// one row at a time. The loss is standardized by its own running mean and standard deviation (Welford, since the last
/// reset), so the settings are in standard deviations and work in any unit and dimension; each standardized value is
/// clipped at <see cref="Clip"/> so a single outlier (an anomaly) cannot raise an alarm on its own. With z_n the clipped
/// standardized loss, the statistic is m_n = Σ (z_t − δ), and the test alarms when m_n − min_t m_t &gt; λ: a sustained rise
/// of the loss by more than δ standard deviations, accumulated over λ. The change point estimate is the row where the
/// minimum was reached. River's <c>drift.PageHinkley</c> is the same test on an unstandardized signal.
/// </summary>
/// <remarks>
/// Defaults: δ = 0.5, λ = 50, clip 5, 200 rows of learning after each reset. For a stationary, well-specified model the
/// standardized loss has mean 0 and unit variance, so the statistic is a random walk with drift −δ whose excursions above λ
/// have probability about exp(−2δλ) = e^−50 (no false alarm in practice; heavy tails are what the clip is for); a rise of Δ
/// standard deviations is detected after about λ / (Δ − δ) rows (100 rows for Δ = 1, 11 rows for a jump far beyond the clip).
/// Deterministic and allocation-free; the state round-trips through <see cref="WriteTo"/>/<see cref="ReadFrom"/>.
/// </remarks>
public sealed class PageHinkley
{
    /// <summary>Default <see cref="Delta"/> (standard deviations per row).</summary>
    public const double DefaultDelta = 0.5;

    /// <summary>Default <see cref="Lambda"/> (accumulated standard deviations).</summary>
    public const double DefaultLambda = 50;

    /// <summary>Default <see cref="Clip"/>.</summary>
    public const double DefaultClip = 5;

    /// <summary>Default <see cref="MinimumRows"/>.</summary>
    public const int DefaultMinimumRows = 200;

    private long _count;
    private double _mean;
    private double _m2;
    private double _cumulative;
    private double _minimum;
    private long _minimumAt;
    private long _rows;

    // The first RobustAfter losses after a reset, kept until the reference settles them (see Settle).
    private readonly double[] _first = new double[RobustAfter];

    // Restored from a state written before the first losses were kept, part-way through them: they cannot be settled.
    private bool _firstLost;

    /// <summary>Creates a detector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (δ ≥ 0, λ &gt; 0, clip &gt; 0, minimum rows ≥ 2).</exception>
    public PageHinkley(double delta = DefaultDelta, double lambda = DefaultLambda, double clip = DefaultClip, int minimumRows = DefaultMinimumRows)
    {
        if (!(delta >= 0) || !double.IsFinite(delta))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "delta must be a finite number ≥ 0");
        }

        if (!(lambda > 0) || !double.IsFinite(lambda))
        {
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be a positive finite number");
        }

        if (!(clip > 0) || !double.IsFinite(clip))
        {
            throw new ArgumentOutOfRangeException(nameof(clip), clip, "clip must be a positive finite number");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(minimumRows, 2);
        Delta = delta;
        Lambda = lambda;
        Clip = clip;
        MinimumRows = minimumRows;
    }

    /// <summary>δ: the rise of the standardized loss (standard deviations per row) that is tolerated.</summary>
    public double Delta { get; }

    /// <summary>λ: the alarm threshold on the accumulated rise.</summary>
    public double Lambda { get; }

    /// <summary>Standardized values are clipped to [−clip, clip].</summary>
    public double Clip { get; }

    /// <summary>Rows after a reset that only learn the loss's mean and spread (no test).</summary>
    public int MinimumRows { get; }

    /// <summary>Rows seen since the last reset.</summary>
    public long Rows => _rows;

    /// <summary>The current test statistic m_n − min m_t (≥ 0); an alarm fires when it exceeds <see cref="Lambda"/>.</summary>
    public double Statistic => _cumulative - _minimum;

    /// <summary>Rows since the last reset at which the change is estimated to have started (where the minimum was reached).</summary>
    public long ChangeRow => _minimumAt;

    /// <summary>
    /// Adds one row's loss −log p (NaN and −∞ are ignored; +∞, a row no component explains, counts as a clipped rise). Returns true on an alarm; the caller then acts and calls
    /// <see cref="Reset"/> (the detector keeps alarming until then).
    /// </summary>
    public bool Add(double loss)
    {
        // NaN carries no information; a row no component can explain at all (+∞) counts as the largest rise.
        if (double.IsNaN(loss) || double.IsNegativeInfinity(loss))
        {
            return false;
        }

        _rows++;
        var finite = double.IsFinite(loss);
        if (_count < MinimumRows)
        {
            if (finite)
            {
                Learn(loss);
            }

            return false;
        }

        var sd = Math.Sqrt(_m2 / _count);
        // A reference whose every loss was the same (a stuck sensor, identical rows) has no spread: any rise is then as large as
        // a rise can be, and any fall too. Taking such a row as no change (z = 0) left the detector blind for good, since
        // the clipped learning below could not give the reference a spread either.
        var z = !finite ? Clip : sd > 0 ? (loss - _mean) / sd : Clip * (loss.CompareTo(_mean));
        z = Math.Clamp(z, -Clip, Clip);
        _cumulative += z - Delta;
        if (_cumulative < _minimum)
        {
            _minimum = _cumulative;
            _minimumAt = _rows;
        }

        var alarm = _cumulative - _minimum > Lambda;

        // The reference mean and spread keep learning only from rows that do not look like a change in progress, so a slow
        // rise cannot drag the reference along with it.
        if (finite && !alarm && _cumulative - _minimum < Lambda / 4)
        {
            Learn(loss);
        }

        return alarm;
    }

    /// <summary>Forgets everything: the next <see cref="MinimumRows"/> rows learn the new loss level.</summary>
    public void Reset()
    {
        _count = 0;
        _mean = 0;
        _m2 = 0;
        _cumulative = 0;
        _minimum = 0;
        _minimumAt = 0;
        _rows = 0;
        _firstLost = false;
    }

    /// <summary>Rows after which the reference learns each loss clipped to within <see cref="Clip"/> of its own spread.</summary>
    private const int RobustAfter = 10;

    private void Learn(double loss)
    {
        // Clipped as the test clips it: one glitch reading's loss (10¹² for a reading 10⁶ σ away) learned whole would set the
        // reference spread near 10¹² / √n, and every later rise, a real change included, would standardize to about 0: one
        // glitch blinded the detector (a +30 jump then went 4,672 rows without an alarm, docs/models-stay-right.md §17).
        // A reference with no spread at all (every loss it learned was the same) has no scale to clip by: the first loss that
        // differs is learned whole and gives it one. Clipped to zero width, no later loss could (a stuck sensor right after a
        // reset left the detector blind after the sensor came back, docs/models-stay-right.md §18).
        if (_count < RobustAfter)
        {
            _first[_count] = loss;
        }
        else if (_m2 > 0)
        {
            var sd = Math.Sqrt(_m2 / _count);
            loss = Math.Clamp(loss, _mean - (Clip * sd), _mean + (Clip * sd));
        }

        Accumulate(loss);
        if (_count == RobustAfter && !_firstLost)
        {
            Settle();
        }
    }

    /// <summary>
    /// Once the reference has its first <see cref="RobustAfter"/> losses, learns them again clipped to within
    /// <see cref="Clip"/> robust spreads (1.4826 × the median absolute deviation) of their median. Until then there is no
    /// spread to clip by, and a glitch among them (a model's first rows after its warm-up fit, or after a drift refit)
    /// entered the reference whole and blinded the detector, as one anywhere did before docs/models-stay-right.md §17.
    /// With more than half of them identical (no robust spread) they stay as they are: the rare ones may be real.
    /// </summary>
    private void Settle()
    {
        Span<double> sorted = stackalloc double[RobustAfter];
        _first.CopyTo(sorted);
        sorted.Sort();
        var median = (sorted[(RobustAfter - 1) / 2] + sorted[RobustAfter / 2]) / 2;
        for (var i = 0; i < RobustAfter; i++)
        {
            sorted[i] = Math.Abs(_first[i] - median);
        }

        sorted.Sort();
        var spread = 1.4826 * (sorted[(RobustAfter - 1) / 2] + sorted[RobustAfter / 2]) / 2;
        if (!(spread > 0) || !double.IsFinite(spread))
        {
            return;
        }

        _count = 0;
        _mean = 0;
        _m2 = 0;
        foreach (var first in _first)
        {
            Accumulate(Math.Clamp(first, median - (Clip * spread), median + (Clip * spread)));
        }
    }

    /// <summary>One Welford step of the reference's mean and spread.</summary>
    private void Accumulate(double loss)
    {
        _count++;
        var delta = loss - _mean;
        _mean += delta / _count;
        _m2 += delta * (loss - _mean);
    }

    /// <summary>Appends the settings and state (doubles as raw bits).</summary>
    internal void WriteTo(StateWriter w)
    {
        w.WriteDouble(Delta);
        w.WriteDouble(Lambda);
        w.WriteDouble(Clip);
        w.WriteInt32(MinimumRows);
        w.WriteInt64(_count);
        w.WriteDouble(_mean);
        w.WriteDouble(_m2);
        w.WriteDouble(_cumulative);
        w.WriteDouble(_minimum);
        w.WriteInt64(_minimumAt);
        w.WriteInt64(_rows);
        w.WriteBoolean(_firstLost);
        w.WriteDoubles(_count < RobustAfter ? _first.AsSpan(0, (int)_count) : []);
    }

    /// <summary>Reads a detector written by <see cref="WriteTo"/>.</summary>
    /// <param name="r">The reader.</param>
    /// <param name="withFirst">The state keeps the first losses after a reset (Page–Hinkley state version 2, online GMM state
    /// version 4); an older one restored part-way through them leaves them as they were learned.</param>
    internal static PageHinkley ReadFrom(ref StateReader r, bool withFirst)
    {
        PageHinkley p;
        try
        {
            p = new PageHinkley(r.ReadDouble("drift.delta"), r.ReadDouble("drift.lambda"), r.ReadDouble("drift.clip"), r.ReadInt32("drift.minimumRows"));
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw r.Invalid("drift", e.Message);
        }

        p._count = r.ReadInt64("drift.count");
        p._mean = r.ReadDouble("drift.mean");
        p._m2 = r.ReadDouble("drift.m2");
        p._cumulative = r.ReadDouble("drift.cumulative");
        p._minimum = r.ReadDouble("drift.minimum");
        p._minimumAt = r.ReadInt64("drift.minimumAt");
        p._rows = r.ReadInt64("drift.rows");
        if (p._count < 0)
        {
            throw r.Invalid("drift.count", "is negative");
        }

        if (withFirst)
        {
            p._firstLost = r.ReadBoolean("drift.firstLost");
            var first = r.ReadDoubles("drift.first", p._count < RobustAfter ? (int)p._count : 0);
            first.CopyTo(p._first, 0);
        }
        else
        {
            p._firstLost = p._count < RobustAfter;
        }

        return p;
    }

    // Version 2 keeps the first losses after a reset (version 1 restores: see ReadFrom).
    private const ushort StateVersion = 2;

    /// <summary>Serializes the detector alone (for hosts that persist it beside an estimator).</summary>
    public byte[] Save()
    {
        var w = new StateWriter("EMPH", StateVersion, 128);
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Restores a detector saved by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a Page–Hinkley state.</exception>
    public static PageHinkley Restore(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, "EMPH", 1, StateVersion, "Page-Hinkley state");
        var p = ReadFrom(ref r, r.Version >= 2);
        r.EnsureEnd();
        return p;
    }
}
