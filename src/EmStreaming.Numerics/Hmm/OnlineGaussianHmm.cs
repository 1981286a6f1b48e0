using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Online EM for a Gaussian HMM (Cappé 2011) with the live regime filter. Feed observations one at a time with
/// <see cref="Update(ReadOnlySpan{double})"/>: the filtered regime probabilities p(z_n | x_1..n), the most likely
/// regime and its run length are updated on every observation (also while parameters are frozen during burn-in);
/// the statistics follow the recursion ρ, S = Σ_j ρ(j) φ(j), and after burn-in every observation is followed by an
/// M-step. Parameters start from a Baum–Welch fit on the first <see cref="OnlineHmmOptions.BufferSize"/>
/// observations (then replayed through the recursion) or from <see cref="OnlineHmmOptions.InitialModel"/>; while those
/// leave a column with fewer than two observed values the fit waits, keeping the newest ones (<see cref="WaitingForColumn"/>).
/// </summary>
/// <remarks>
/// Not thread-safe: one owner (an actor turn) at a time. <see cref="Update(ReadOnlySpan{double})"/> allocates
/// nothing after the buffer fit. The whole state round-trips bit-exactly through <see cref="SaveState"/> /
/// <see cref="RestoreState"/>: a restored estimator produces exactly the same future.
/// </remarks>
public sealed partial class OnlineGaussianHmm
{
    /// <summary>Observed values each column needs among the buffered observations before the buffer fit runs: 2.</summary>
    public const int MinimumObservedPerColumn = WarmUpBuffer.MinimumObservedPerColumn;

    // Rows the buffer allocates up front (it grows past them as observations arrive).
    private const int InitialBufferRows = 4_096;

    private readonly int _k;
    private readonly int _d;
    private readonly CovarianceType _type;
    private readonly StepSizeSchedule _schedule;
    private readonly int _bufferSize;
    private readonly long _burnIn;
    private readonly double _regCovar;
    private double _relativeRegCovar;
    private readonly double _transitionFloor;
    private readonly HmmFitOptions _bufferFit;

    private readonly WarmUpBuffer _buffer;
    private readonly double[] _start;
    private readonly double[] _transitions;
    private readonly HmmEmissions _emissions;
    private readonly double[] _avgTransitions;
    private readonly double[] _avgMeans;
    private readonly double[] _avgCovariances;
    private readonly double[] _phi;
    private readonly double[] _rho;
    private readonly double[] _rhoScratch;
    private readonly double[] _statistics;
    private readonly double[] _psi;
    private readonly double[] _logEmission;
    private readonly double[] _normalizers;
    private readonly double[] _stepScratch;
    private readonly double[] _rowScratch;
    private readonly bool[] _degenerate;

    private GmmSufficientStatistics? _psiBuffer;
    private GmmSufficientStatistics? _mStepStatistics;
    private double[] _origin;

    // Per-dimension covariance floor: RelativeRegCovar × each column's within-cluster scale (buffer, initial model or adopted window).
    private double[] _floor;
    private OnlineHmmPhase _phase;
    private double _lastExpectedLoss = double.NaN;
    private long _observations;
    private long _steps;
    private bool _sequenceStart = true;
    private bool _averaged;
    private int _regime = -1;
    private double[]? _boundedRow;
    private double[]? _rangeLo;
    private double[]? _rangeHi;
    private long _runLength;
    private double _prequentialSum;
    private long _prequentialCount;
    private double _lastStepSize;

