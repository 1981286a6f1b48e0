using System.Runtime.InteropServices;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// What the online mixture does by itself on a drift (<see cref="OnlineGaussianMixture.DriftsDetected"/>), for the online
/// HMM, which has no detector of its own: a Page–Hinkley test on every row's prequential loss −log p(x_n | x_1..n−1); on an
/// alarm the rows from the alarm on are collected, and once <see cref="OnlineHmmOptions.DefaultBufferSize"/> of them have
/// arrived Baum–Welch refits the older four fifths (fresh restarts, and a warm start from the current parameters); the
/// refit is adopted (<see cref="OnlineGaussianHmm.Adopt"/>, which keeps the step-size position) only when it is not
/// degenerate and explains the newest fifth, held out as one stretch of the sequence, better by
/// <see cref="AdoptionMargin"/> nats/row. After a false alarm the current parameters, backed by far more rows, win and stay.
/// The states whose regimes those rows do not show are kept as they were (<see cref="HmmStateKeeping"/>, as the service's
/// refits do; docs/models-stay-right.md §20).
/// </summary>
/// <remarks>Deterministic: the refits are seeded from the seed and the alarm count, and the whole watch round-trips through the state file.</remarks>
internal sealed class HmmDriftWatch
{
    /// <summary>Nats per held-out row a refit must gain to replace the recursion (the mixture's margin).</summary>
    public const double AdoptionMargin = 0.01;

    /// <summary>Restarts of a refit from scratch (those of the stream's first fit).</summary>
    public const int RefitRestarts = 2;

    private const string Magic = "EMSD";
    // 2: the detector tests the rows' surprise instead of their raw loss; a version-1 detector learned the raw loss's level,
    // so it is replaced by a fresh one on reading (the counts and collected rows are kept).
    private const int Version = 2;

    private readonly ulong _seed;
    private PageHinkley _detector;
    private List<double>? _collected;

    public HmmDriftWatch(ulong seed)
        : this(seed, new PageHinkley())
    {
    }

    private HmmDriftWatch(ulong seed, PageHinkley detector)
    {
        _seed = seed;
        _detector = detector;
    }

    /// <summary>Alarms so far.</summary>
    public long Drifts { get; private set; }

    /// <summary>Refits adopted after an alarm.</summary>
    public long Refits { get; private set; }

    /// <summary>Observation number (1-based, as <see cref="OnlineGaussianHmm.Observations"/>) of the last alarm, or −1.</summary>
    public long LastDriftObservation { get; private set; } = -1;

    /// <summary>
    /// Watches the row <paramref name="hmm"/> has just absorbed, whose log predictive density it returned. True when the
    /// loss raised an alarm on this row.
    /// </summary>
    public bool Observe(OnlineGaussianHmm hmm, ReadOnlySpan<double> row, double logPredictive)
    {
        if (_collected is null)
        {
            // The row's surprise, not its raw loss (see OnlineGaussianHmm.LastExpectedLoss): a wide regime that lasts is no drift.
            if (!_detector.Add(-logPredictive - hmm.LastExpectedLoss))
            {
                return false;
            }

            Drifts++;
            LastDriftObservation = hmm.Observations;
            _detector.Reset();
            _collected = new List<double>(OnlineHmmOptions.DefaultBufferSize * row.Length);
            _collected.AddRange(row);
            return true;
        }

        _collected.AddRange(row);
        if (_collected.Count / row.Length >= OnlineHmmOptions.DefaultBufferSize)
        {
            Recover(hmm);
        }

        return false;
    }

