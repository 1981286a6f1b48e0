using System.Diagnostics.CodeAnalysis;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// A Gaussian mixture learned from a stream by online EM (Cappé &amp; Moulines 2009) on the expected sufficient
/// statistics: each mini-batch of m rows (m ≥ 1) is scored and given responsibilities under the current
/// parameters, its mean statistic is blended in with the schedule's step, S ← (1 − γ) S + γ s̄_batch, and one
/// M-step (one Cholesky refresh) follows. Missing entries (NaN) are handled as in batch EM: marginal densities and
/// conditional expectations.
/// </summary>
/// <remarks>
/// <para>Lifecycle: <see cref="Create"/> (or <see cref="Restore"/>) → repeated <see cref="Update(ReadOnlySpan{double}, Span{double})"/>.
/// The first <see cref="OnlineGmmOptions.WarmUpObservations"/> rows are buffered and fitted by batch EM; until then
/// <see cref="IsWarmingUp"/> is true and parameter queries throw <see cref="ModelWarmingUpException"/> (or return false
/// from the TryGet members). While those rows leave a column with fewer than two observed values the fit waits, keeping
/// the newest rows (<see cref="WaitingForColumn"/>).</para>
/// <para>A batch is all-or-nothing: a bad row (wrong length, ±∞, no observed entry) or a batch that would make the
/// statistics overflow is rejected with an exception and leaves the estimator exactly as it was.</para>
/// <para>Not thread-safe: one caller at a time (an actor's turn). After the warm-up an update with a batch size seen
/// before allocates nothing.</para>
/// </remarks>
public sealed partial class OnlineGaussianMixture
{
    private readonly OnlineGmmOptions _options;
    private readonly int _d;
    private readonly int _k;
    private readonly CovarianceType _type;
    private readonly StepSizeSchedule _schedule;

    // Per-dimension covariance floor: RelativeRegCovar × each column's within-cluster scale over the warm-up rows (zeros until then).
    private readonly double[] _floor;

    private DeterministicRandom _rng;
    private long _observations;
    private long _batches;
    private long _reseeds;
    private double _lastMeanLogLikelihood = double.NaN;

    // Warm-up buffer; null once the first fit is done.
    private WarmUpBuffer? _warmUp;

    // Recursion state (null while warming up). The spare statistics and parameters receive the next values so that a
    // rejected batch leaves the committed ones untouched; a commit swaps the references.
    private GmmSufficientStatistics? _stats;
    private GmmSufficientStatistics? _spareStats;
    private GmmSufficientStatistics? _batchStats;
    private GmmParameters? _params;
    private GmmParameters? _spareParams;

    // Polyak–Ruppert average of the parameters (weights, means, covariances; factors refreshed after each update).
    private GmmParameters? _average;
    private bool _averaging;

    // Ring of recent rows and their log-densities when scored: candidates for re-seeding.
    private readonly double[] _recentRows;
    private readonly double[] _recentLogDensity;
    private int _recentCount;
    private int _recentNext;

    // Scratch, allocated once (batch-sized buffers grow to the largest batch seen).
    private readonly double[] _logDensity;
    private readonly double[] _logDensity2;
    private readonly double[] _responsibilities;
    private readonly double[] _rowScratch;
    private readonly bool[] _degenerate;
    private readonly int[] _allIndices;
    private readonly double[] _dd;
    private readonly double[] _dd2;
    private double[] _batchLogDensity = [];
    private double[] _batchSurprise = [];
    private bool _watching;
    private readonly double[] _normalizers;
    private double[]? _rangeLo;
    private double[]? _rangeHi;
    private double[] _boundedRows = [];
    private bool[] _used = [];
    private readonly double[] _shiftedMeans;

    private GaussianMixture? _view;