    /// <summary>Creates an estimator for observations of <paramref name="dimension"/> entries.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid or the dimension is &lt; 1 or differs from the initial model's.</exception>
    public OnlineGaussianHmm(OnlineHmmOptions options, int dimension)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (options.InitialModel is { } m && m.Dimension != dimension)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"the initial model has dimension {m.Dimension}.");
        }

        _k = options.States;
        _d = dimension;
        _type = options.Covariance;
        _schedule = options.StepSize;
        _bufferSize = options.BufferSize;
        _burnIn = options.BurnIn;
        _regCovar = options.RegCovar;
        _relativeRegCovar = options.RelativeRegCovar;
        _transitionFloor = options.TransitionFloor;
        _bufferFit = (options.BufferFit ?? new HmmFitOptions { States = _k }) with
        {
            States = _k,
            Covariance = _type,
            RegCovar = _regCovar,
            RelativeRegCovar = _relativeRegCovar,
            WarmStart = null,
        };
        _bufferFit.Validate();

        _emissions = new HmmEmissions(_k, _d, _type);
        var p = _emissions.StatLength;
        var len = StatisticsLength;
        // Allocated up to a bounded size and grown as rows arrive: a service may set a buffer of a million rows, and an
        // estimator built only to check a definition (or a model that never gets that many) must not reserve them all.
        _buffer = new WarmUpBuffer(_d, options.InitialModel is null ? Math.Min(_bufferSize, InitialBufferRows) : 0);
        _start = new double[_k];
        _transitions = new double[_k * _k];
        _avgTransitions = new double[_k * _k];
        _avgMeans = new double[_k * _d];
        _avgCovariances = new double[_emissions.Covariances.Length];
        _phi = new double[_k];
        Array.Fill(_phi, 1.0 / _k);
        _rho = new double[_k * len];
        _rhoScratch = new double[_k * len];
        _statistics = new double[len];
        _psi = new double[_k * p];
        _logEmission = new double[_k];
        _normalizers = new double[_k];
        _stepScratch = new double[OnlineHmmRecursion.StepScratchLength(_k)];
        _rowScratch = new double[_emissions.ScratchLength];
        _degenerate = new bool[_k];
        _origin = new double[_d];
        _floor = new double[_d];
        _phase = OnlineHmmPhase.Buffering;
        if (options.InitialModel is { } initial)
        {
            SetModel(initial, MeanOfMeans(initial));
            _floor = ImpliedFloor(initial, _relativeRegCovar);
        }
    }

    /// <summary>Number of hidden states K.</summary>
    public int States => _k;

    /// <summary>Dimension D of an observation.</summary>
    public int Dimension => _d;

    /// <summary>Emission covariance type.</summary>
    public CovarianceType CovarianceType => _type;

    /// <summary>Current phase (buffering, burn-in with frozen parameters, online).</summary>
    public OnlineHmmPhase Phase => _phase;

    /// <summary>Observations received so far (buffered ones included).</summary>
    public long Observations => _observations;

    /// <summary>Observations absorbed into the statistics (n of the step-size schedule).</summary>
    public long StatisticsCount => _steps;

    /// <summary>The step size γ_n of the last statistics update (0 before the first).</summary>
    public double LastStepSize => _lastStepSize;

    /// <summary>
    /// Filtered regime probabilities p(z_n = k | x_1..n) after the last observation (K entries summing to 1);
    /// uniform while <see cref="Phase"/> is <see cref="OnlineHmmPhase.Buffering"/>.
    /// </summary>
    public ReadOnlySpan<double> RegimeProbabilities => _phi;

    /// <summary>
    /// The current regime (0-based), or −1 while buffering: the most likely one (argmax of <see cref="RegimeProbabilities"/>), or
    /// with <see cref="RegimeConfidence"/> c above 0.5 the most likely one with hysteresis (<see cref="RegimeTracking"/>): another
    /// regime takes over once its filtered probability reaches c, or the current one's falls to 1 − c. After a refit is adopted,
    /// the most likely one under the new parameters.
    /// </summary>
    public int Regime => _regime;

    /// <summary>
    /// The filtered probability at which another regime takes over <see cref="Regime"/> (<see cref="RegimeTracking"/>; 0.5, the
    /// default, = the plain argmax). A reporting policy, not learned state: not saved with the state, so set it again after a restore.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in [0.5, 1).</exception>
    public double RegimeConfidence
    {
        get => _regimeConfidence;
        set => _regimeConfidence = RegimeTracking.IsValidConfidence(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the regime confidence must be at least 0.5 and below 1");
    }

    private double _regimeConfidence = RegimeTracking.Confidence;

    /// <summary>Number of consecutive observations (the last one included) for which <see cref="Regime"/> has been the current regime; 0 while buffering.</summary>
    public long RunLength => _runLength;

    /// <summary>
    /// Sum of the prequential log predictive densities log p(x_n | x_1..n−1) (nats) of every observation scored
    /// with parameters fitted before it was seen (not the buffered ones). Difference two readings and divide by the
    /// difference of <see cref="PrequentialCount"/> for the mean over a window.
    /// </summary>
    public double PrequentialLogLikelihoodSum => _prequentialSum;

    /// <summary>Number of observations included in <see cref="PrequentialLogLikelihoodSum"/>.</summary>
    public long PrequentialCount => _prequentialCount;

    /// <summary>True once parameters exist (after the buffer fit, or from the start with an initial model).</summary>
    public bool HasModel => _phase != OnlineHmmPhase.Buffering;

    /// <summary>
    /// What the parameters expected the last absorbed row's loss −log p(x_n | x_1..n−1) to be, before seeing it: the
    /// differential entropy of each state's Gaussian over the row's observed entries, ½(|o|·ln 2πe + ln|Σ_k,oo|), weighted
    /// by the predicted regime probabilities p(z_n = k | x_1..n−1) (NaN while buffering). The loss minus this is the row's
    /// surprise: under a well-specified model its mean is about 0 in every regime (exactly 0 when the regime is certain;
    /// the mixing of uncertain predictions lowers the loss by at most the entropy of the prediction), whereas the loss itself
    /// sits higher in a wide regime than in a narrow one. A drift test on the raw loss therefore alarms whenever a wide
    /// regime lasts, on a stream that is not changing at all; on the surprise it does not.
    /// </summary>
    public double LastExpectedLoss => _lastExpectedLoss;

    /// <summary>
    /// While the buffer is full but its fit waits, the first column (0-based) with fewer than
    /// <see cref="MinimumObservedPerColumn"/> observed values among the buffered observations; else −1. The buffer fit never
    /// runs while there is one: Baum–Welch cannot estimate a column with no observed value (it would invent mean 0 and
    /// variance 1 for it), and one value gives a mean but no spread (the start would invent a variance of 1, and the
    /// relative covariance floor would be 0). The full buffer then keeps its newest <see cref="OnlineHmmOptions.BufferSize"/>
    /// observations (the oldest makes room for each new one) until observations of that column arrive, and the fit runs on them.
    /// </summary>
    public int WaitingForColumn => _phase == OnlineHmmPhase.Buffering && _buffer.Rows == _bufferSize ? _buffer.ShortColumn() : -1;

    /// <summary>
    /// Observations still needed before the first fit (a lower bound): 0 once parameters exist, else at least 1 (a full
    /// buffer waits for observations of <see cref="WaitingForColumn"/>).
    /// </summary>
    public int WarmUpRemaining => HasModel ? 0 : Math.Max(1, _bufferSize - _buffer.Rows);

    private int StatisticsLength => (_k * _k) + (_k * _emissions.StatLength);

    /// <summary>
    /// The parameters the filter currently uses, θ_n, as an immutable snapshot (allocates); null while buffering.
    /// </summary>
    public GaussianHmm? CurrentModel => HasModel ? GaussianHmm.FromParts(_start, _transitions, _emissions) : null;

    /// <summary>
    /// The estimate to report: the Polyak–Ruppert average of θ once the schedule's averaging cut-off has passed,
    /// otherwise <see cref="CurrentModel"/>. Allocates; null while buffering.
    /// </summary>
    public GaussianHmm? Model
    {
        get
        {
            if (!HasModel)
            {
                return null;
            }

            if (!_averaged)
            {
                return CurrentModel;
            }

            var e = new HmmEmissions(_k, _d, _type);
            _avgMeans.CopyTo(e.Means, 0);
            _avgCovariances.CopyTo(e.Covariances, 0);
            return e.TryRefreshFactors(out _) ? GaussianHmm.FromParts(_start, _avgTransitions, e) : CurrentModel;
        }
    }

    /// <summary>
    /// Marks the next observation as the first of a new, independent sequence: its regime prediction comes from
    /// the start probabilities instead of the transitions, and no transition is counted into it.
    /// </summary>
    public void StartNewSequence() => _sequenceStart = true;

    /// <summary>
    /// Absorbs one observation (D entries, NaN = missing). Returns its log predictive density
    /// log p(x_n | x_1..n−1) under the current parameters (nats), or NaN while buffering (no parameters yet).
    /// </summary>
    /// <remarks>
    /// The emission statistics take the row with each entry moved into the states' range for its column
    /// (<see cref="Online.InfluenceBound"/>), so one glitch reading cannot wreck a state; the filter and the returned density
    /// use the row as it came.
    /// </remarks>
    /// <exception cref="ArgumentException">Wrong length, or no observed entry; the state is left unchanged.</exception>
    public double Update(ReadOnlySpan<double> observation)
    {
        if (observation.Length != _d)
        {
            throw new ArgumentException($"the observation has {observation.Length} entries, expected {_d}.", nameof(observation));
        }

        var any = false;
        foreach (var v in observation)
        {
            if (double.IsInfinity(v))
            {
                throw new ArgumentException("the observation has an infinite entry; only finite values or NaN (missing) are allowed.", nameof(observation));
            }

            any |= !double.IsNaN(v);
        }

        if (!any)
        {
            throw new ArgumentException("the observation has no observed value.", nameof(observation));
        }

        _observations++;
        if (_phase == OnlineHmmPhase.Buffering)
        {
            // A full buffer here is one whose fit waits (a column short of observed values, or an earlier fit that threw):
            // the oldest row makes room, so memory stays at BufferSize rows and the fit, when it comes, uses the newest ones.
            _buffer.KeepNewest(_bufferSize - 1);
            _buffer.Append(observation);
            if (_buffer.Rows == _bufferSize && _buffer.ShortColumn() < 0)
            {
                InitializeFromBuffer();
            }

            return double.NaN;
        }

        return Absorb(observation, countPrequential: true);
    }

    /// <summary>Absorbs every row of <paramref name="batch"/> in order, as consecutive observations of the current sequence.</summary>
    public void Update(DataMatrix batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Columns != _d)
        {
            throw new ArgumentException($"the batch has {batch.Columns} columns, expected {_d}.", nameof(batch));
        }

        for (var t = 0; t < batch.Rows; t++)
        {
            Update(batch.Row(t));
        }
    }

    /// <summary>
    /// Ends buffering early: fits the parameters on the observations buffered so far (at least max(2, K)) and
    /// replays them, as happens automatically when the buffer is full. Use it when a stream ends before
    /// <see cref="OnlineHmmOptions.BufferSize"/> observations. Returns false (nothing changes) when not buffering,
    /// when too few observations are buffered, or when a column has fewer than <see cref="MinimumObservedPerColumn"/>
    /// observed values among them (see <see cref="WaitingForColumn"/>): the fit would have to invent its parameters.
    /// </summary>
    public bool TryInitializeFromBuffer()
    {
        if (_phase != OnlineHmmPhase.Buffering || _buffer.Rows < Math.Max(2, _k) || _buffer.ShortColumn() >= 0)
        {
            return false;
        }

        InitializeFromBuffer();
        return true;
    }

    /// <summary>Observations buffered for the first fit (0 once parameters exist).</summary>
    public int WarmUpRows => HasModel ? 0 : _buffer.Rows;

    /// <summary>
    /// Fewest buffered observations <see cref="TryCompleteWarmUp"/> fits on: <see cref="OnlineHmmOptions.MinimumBufferSize"/>
    /// (K × (d + 1)), or the buffer size when that is smaller.
    /// </summary>
    public int MinimumWarmUp => Math.Min(OnlineHmmOptions.MinimumBufferSize(_k, _d), _bufferSize);

    /// <summary>
    /// While buffering, the first column (0-based) with fewer than <see cref="MinimumObservedPerColumn"/> observed values among
    /// the observations buffered so far, whatever their number; else −1. (<see cref="WaitingForColumn"/> reports it only once
    /// the buffer is full.) <see cref="TryCompleteWarmUp"/> cannot fit while there is one.
    /// </summary>
    public int UnderObservedColumn => HasModel ? -1 : _buffer.ShortColumn();

    /// <summary>
    /// Ends buffering early, as a service's explicit request does: fits the parameters on the observations buffered so far
    /// and replays them, exactly as a full buffer does (the same Baum–Welch fit and seed). Unlike the lenient
    /// <see cref="TryInitializeFromBuffer"/> (end of a file: any max(2, K) observations), it needs <see cref="MinimumWarmUp"/>
    /// observations, the bound a user-chosen buffer size is held to. Returns false, changing nothing, when not buffering,
    /// when fewer are buffered, or when a column has fewer than <see cref="MinimumObservedPerColumn"/> observed values among
    /// them (<see cref="UnderObservedColumn"/>). Deterministic; the state round-trips through <see cref="SaveState"/> as after any update.
    /// </summary>
    /// <exception cref="InvalidOperationException">The batch fit failed on these observations; nothing changed.</exception>
    /// <exception cref="ArgumentException">The batch fit refused these observations; nothing changed.</exception>
    public bool TryCompleteWarmUp()
    {
        if (HasModel || _buffer.Rows < MinimumWarmUp || _buffer.ShortColumn() >= 0)
        {
            return false;
        }

        InitializeFromBuffer();
        return true;
    }

    private void InitializeFromBuffer()
    {
        var count = _buffer.Rows;
        var data = new DataMatrix(_buffer.Values.ToArray(), count, _d);
        // A glitch among the buffered rows gets no state of its own (InfluenceBound.WithoutGlitches): a state on one reading
        // would stay there for good. The replay below takes the rows as they came (bounded like every later row).
        var fit = GaussianHmmEM.Fit(InfluenceBound.WithoutGlitches(data), _bufferFit);
        SetModel(fit.Model, DataMatrix.ObservedColumnCentres(data.Values, _d));
        _floor = CovarianceFloor.FromData(data.Values, _d, _relativeRegCovar);

        // Replay the buffer with the fitted parameters: it warms the statistics (and the filter) up on data that
        // would otherwise be used only once.
        _sequenceStart = true;
        for (var t = 0; t < count; t++)
        {
            Absorb(data.Row(t), countPrequential: false);
        }
    }

    private void SetModel(GaussianHmm model, double[] origin)
    {
        model.StartProbabilities.CopyTo(_start);
        model.Transitions.CopyTo(_transitions);
        _emissions.CopyFrom(model.Emissions);
        _origin = origin;
        _psiBuffer = new GmmSufficientStatistics(_k, _d, _type, origin);
        _mStepStatistics = new GmmSufficientStatistics(_k, _d, _type, origin);
        if (System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<double>(_emissions.Means))
        {
            // Each state's statistics about its own mean: regimes far apart keep their variances (FarApartModesTests).
            _psiBuffer.ResetOrigins(_emissions.Means);
            _mStepStatistics.ResetOrigins(_emissions.Means);
        }

        _phase = OnlineHmmPhase.BurnIn;
    }

    /// <summary>
    /// The row the emission statistics take: <paramref name="x"/> itself, or a copy with each entry outside the states' range
    /// for its column moved into it (<see cref="InfluenceBound"/>: one glitch reading cannot wreck a state's variance). The
    /// filter and the scores use the row as it came.
    /// </summary>
    private ReadOnlySpan<double> Bounded(ReadOnlySpan<double> x)
    {
        var into = _boundedRow ??= new double[_d];
        return InfluenceBound.TryClampRow(_emissions.Parameters, x, _rangeLo ??= new double[_d], _rangeHi ??= new double[_d], into) ? into : x;
    }

    private double Absorb(ReadOnlySpan<double> x, bool countPrequential)
    {
        var k = _k;
        _emissions.LogDensity(x, _logEmission, _rowScratch, _normalizers);
        _emissions.Statistics(Bounded(x), _psiBuffer!, _psi, _rowScratch);
        var gamma = _schedule.StepAt(_steps + 1);
        var logPredictive = OnlineHmmRecursion.Step(
            _logEmission, _psi, _start, _transitions, _sequenceStart, accumulate: true, gamma,
            _phi, _rho, _rhoScratch, _statistics, _stepScratch, k, _d, _emissions.S2Length);

        // The expected loss under the predicted regimes, which the step left in its scratch (it computed them from φ before
        // updating it): no second prediction.
        var predicted = _stepScratch.AsSpan(0, k);
        var halfObserved = 0.5 * GmmParameters.CountObserved(x);
        var expected = 0.0;
        for (var j = 0; j < k; j++)
        {
            expected += predicted[j] * (halfObserved - _normalizers[j]);
        }

        _lastExpectedLoss = expected;
        _sequenceStart = false;
        _steps++;
        _lastStepSize = gamma;
        if (_steps > _burnIn)
        {
            _phase = OnlineHmmPhase.Online;
            MStep();
            RecentreMovedStates();
            var w = _schedule.AveragingWeight(_steps - 1, 1);
            if (w > 0)
            {
                StepSizeSchedule.Average(_avgTransitions, _transitions, w);
                StepSizeSchedule.Average(_avgMeans, _emissions.Means, w);
                StepSizeSchedule.Average(_avgCovariances, _emissions.Covariances, w);
                _averaged = true;
            }
        }

        var next = RegimeTracking.Next(_regime, _phi, _regimeConfidence);
        if (next == _regime)
        {
            _runLength++;
        }
        else
        {
            _regime = next;
            _runLength = 1;
        }

        if (countPrequential && double.IsFinite(logPredictive))
        {
            _prequentialSum += logPredictive;
            _prequentialCount++;
        }

        return logPredictive;
    }

    /// <summary>
    /// Moves the centre of each state whose mean has left it by more than one standard deviation in some column to that mean,
    /// in every block of ρ and in the running statistics (exact algebra, <see cref="GmmSufficientStatistics.Shift"/>): about a
    /// centre Δ away, the M-step's Σ = s2/s0 − μμᵀ would keep only ε·Δ²/σ² of the variance.
    /// </summary>
    private void RecentreMovedStates()
    {
        var psi = _psiBuffer!;
        var centres = psi.ComponentOrigins;
        double[]? moved = null;
        Span<double> delta = _d <= 256 ? stackalloc double[_d] : new double[_d];
        for (var k = 0; k < _k; k++)
        {
            if (!psi.HasLeftCentre(k, _emissions.Parameters))
            {
                continue;
            }

            var mean = _emissions.Means.AsSpan(k * _d, _d);
            moved ??= centres.ToArray();
            System.Numerics.Tensors.TensorPrimitives.Subtract(mean, centres.Slice(k * _d, _d), delta);
            var len = StatisticsLength;
            for (var block = 0; block <= _k; block++)
            {
                // ρ(·|j) for every end state j, then the running statistics: the same layout.
                var flat = block < _k ? _rho.AsSpan(block * len, len) : _statistics.AsSpan();
                var emission = flat[(_k * _k)..];
                var s2 = _emissions.S2Length;
                GmmSufficientStatistics.Shift(
                    _type, emission[k], emission.Slice(_k + (k * _d), _d), emission.Slice(_k + (_k * _d) + (k * s2), s2), delta);
            }

            mean.CopyTo(moved.AsSpan(k * _d, _d));
        }

        if (moved is not null)
        {
            psi.ResetOrigins(moved);
            _mStepStatistics!.ResetOrigins(moved);
        }
    }

    private void MStep()
    {
        var k = _k;
        var floor = _transitionFloor;
        for (var i = 0; i < k; i++)
        {
            var sum = 0.0;
            for (var j = 0; j < k; j++)
            {
                sum += Math.Max(_statistics[(i * k) + j], floor);
            }

            if (!(sum > 0) || !double.IsFinite(sum))
            {
                continue;
            }

            var inv = 1.0 / sum;
            for (var j = 0; j < k; j++)
            {
                _transitions[(i * k) + j] = Math.Max(_statistics[(i * k) + j], floor) * inv;
            }
        }

        var stats = _mStepStatistics!;
        _emissions.CopyIn(_statistics.AsSpan(k * k), stats);
        if (stats.TotalWeight > 0)
        {
            _emissions.MStep(stats, _regCovar, _floor, _degenerate);
        }
    }

    /// <summary>
    /// Adopts externally fitted parameters (a Baum–Welch refit over a window of recent rows) without restarting the step-size
    /// schedule or changing the labels (the model's states are first reordered to match the current ones,
    /// <see cref="LabelMatching"/>, and the reported regime continues by <see cref="RegimeTracking"/>'s rule): the parameters become <paramref name="model"/>'s, the statistics and the filter are rebuilt by running the
    /// recursion over <paramref name="window"/> with the parameters frozen and steps 1/t (so the statistics are the window's
    /// average under the model), and the schedule position (<see cref="StatisticsCount"/>) is kept, so the next step is as
    /// small as it was. Restarting at n = 0 instead makes γ ≈ 1, and the first observations then replace the statistics
    /// wholesale (a state collapsed to a near-zero variance within a few rows in the demo that way).
    /// </summary>
    /// <param name="model">Parameters with the same states, dimension and covariance type.</param>
    /// <param name="window">The most recent rows, oldest first, ending with the last observation absorbed (≥ 1 row, each with an observed entry).</param>
    /// <exception cref="ArgumentException">Shapes differ, or the window is empty or holds an invalid row; nothing changed.</exception>
    /// <exception cref="InvalidOperationException">The estimator has no parameters yet (still buffering); nothing changed.</exception>
    public void Adopt(GaussianHmm model, DataMatrix window) => Replace(model, window, windowStatistics: true);

    /// <summary>
    /// <see cref="Adopt(GaussianHmm, DataMatrix)"/>; without <paramref name="windowStatistics"/> the recursion over the window
    /// rebuilds the filter only (the caller sets the statistics).
    /// </summary>
    private void Replace(GaussianHmm model, DataMatrix window, bool windowStatistics)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(window);
        if (model.States != _k || model.Dimension != _d || model.CovarianceType != _type)
        {
            throw new ArgumentException($"the model has {model.States} states, dimension {model.Dimension} and {model.CovarianceType} covariances; this estimator has {_k}, {_d} and {_type}.", nameof(model));
        }

        if (window.Columns != _d || window.Rows == 0)
        {
            throw new ArgumentException($"the window must hold at least one row of {_d} values.", nameof(window));
        }

        if (!HasModel)
        {
            throw new InvalidOperationException("a buffering estimator has no recursion to restart: it takes parameters from its own first fit.");
        }

        for (var t = 0; t < window.Rows; t++)
        {
            var any = false;
            foreach (var v in window.Row(t))
            {
                if (double.IsInfinity(v))
                {
                    throw new ArgumentException($"row {t} of the window has an infinite entry.", nameof(window));
                }

                any |= !double.IsNaN(v);
            }

            if (!any)
            {
                throw new ArgumentException($"row {t} of the window has no observed value.", nameof(window));
            }
        }

        // Keep the labels: a refit's Baum–Welch numbers its states in its own order, so state i of the adopted parameters is the
        // model's state matched to the current state i (LabelMatching), and "regime 1" means the same regime across refits.
        model = model.AlignTo(Model!);

        // Commit: nothing below throws.
        var steps = _steps;
        var phase = _phase;
        SetModel(model, DataMatrix.ObservedColumnCentres(window.Values, _d));
        _floor = CovarianceFloor.FromData(window.Values, _d, _relativeRegCovar);
        Array.Clear(_rho);
        Array.Clear(_statistics);
        Array.Fill(_phi, 1.0 / _k);
        _sequenceStart = true;
        for (var t = 0; t < window.Rows; t++)
        {
            var x = window.Row(t);
            _emissions.LogDensity(x, _logEmission, _rowScratch);
            if (windowStatistics)
            {
                _emissions.Statistics(Bounded(x), _psiBuffer!, _psi, _rowScratch);
            }

            OnlineHmmRecursion.Step(
                _logEmission, _psi, _start, _transitions, _sequenceStart, windowStatistics, 1.0 / (t + 1),
                _phi, _rho, _rhoScratch, _statistics, _stepScratch, _k, _d, _emissions.S2Length);
            _sequenceStart = false;
        }

        _steps = steps;
        _phase = phase;
        if (_averaged)
        {
            model.Transitions.CopyTo(_avgTransitions);
            _emissions.Means.CopyTo(_avgMeans, 0);
            _emissions.Covariances.CopyTo(_avgCovariances, 0);
        }

        // The reported regime continues by its own rule (with hysteresis when RegimeConfidence is above 0.5), from the regime
        // reported before: the labels were kept, so it is the same regime unless the rebuilt filter moved past the rule's bar.
        var next = RegimeTracking.Next(_regime, _phi, _regimeConfidence);
        if (next != _regime)
        {
            _regime = next;
            _runLength = 1;
        }
    }

    /// <summary>
    /// As <see cref="Adopt"/> (labels matched, filter rebuilt over <paramref name="window"/>, schedule kept), but the statistics
    /// become the parameters' own: the transition counts π_i·A_ij and each state's π_k, π_k·μ_k and π_k·Σ_k, with π the
    /// chain's stationary distribution, in every ρ(·|k). A refit that keeps the states whose regimes the window does not show
    /// (<see cref="HmmStateKeeping"/>) is adopted so: an E-step of the window, as <see cref="Adopt"/> takes, gives those states
    /// no weight and no transitions into them, and the next M-step gave them the pooled mean and covariance of the rest and
    /// made them unreachable. The covariance floor is the smaller of the current one and the window's own, per column.
    /// </summary>
    internal void AdoptParameters(GaussianHmm model, DataMatrix window)
    {
        var floor = (double[])_floor.Clone();
        Replace(model, window, windowStatistics: false);
        for (var j = 0; j < _d; j++)
        {
            _floor[j] = Math.Min(_floor[j], floor[j]);
        }

        var k = _k;
        var len = StatisticsLength;
        var pi = HmmStateKeeping.Stationary(_transitions, k);
        var flat = _statistics.AsSpan(0, len);
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                flat[(i * k) + j] = pi[i] * _transitions[(i * k) + j];
            }
        }

        var stats = _mStepStatistics!;
        stats.Clear();
        var sigma = new double[_d * _d];
        var all = Enumerable.Range(0, _d).ToArray();
        for (var s = 0; s < k; s++)
        {
            _emissions.Parameters.ExpandCovariance(s, sigma);
            stats.AddPoint(s, pi[s], _emissions.Means.AsSpan(s * _d, _d), all, sigma);
        }

        _emissions.CopyOut(stats, flat[(k * k)..]);
        for (var j = 0; j < k; j++)
        {
            flat.CopyTo(_rho.AsSpan(j * len, len));
        }
    }

    /// <summary>
    /// The floor implied by a model alone: the relative fraction of the smaller of the variance of its (equally weighted)
    /// mixture of states and its states' mean variance, the model's own within-cluster scale (see <see cref="CovarianceFloor.Scale"/>).
    /// </summary>
    private static double[] ImpliedFloor(GaussianHmm model, double relative)
    {
        var d = model.Dimension;
        var k = model.States;
        var floor = new double[d];
        for (var i = 0; i < d; i++)
        {
            double mean = 0, second = 0, within = 0;
            for (var s = 0; s < k; s++)
            {
                var mu = model.Means[(s * d) + i];
                var v = model.FullCovariance(s)[(i * d) + i];
                mean += mu / k;
                second += (v + (mu * mu)) / k;
                within += v / k;
            }

            var variance = Math.Min(second - (mean * mean), within);
            floor[i] = CovarianceFloor.Of(double.IsFinite(variance) ? variance : 0.0, relative);
        }

        return floor;
    }

    private static double[] MeanOfMeans(GaussianHmm model)
    {
        var d = model.Dimension;
        var result = new double[d];
        for (var k = 0; k < model.States; k++)
        {
            for (var i = 0; i < d; i++)
            {
                result[i] += model.Means[(k * d) + i] / model.States;
            }
        }

        return result;
    }
}