    private void Recover(OnlineGaussianHmm hmm)
    {
        var d = hmm.Dimension;
        var all = CollectionsMarshal.AsSpan(_collected).ToArray();
        _collected = null;
        var n = all.Length / d;
        var fitRows = n - Math.Max(1, n / 5);
        if (fitRows < Math.Max(2, hmm.States) || hmm.Model is not { } current)
        {
            return;
        }

        // Glitches moved to the edge of the rest, as for the service's refits.
        var (fitData, held) = InfluenceBound.SplitWithoutGlitches(all, d, fitRows);
        var options = new HmmFitOptions
        {
            States = hmm.States,
            Covariance = hmm.CovarianceType,
            Restarts = RefitRestarts,
            Seed = unchecked(_seed + (ulong)Drifts),
        };
        try
        {
            // Each fit on its own (FitCandidates): EM from the model at the old place can fail after a far jump (1e10 σ did).
            // The states whose regimes the post-change rows do not show are kept (HmmStateKeeping, as the service's refits
            // do): a fit of K states on rows of one regime split it, and the other regimes were forgotten.
            var (candidate, kept) = FitCandidates.Run(() => GaussianHmmEM.Fit(fitData, options), () => GaussianHmmEM.Fit(fitData, options with { WarmStart = current }))
                .Results
                .Select(f => (Fit: f, Keep: HmmStateKeeping.KeepAbsent(current, f.Model, fitData)))
                .Where(c => Degeneracy.Check(c.Keep.Model, fitData, c.Keep.Kept) is null)
                .OrderByDescending(c => c.Fit.MeanLogLikelihood)
                .Select(c => c.Keep)
                .FirstOrDefault();
            if (candidate is null || !(candidate.Score(held) > current.Score(held) + AdoptionMargin))
            {
                return;
            }

            if (kept is not null)
            {
                hmm.AdoptParameters(candidate, new DataMatrix(all, n, d));
            }
            else
            {
                hmm.Adopt(candidate, new DataMatrix(all, n, d));
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Rows the batch fit cannot use (a column never observed, a singular fit): keep the recursion as it is.
            return;
        }

        Refits++;
    }

    /// <summary>The estimator's state followed by the watch's, for --save-state.</summary>
    public byte[] Save(OnlineGaussianHmm hmm)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(Magic.ToCharArray());
            w.Write(Version);
            var state = hmm.SaveState();
            w.Write(state.Length);
            w.Write(state);
            var detector = _detector.Save();
            w.Write(detector.Length);
            w.Write(detector);
            w.Write(Drifts);
            w.Write(Refits);
            w.Write(LastDriftObservation);
            w.Write(_collected?.Count ?? -1);
            foreach (var v in _collected ?? [])
            {
                w.Write(v);
            }
        }

        return stream.ToArray();
    }

    /// <summary>
    /// Reads what <see cref="Save"/> wrote; a bare estimator state (written before the HMM had a drift watch) gets a fresh
    /// watch. <paramref name="seed"/> seeds the refits from here on.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an HMM state (also FormatException, ArgumentException or EndOfStreamException from the parts).</exception>
    public static (OnlineGaussianHmm Hmm, HmmDriftWatch Watch) Restore(byte[] state, ulong seed)
    {
        if (state.Length < Magic.Length || !state.AsSpan(0, Magic.Length).SequenceEqual("EMSD"u8))
        {
            return (OnlineGaussianHmm.RestoreState(state), new HmmDriftWatch(seed));
        }

        using var r = new BinaryReader(new MemoryStream(state, writable: false));
        r.ReadBytes(Magic.Length);
        var version = r.ReadInt32();
        if (version is < 1 or > Version)
        {
            throw new InvalidDataException($"unsupported version {version} of the stream state (this build reads 1 to {Version})");
        }

        var hmm = OnlineGaussianHmm.RestoreState(ReadPart(r, "estimator"));
        var detector = PageHinkley.Restore(ReadPart(r, "drift detector"));
        if (version < 2)
        {
            detector.Reset();
        }

        var watch = new HmmDriftWatch(seed, detector)
        {
            Drifts = r.ReadInt64(),
            Refits = r.ReadInt64(),
            LastDriftObservation = r.ReadInt64(),
        };
        var collected = r.ReadInt32();
        if (collected < -1 || collected > (r.BaseStream.Length - r.BaseStream.Position) / sizeof(double) || (collected > 0 && collected % hmm.Dimension != 0))
        {
            throw new InvalidDataException("the stream state's post-drift rows are truncated or corrupted");
        }

        if (collected >= 0)
        {
            watch._collected = new List<double>(Math.Max(collected, OnlineHmmOptions.DefaultBufferSize * hmm.Dimension));
            for (var i = 0; i < collected; i++)
            {
                watch._collected.Add(r.ReadDouble());
            }
        }

        if (r.BaseStream.Position != r.BaseStream.Length)
        {
            throw new InvalidDataException("the stream state has bytes after its end");
        }

        return (hmm, watch);
    }

    private static byte[] ReadPart(BinaryReader r, string name)
    {
        var length = r.ReadInt32();
        if (length < 0 || length > r.BaseStream.Length - r.BaseStream.Position)
        {
            throw new InvalidDataException($"the stream state's {name} is truncated");
        }

        return r.ReadBytes(length);
    }
}