    private OnlineGaussianMixture(OnlineGmmOptions options, int dimension)
    {
        _options = options;
        _d = dimension;
        _k = options.Components;
        _type = options.Covariance;
        _schedule = options.StepSize;
        _rng = new DeterministicRandom(options.Seed);
        _floor = new double[dimension];
        _drift = options.DetectDrift ? new PageHinkley() : null;
        _recentRows = new double[options.RecentCapacity * dimension];
        _recentLogDensity = new double[options.RecentCapacity];
        _logDensity = new double[_k];
        _logDensity2 = new double[_k];
        _responsibilities = new double[_k];
        _normalizers = new double[_k];
        _rowScratch = new double[GmmParameters.RowScratchLength(dimension)];
        _degenerate = new bool[_k];
        _allIndices = Enumerable.Range(0, dimension).ToArray();
        _dd = new double[dimension * dimension];
        _dd2 = new double[dimension * dimension];
        _shiftedMeans = new double[_k * dimension];
    }

    /// <summary>Creates an estimator in its warming-up state.</summary>
    /// <param name="options">Settings (validated here).</param>
    /// <param name="dimension">Columns per row, d ≥ 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting or <paramref name="dimension"/> is out of range.</exception>
    public static OnlineGaussianMixture Create(OnlineGmmOptions options, int dimension)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        return new OnlineGaussianMixture(options, dimension) { _warmUp = new WarmUpBuffer(dimension, 0) };
    }

    /// <summary>Settings the estimator was created with.</summary>
    public OnlineGmmOptions Options => _options;

    /// <summary>Columns per row.</summary>
    public int Dimension => _d;

    /// <summary>Mixture components K.</summary>
    public int Components => _k;

    /// <summary>Rows absorbed so far, warm-up rows included: the position of the step-size schedule.</summary>
    public long Observations => _observations;

    /// <summary>Mini-batches learned after the warm-up.</summary>
    public long Batches => _batches;

    /// <summary>Components re-seeded so far.</summary>
    public long Reseeds => _reseeds;

    /// <summary>True until the first fit: no parameters exist yet.</summary>
    public bool IsWarmingUp => _warmUp is not null;

    /// <summary>Observed values each column needs among the warm-up rows before the first fit: 2.</summary>
    public const int MinimumObservedPerColumn = WarmUpBuffer.MinimumObservedPerColumn;

    /// <summary>
    /// Rows still needed before the first fit (a lower bound): 0 once warm, else at least 1 (a full warm-up buffer waits
    /// for observations of <see cref="WaitingForColumn"/>).
    /// </summary>
    public int WarmUpRemaining => _warmUp is null ? 0 : Math.Max(1, _options.EffectiveWarmUp(_d) - _warmUp.Rows);

    /// <summary>
    /// While the warm-up rows are enough in number but their fit waits, the first column (0-based) with fewer than
    /// <see cref="MinimumObservedPerColumn"/> observed values among them; else −1. Batch EM cannot estimate a column with no
    /// observed value, and one value gives a mean but no spread (the relative covariance floor would be 0). The buffer then
    /// keeps its newest <see cref="OnlineGmmOptions.WarmUpObservations"/> rows (the oldest make room for new ones) until
    /// observations of that column arrive, and the fit runs on them.
    /// </summary>
    public int WaitingForColumn => _warmUp is { } buffer && buffer.Rows >= _options.EffectiveWarmUp(_d) ? buffer.ShortColumn() : -1;

    /// <summary>Warm-up rows held (0 once warm).</summary>
    public int WarmUpRows => _warmUp?.Rows ?? 0;

    /// <summary>
    /// Fewest buffered rows <see cref="TryCompleteWarmUp"/> fits on: <see cref="OnlineGmmOptions.MinimumWarmUp"/> (K × (d + 1)),
    /// or the warm-up size when that is smaller.
    /// </summary>
    public int MinimumWarmUp => Math.Min(OnlineGmmOptions.MinimumWarmUp(_k, _d), _options.EffectiveWarmUp(_d));

    /// <summary>
    /// While warming up, the first column (0-based) with fewer than <see cref="MinimumObservedPerColumn"/> observed values among
    /// the rows buffered so far, whatever their number; else −1. (<see cref="WaitingForColumn"/> reports it only once the
    /// buffer is full.) <see cref="TryCompleteWarmUp"/> cannot fit while there is one.
    /// </summary>
    public int UnderObservedColumn => _warmUp?.ShortColumn() ?? -1;

    /// <summary>
    /// Ends the warm-up early: runs the first fit now on the rows buffered so far, exactly as the batch that fills the
    /// buffer would (the same batch EM, restarts and seed stream; the schedule position stays at <see cref="Observations"/>).
    /// Use it when a stream is too small or too slow to fill <see cref="OnlineGmmOptions.WarmUpObservations"/>. Returns
    /// false, changing nothing, when the estimator is not warming up, holds fewer than <see cref="MinimumWarmUp"/> rows, or
    /// has a column with fewer than <see cref="MinimumObservedPerColumn"/> observed values among them (<see cref="UnderObservedColumn"/>).
    /// Deterministic: the same rows and seed give the same parameters, and <see cref="SaveState"/> before and after
    /// round-trips as after any update.
    /// </summary>
    /// <exception cref="InvalidOperationException">The batch fit failed on these rows; nothing changed.</exception>
    /// <exception cref="ArgumentException">The batch fit refused these rows; nothing changed.</exception>
    public bool TryCompleteWarmUp()
    {
        if (_warmUp is not { } buffer || buffer.Rows < MinimumWarmUp || buffer.ShortColumn() >= 0)
        {
            return false;
        }

        // Initialize commits only at its end, so a fit that throws leaves the warm-up buffer and the random stream as they were.
        Initialize(buffer.Values.ToArray(), buffer.Rows);
        return true;
    }

    /// <summary>Prequential mean log-density per row of the last learned batch (NaN before the first one).</summary>
    public double LastBatchMeanLogLikelihood => _lastMeanLogLikelihood;

    /// <summary>True when the reported parameters are the Polyak–Ruppert average (the schedule's cut-off has passed).</summary>
    public bool IsAveraging => _averaging;

    /// <summary>
    /// The current parameters (the Polyak–Ruppert average once averaging is active). The returned object is an immutable
    /// copy, cached until the next update.
    /// </summary>
    /// <exception cref="ModelWarmingUpException">The estimator is warming up.</exception>
    public GaussianMixture Model => TryGetModel(out var model) ? model : throw new ModelWarmingUpException(WarmUpRemaining);

    /// <summary>The current parameters, or false while warming up.</summary>
    public bool TryGetModel([NotNullWhen(true)] out GaussianMixture? model)
    {
        if (IsWarmingUp)
        {
            model = null;
            return false;
        }

        model = _view ??= new GaussianMixture(Reported.Clone());
        return true;
    }

    /// <summary>
    /// Log-density log p(x) of each row under the current parameters, without learning from them (missing entries
    /// marginalized). The anomaly score of a row is the negative of this value.
    /// </summary>
    /// <param name="rows">Row-major rows of <see cref="Dimension"/> values.</param>
    /// <param name="logDensity">Destination, at least one entry per row.</param>
    /// <exception cref="ModelWarmingUpException">The estimator is warming up.</exception>
    /// <exception cref="ArgumentException">A row is invalid (the message names it) or the destination is too short.</exception>
    public void ScoreSamples(ReadOnlySpan<double> rows, Span<double> logDensity)
    {
        var m = ValidateRows(rows, logDensity, requireDestination: true, out var complete);
        if (IsWarmingUp)
        {
            throw new ModelWarmingUpException(WarmUpRemaining);
        }

        var p = Reported;
        if (complete)
        {
            ScoreTiles(p, rows, m, logDensity);
            return;
        }

        for (var i = 0; i < m; i++)
        {
            logDensity[i] = LogDensity(p, rows.Slice(i * _d, _d), _logDensity2);
        }
    }

    private GmmParameters Reported => _averaging ? _average! : _params!;
}
