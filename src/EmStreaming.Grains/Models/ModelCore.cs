using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Grains.Models;

/// <summary>A refit to run off the turn: an immutable copy of the window and of the current parameters.</summary>
internal sealed record RefitJob(long Sequence, long Generation, ModelDefinition Definition, DataMatrix Window, GaussianMixture? Gmm, GaussianHmm? Hmm);

/// <summary>
/// The deterministic state machine of one model: every change comes from a record of its stream (observations,
/// refit requests, refit results), so replaying the same log from a snapshot reproduces the same bits. The grain
/// wraps it with storage, timers and background jobs; tests drive it directly to build reference runs.
/// </summary>
internal sealed partial class ModelCore
{
    public const int KeyMemory = 64;

    private readonly double[] _anomalyScratch;
    private double[]? _tailScratch; // only for a definition with a tail threshold: a service holds thousands of models
    private OnlineGaussianMixture? _gmm;
    private OnlineGaussianHmm? _hmm;
    private readonly RecentWindow _window;
    private readonly ulong[] _keys = new ulong[KeyMemory];

    // Observation number (0-based, exclusive) up to which the refit in flight fits: the newer rows of the window, and those that
    // arrive while it runs, are the held-out rows it is judged on.
    private long _refitFitEnd;

    // Observation number (0-based, inclusive) from which the refit in flight fits: an HMM's drift refit fits the rows after the
    // alarm only, and the older rows are neither fitted nor judged on; long.MinValue for every other refit (the whole window).
    private long _refitFitStart = long.MinValue;
    private PageHinkley? _hmmDrift;
    private int _keyCount;
    private int _keyNext;

    public ModelCore(ModelDefinition definition, long generation)
    {
        Definition = definition;
        Generation = generation;
        _window = new RecentWindow(definition.Dimension, definition.Refit.Window);
        _anomalyScratch = new double[Math.Max(definition.BatchSize, 1)];
        CreateEstimator();
    }

    public ModelDefinition Definition { get; }

    public long Generation { get; }

    public long Observations { get; private set; }

    public long Anomalies { get; private set; }

    public long Refits { get; private set; }

    /// <summary>Highest refit sequence requested (by count, by a request record).</summary>
    public long RefitRequested { get; private set; }

    /// <summary>Highest refit sequence whose result was applied (adopted or rejected).</summary>
    public long RefitApplied { get; private set; }

    public long SinceRefit { get; private set; }

    public DateTimeOffset? LastObservationAt { get; private set; }

    public DateTimeOffset? LastRefitAt { get; private set; }

    public double? RecentMeanLogLikelihood { get; private set; }

    public int? Regime { get; private set; }

    public bool RefitInFlight => RefitRequested > RefitApplied;

    public int WindowCount => _window.Count;

    /// <summary>The window, readable from any thread (queries of recent rows).</summary>
    public RecentWindow Window => _window;

    public bool WarmingUp => _gmm is not null ? _gmm.IsWarmingUp : !_hmm!.HasModel;

    public int WarmUpRemaining => _gmm is not null ? _gmm.WarmUpRemaining : _hmm!.WarmUpRemaining;

    /// <summary>Rows buffered for the first fit (0 once warm).</summary>
    public int WarmUpRows => _gmm?.WarmUpRows ?? _hmm!.WarmUpRows;

    /// <summary>Fewest buffered rows a refit request can end the warm-up on (K × (d + 1), or the warm-up size when smaller).</summary>
    public int EarlyFitMinimum => _gmm?.MinimumWarmUp ?? _hmm!.MinimumWarmUp;

    /// <summary>
    /// While warming up, rows still needed before a refit request can end the warm-up (fit on the rows buffered so far): the
    /// shortfall from <see cref="EarlyFitMinimum"/>, at least 1 while a column has fewer than two observed values among the
    /// buffered rows; 0 when a request would fit now, and once warm.
    /// </summary>
    public int EarlyFitRemaining
    {
        get
        {
            if (!WarmingUp)
            {
                return 0;
            }

            var shortfall = Math.Max(0, EarlyFitMinimum - WarmUpRows);
            return UnderObservedColumn >= 0 ? Math.Max(1, shortfall) : shortfall;
        }
    }

    private int UnderObservedColumn => _gmm?.UnderObservedColumn ?? _hmm!.UnderObservedColumn;

    public OnlineGaussianMixture? Gmm => _gmm;

    public OnlineGaussianHmm? Hmm => _hmm;

    /// <summary>
    /// Applies one stream record. Returns the events it caused and, when it asks for a refit, the job to start.
    /// Records of another generation (a deleted or reset model) and refit results already applied are inert;
    /// generation 0 (an external producer's batch) means the current one.
    /// </summary>
    public (List<ModelEvent>? Events, RefitJob? Refit) Apply(ModelStreamRecord record, string id)
    {
        if (record.Generation != 0 && record.Generation != Generation)
        {
            return (null, null);
        }

        return record.Kind switch
        {
            ModelRecordKind.Observations => ApplyObservations(record.KeyHash, new DataMatrix(record.ReadValues() ?? [], record.RowCount, Math.Max(record.Columns, 1)), record.Timestamp, id),
            ModelRecordKind.RefitRequest => ApplyRefitRequest(record.ProducerId != ModelGrain.ControlProducer, record.Timestamp, id),
            ModelRecordKind.RefitResult => (ApplyRefitResult(record.RefitSequence, record.Parameters ?? [], record.Timestamp, id), null),
            ModelRecordKind.CatchUpMarker => (null, null),
            _ => throw new InvalidDataException($"model record: unknown kind {(int)record.Kind}"),
        };
    }

    /// <summary>The job of the refit in flight (after a restore, the job died with the previous activation), or null.</summary>
    public RefitJob? ResumeRefit() => RefitInFlight ? CreateJob(RefitRequested) : null;

    public DataMatrix CopyWindow(int limit = int.MaxValue) => _window.CopyLatest(limit).Rows;

    private (List<ModelEvent>?, RefitJob?) ApplyObservations(ulong keyHash, DataMatrix rows, DateTimeOffset timestamp, string id)
    {
        if (rows.Columns != Definition.Dimension)
        {
            throw new InvalidDataException($"batch has {rows.Columns} columns; the model's dimension is {Definition.Dimension}");
        }

        if (keyHash != 0)
        {
            // A batch appended twice under one idempotency key (a crash between the append and recording its answer,
            // then a retry) is applied once: the second copy finds its key here.
            if (Array.IndexOf(_keys, keyHash, 0, _keyCount) >= 0)
            {
                return (null, null);
            }

            _keys[_keyNext] = keyHash;
            _keyNext = (_keyNext + 1) % KeyMemory;
            _keyCount = Math.Min(_keyCount + 1, KeyMemory);
        }

        List<ModelEvent>? events = null;
        var wasWarming = WarmingUp;
        var applied = 0;
        Exception? rejection = null;
        var threshold = Definition.AnomalyThreshold;
        var tailThreshold = Definition.AnomalyTailProbability;
        var d = Definition.Dimension;
        if (_gmm is not null)
        {
            var values = rows.Values;
            var sum = 0.0;
            var scored = 0;
            for (var start = 0; start < rows.Rows; start += Definition.BatchSize)
            {
                var count = Math.Min(Definition.BatchSize, rows.Rows - start);
                var scores = _anomalyScratch.AsSpan(0, count);
                var tails = tailThreshold is null ? [] : (_tailScratch ??= new double[Math.Max(Definition.BatchSize, 1)]).AsSpan(0, count);
                var warmBefore = _gmm.IsWarmingUp;
                (GaussianMixture Model, MixtureTail Tail)? batchTail = null;
                if (tailThreshold is not null && !warmBefore && _gmm.TryGetModel(out var before))
                {
                    // Prequential, like the scores: each row judged by the parameters before its mini-batch was learned. Summed
                    // only until the threshold is passed: a row below it (an anomaly) gets its whole tail.
                    batchTail = (before, MixtureTail.Of(before));
                    for (var i = 0; i < count; i++)
                    {
                        tails[i] = batchTail.Value.Tail.Probability(values.Slice((start + i) * d, d), before.Weights, tailThreshold.Value);
                    }
                }
                else
                {
                    tails.Fill(double.NaN); // (empty without a tail threshold)
                }

                OnlineBatchResult result;
                try
                {
                    result = _gmm.Update(values.Slice(start * d, count * d), scores);
                }
                catch (Exception e) when (IsRejection(e))
                {
                    // The estimator left itself unchanged for this batch: the rows before it stay applied and counted.
                    (applied, rejection) = (start, e);
                    break;
                }

                applied = start + count;
                if (result.DriftDetected)
                {
                    (events ??= []).Add(Drift(id, timestamp, _gmm.LastDriftObservation, "the rows became more surprising than the components expect (Page-Hinkley); refitting on the rows after the change"));
                }
                if (!warmBefore)
                {
                    // A row so far out that its density underflows makes the batch's mean −∞: it is left out of the recent
                    // mean, but its rows are still judged (that row above all: its score is +∞, the largest there is).
                    if (double.IsFinite(result.MeanLogLikelihood))
                    {
                        sum += result.MeanLogLikelihood * count;
                        scored += count;
                    }

                    if (threshold is not null || tailThreshold is not null)
                    {
                        for (var i = 0; i < count; i++)
                        {
                            var tailProbability = tails.IsEmpty ? double.NaN : tails[i];
                            if (IsAnomaly(scores[i], tailProbability, threshold, tailThreshold))
                            {
                                if (tailProbability >= tailThreshold && batchTail is { } b)
                                {
                                    // Flagged by the score while the tail's sum stopped at the threshold: the event reports the whole tail.
                                    tailProbability = b.Tail.Probability(rows.Row(start + i), b.Model.Weights);
                                }

                                Anomalies++;
                                (events ??= []).Add(new ModelEvent
                                {
                                    ModelId = id, Type = ModelEventType.Anomaly, Time = timestamp, Observations = Observations + start + i + 1,
                                    Score = scores[i], TailProbability = TailOrNull(tailProbability), Row = rows.Row(start + i).ToArray(),
                                });
                            }
                        }
                    }
                }
            }

            if (scored > 0)
            {
                RecentMeanLogLikelihood = sum / scored;
            }
        }
        else
        {
            var sum = 0.0;
            var scored = 0;
            // Tails use the emissions as of the row where they were last factored, at most TailRefreshRows rows back (factoring
            // per row would cost K·d³ a row), from the first row after the warm-up on; each row's weights are its own predicted
            // regimes, p(state_t | rows before it) = φ_(t−1)·A.
            (GaussianHmm Model, MixtureTail Tail, int At)? hmmTail = null;
            var predicted = tailThreshold is null ? null : new double[Definition.Components];
            for (var i = 0; i < rows.Rows; i++)
            {
                var tailProbability = double.NaN;
                if (predicted is not null && _hmm!.HasModel)
                {
                    if ((hmmTail is null || i - hmmTail.Value.At >= TailRefreshRows) && _hmm.CurrentModel is { } current)
                    {
                        hmmTail = (current, MixtureTail.Of(current), i);
                    }

                    if (hmmTail is { } cached)
                    {
                        HmmForwardBackward.Predict(_hmm.RegimeProbabilities, cached.Model.Transitions, predicted.Length, predicted);
                        tailProbability = cached.Tail.Probability(rows.Row(i), predicted, tailThreshold!.Value);
                    }
                }

                double logDensity;
                try
                {
                    logDensity = _hmm!.Update(rows.Row(i));
                }
                catch (Exception e) when (IsRejection(e))
                {
                    (applied, rejection) = (i, e);
                    break;
                }

                applied = i + 1;
                if (double.IsNaN(logDensity))
                {
                    continue; // buffering: nothing to judge it by yet
                }

                // −∞ for a row so far out that its density underflows: left out of the recent mean, still judged (score +∞).
                if (double.IsFinite(logDensity))
                {
                    sum += logDensity;
                    scored++;
                }

                // The surprise, not the raw loss: the loss sits higher in a wide regime than in a narrow one, and a test on it
                // alarmed whenever a wide regime lasted (15 alarms in 40,000 rows of a stationary two-regime stream).
                if ((_hmmDrift ??= new PageHinkley()).Add(-logDensity - _hmm.LastExpectedLoss))
                {
                    _hmmDrift.Reset();
                    (events ??= []).Add(Drift(id, timestamp, Observations + i + 1, "the rows became more surprising than the regimes expect (Page-Hinkley); refitting on the recent window"));
                    _driftRefitWanted = true;
                }

                if (IsAnomaly(-logDensity, tailProbability, threshold, tailThreshold))
                {
                    if (tailProbability >= tailThreshold && hmmTail is { } cachedTail)
                    {
                        // Flagged by the score while the tail's sum stopped at the threshold: the event reports the whole tail.
                        tailProbability = cachedTail.Tail.Probability(rows.Row(i), predicted);
                    }

                    Anomalies++;
                    (events ??= []).Add(new ModelEvent
                    {
                        ModelId = id, Type = ModelEventType.Anomaly, Time = timestamp, Observations = Observations + i + 1, Score = -logDensity,
                        TailProbability = TailOrNull(tailProbability), Row = rows.Row(i).ToArray(),
                    });
                }

                var regime = _hmm.Regime;
                if (Regime is { } previous && previous != regime)
                {
                    (events ??= []).Add(new ModelEvent
                    {
                        ModelId = id, Type = ModelEventType.RegimeChanged, Time = timestamp, Observations = Observations + i + 1, FromRegime = previous, ToRegime = regime,
                    });
                }

                Regime = regime;
            }

            if (scored > 0)
            {
                RecentMeanLogLikelihood = sum / scored;
            }
        }

        // Only the rows the estimator took are counted, so the counts and the estimator always agree.
        _window.Add(rows.Values[..(applied * d)], applied, Observations + applied);
        TrackRate(applied, timestamp);
        Observations += applied;
        SinceRefit += applied;
        LastObservationAt = timestamp;
        RefreshWarnings(applied);
        if (rejection is not null)
        {
            (events ??= []).Add(new ModelEvent
            {
                ModelId = id, Type = ModelEventType.Failed, Time = timestamp, Observations = Observations,
                Message = $"rows {applied + 1}-{rows.Rows} of {rows.Rows} of the batch were not applied (the first {applied} were): {rejection.Message}",
            });
        }

        if (wasWarming && !WarmingUp)
        {
            (events ??= []).Add(new ModelEvent { ModelId = id, Type = ModelEventType.Ready, Time = timestamp, Observations = Observations });
        }

        RefitJob? job = null;
        if (Definition.Refit.EveryObservations is { } every && SinceRefit >= every && !RefitInFlight && !WarmingUp)
        {
            job = RequestRefit();
        }
        else if (_driftRefitWanted && !RefitInFlight && !WarmingUp && SinceDrift() >= DriftFitRows + DriftHeldOut)
        {
            // An HMM drift: refit once enough post-change rows arrived to fit the candidate on them and judge it on the newest.
            _driftRefitWanted = false;
            job = RequestRefit(afterDrift: true);
        }

        return (events, job);
    }

    /// <summary>Rows of one delivery an HMM's tail probabilities may use the same factored emissions for.</summary>
    private const int TailRefreshRows = 256;

    /// <summary>A row is an anomaly when its score exceeds the threshold or its tail probability is below the tail threshold (either one set).</summary>
    private static bool IsAnomaly(double score, double tail, double? threshold, double? tailThreshold) =>
        (threshold is { } t && score > t) || (tailThreshold is { } p && tail < p);

    private static double? TailOrNull(double tail) => double.IsNaN(tail) ? null : tail;

    /// <summary>
    /// Runs exactly the construction the grain runs when it activates (estimator, options, step-size schedule), so a
    /// definition that passes <see cref="Definitions.ModelDefinitionValidator"/> but cannot be built is refused before it is
    /// stored: <see cref="ModelValidationException"/> naming the cause.
    /// </summary>
    public static void EnsureBuildable(ModelDefinition definition)
    {
        try
        {
            _ = new ModelCore(definition, 0);
        }
        catch (Exception e) when (IsRejection(e))
        {
            throw new ModelValidationException("definition", $"the model cannot be built from this definition: {e.Message}");
        }
    }

    /// <summary>
    /// An estimator's refusal of rows it leaves itself unchanged by: a bad row (<see cref="ArgumentException"/>,
    /// <see cref="InvalidDataException"/>) or a batch that would make it numerically unusable (<see cref="InvalidOperationException"/>,
    /// <see cref="ArithmeticException"/>).
    /// </summary>
    internal static bool IsRejection(Exception e) =>
        e is ArgumentException or InvalidDataException or InvalidOperationException or ArithmeticException;

    /// <summary>
    /// A refit request record. The grain's own requests (its refit timer) are made only when a refit can start and stay silent
    /// when it no longer can by the time they apply. A user's request (<c>POST /refit</c>, any other producer) always gets
    /// an answer event: while warming up it ends the warm-up (the first fit on the rows buffered so far, a <c>ready</c>
    /// event) or is refused; otherwise it starts a refit (whose <c>refitAdopted</c> or <c>refitRejected</c> event follows)
    /// or is refused with a <c>refitRejected</c> event saying why: a refit already running (its own outcome event follows,
    /// this request adds nothing to it) or a window too small. The decision depends only on the state the log built, so a
    /// replay makes the same one.
    /// </summary>
    private (List<ModelEvent>?, RefitJob?) ApplyRefitRequest(bool requested, DateTimeOffset timestamp, string id)
    {
        if (!requested)
        {
            return (null, RequestRefit());
        }

        if (WarmingUp)
        {
            return (CompleteWarmUp(timestamp, id), null);
        }

        var refusal = RefitInFlight
            ? $"refit not started: refit {RefitRequested} is still running; its refitAdopted or refitRejected event answers this request too"
            : _window.Count < MinimumRefitWindow
                ? $"refit not started: the window holds {_window.Count} rows and a refit needs at least {MinimumRefitWindow}"
                : null;
        return refusal is null ? (null, RequestRefit()) : ([RefitRefused(refusal, timestamp, id)], null);
    }

    /// <summary>A user's refit request while warming up: the first fit now on the rows buffered so far, when they are enough.</summary>
    private List<ModelEvent> CompleteWarmUp(DateTimeOffset timestamp, string id)
    {
        var rows = WarmUpRows;
        string reason;
        try
        {
            if (_gmm?.TryCompleteWarmUp() ?? _hmm!.TryCompleteWarmUp())
            {
                RefreshWarnings(force: true);
                return
                [
                    new ModelEvent
                    {
                        ModelId = id, Type = ModelEventType.Ready, Time = timestamp, Observations = Observations,
                        Message = $"first fit on the {rows} rows buffered so far: a refit was requested before the warm-up was complete",
                    },
                ];
            }

            var column = UnderObservedColumn;
            reason = column < 0
                ? $"refit not started: the model is warming up and holds {rows} rows; a refit ends the warm-up early once it holds {EarlyFitMinimum} "
                    + $"({Definition.Components} × (dimension {Definition.Dimension} + 1)): {EarlyFitRemaining} more rows are needed ({WarmUpRemaining} for the automatic first fit)"
                : $"refit not started: the model is warming up and column {column} has fewer than {OnlineGaussianMixture.MinimumObservedPerColumn} observed values "
                    + $"among its {rows} buffered rows: the first fit cannot estimate that column yet";
        }
        catch (Exception e) when (IsRejection(e))
        {
            reason = $"refit not started: the first fit on the {rows} buffered rows failed, the model keeps warming up: {e.Message}";
        }

        return [RefitRefused(reason, timestamp, id)];
    }

    private ModelEvent RefitRefused(string reason, DateTimeOffset timestamp, string id) => new()
    {
        ModelId = id, Type = ModelEventType.RefitRejected, Time = timestamp, Observations = Observations, Message = reason,
    };

    /// <summary>Fewest window rows a refit runs on.</summary>
    private int MinimumRefitWindow => Math.Max(2 * Definition.Components, 10);

    private RefitJob? RequestRefit(bool afterDrift = false)
    {
        if (RefitInFlight || WarmingUp || _window.Count < MinimumRefitWindow)
        {
            return null;
        }

        RefitRequested++;
        SinceRefit = 0;
        if (afterDrift && _hmm is not null && LastDriftObservation is { } alarm)
        {
            // The rows after the alarm, less the newest, which judge it. A fit of the whole window (nearly all of it from
            // before the change) could not explain a regime that moved: after all three levels of a three-regime stream
            // jumped by 5 σ its candidate was adopted at −6.1 to −7.7 nats/row where the truth scores about −2.6, and nothing
            // mended it.
            // The states whose regimes these rows do not show are kept (HmmStateKeeping).
            _refitFitStart = alarm;
            _refitFitEnd = Observations - DriftHeldOut;
        }
        else
        {
            _refitFitStart = long.MinValue;
            _refitFitEnd = _hmm is not null ? Observations - HeldOutRows(_window.Count, LastDriftObservation is null ? null : SinceDrift()) : Observations;
        }

        return CreateJob(RefitRequested);
    }

    /// <summary>Newest post-change rows an HMM drift refit holds out to judge its candidate: <see cref="HeldOutAfterDrift"/>, at most a fifth of the window.</summary>
    private int DriftHeldOut => Math.Max(1, Math.Min(HeldOutAfterDrift, Definition.Refit.Window / 5));

    /// <summary>
    /// Post-change rows an HMM drift refit fits: ten per free parameter of the model, at least as many as it holds out, at
    /// most what the window holds besides those (230 for three states in two columns, full covariances).
    /// </summary>
    private int DriftFitRows
    {
        get
        {
            var free = _hmm?.Model?.ParameterCount ?? 0;
            return Math.Max(DriftHeldOut, Math.Min(10 * free, Definition.Refit.Window - DriftHeldOut));
        }
    }

    /// <summary>
    /// Rows of the window an HMM refit (by count, time or request; a drift alarm's own refit is
    /// <see cref="RequestRefit"/>'s) holds out to judge it: the newest fifth (at least one row); within a window of a drift
    /// alarm, half the rows since the alarm instead, no fewer than <see cref="HeldOutAfterDrift"/> and no more than the fifth.
    /// The held-out stretch is the newest, so a refit soon after a regime that was never seen before shows up held out all
    /// the rows that show it: the candidate, fitted on the rows before, could not explain them and was refused.
    /// </summary>
    internal static int HeldOutRows(int windowRows, long? sinceDrift = null)
    {
        var fifth = Math.Max(1, windowRows / 5);
        return sinceDrift is { } since && since < windowRows
            ? (int)Math.Clamp(since / 2, Math.Min(fifth, HeldOutAfterDrift), fifth)
            : fifth;
    }

    /// <summary>Every this-many-th row of the window (by observation number) is held out of a GMM refit to judge it.</summary>
    public const int HeldOutEvery = 5;

    private static bool IsHeldOut(long observation) => observation % HeldOutEvery == HeldOutEvery - 1;

    /// <summary>
    /// The job fits the window's rows before <see cref="_refitFitEnd"/>, except, for a GMM, every fifth one (by observation
    /// number); the rows not fitted, and those that arrive while it runs, are held out to judge it. A GMM's rows are
    /// exchangeable, so held-out rows spread over the window keep the judge fair to a drifting stream (a candidate fitted on
    /// older rows and judged on the newest always looks stale there); an HMM's are a sequence, so it holds out the newest fifth
    /// as one contiguous stretch.
    /// </summary>
    private RefitJob CreateJob(long sequence)
    {
        var (rows, first) = _window.CopyLatest();
        var (fit, _) = Split(rows, first);
        return new(sequence, Generation, Definition, fit, _gmm?.TryGetModel(out var m) == true ? m : null, _hmm?.Model);
    }

    /// <summary>The window's rows from <see cref="_refitFitStart"/> on (all of them for a refit not after a drift alarm).</summary>
    private DataMatrix PostAlarmRows(DataMatrix window, long first)
    {
        var skip = _refitFitStart <= first ? 0 : (int)Math.Min(_refitFitStart - first, window.Rows - 1);
        var d = window.Columns;
        return skip == 0 ? window : new DataMatrix(window.Values[(skip * d)..].ToArray(), window.Rows - skip, d);
    }

    /// <summary>The window's rows split into those a refit fits and those held out to judge it (order kept).</summary>
    private (DataMatrix Fit, DataMatrix Held) Split(DataMatrix rows, long first)
    {
        var d = Definition.Dimension;
        var fit = new List<double>(rows.Values.Length);
        var held = new List<double>(rows.Values.Length / HeldOutEvery);
        for (var i = 0; i < rows.Rows; i++)
        {
            var observation = first + i;
            if (observation < _refitFitStart)
            {
                continue; // before an HMM drift alarm: its refit neither fits nor is judged on them
            }

            var fitted = observation < _refitFitEnd && (_hmm is not null || !IsHeldOut(observation));
            (fitted ? fit : held).AddRange(rows.Row(i));
        }

        return (new DataMatrix([.. fit], fit.Count / d, d), new DataMatrix([.. held], held.Count / d, d));
    }

    private List<ModelEvent>? ApplyRefitResult(long sequence, double[] parameters, DateTimeOffset timestamp, string id)
    {
        if (sequence <= RefitApplied)
        {
            return null; // a duplicate: the same refit re-run after a crash, already applied from the log
        }

        RefitApplied = sequence;
        RefitRequested = Math.Max(RefitRequested, sequence);
        if (parameters.Length == 0)
        {
            return [new ModelEvent { ModelId = id, Type = ModelEventType.RefitRejected, Time = timestamp, Observations = Observations, Message = "the refit failed" }];
        }

        var (window, first) = _window.CopyLatest();
        // Judged on the rows as the fit saw them (RefitCodec): a glitch among the held-out rows, moved to the edge of the rest,
        // no longer decides the judgement alone (one reading of 10³ scored both models near −500 nats/row, and whichever was
        // wider where it lay won). The adoption below still learns the window as it came, bounded.
        var (fitted, held) = Split(InfluenceBound.WithoutGlitches(window), first);
        double before, after;
        string? degenerate;
        List<int>? kept = null;
        GaussianMixture? gmmCandidate = null;
        GaussianHmm? hmmCandidate = null;
        if (_gmm is not null)
        {
            gmmCandidate = RefitCodec.ToGmm(Definition, parameters);
            var current = _gmm.Model;
            degenerate = Degeneracy.Check(gmmCandidate, fitted.Rows > 0 ? fitted : window);
            var absent = AbsentComponents(current, fitted.Rows > 0 ? fitted : window);
            if (absent.Count > 0 && degenerate is null)
            {
                if (KeepAbsent(current, gmmCandidate, absent) is { } combined)
                {
                    gmmCandidate = combined;
                    kept = absent;
                }
            }

            (before, after) = Judge(held, current.Score, gmmCandidate.Score, current.ScoreSamples, gmmCandidate.ScoreSamples);
        }
        else
        {
            hmmCandidate = RefitCodec.ToHmm(Definition, parameters);
            var current = _hmm!.Model!;
            var rows = fitted.Rows > 0 ? fitted : window;

            // Kept states first: a fit of K states on rows that show fewer regimes may leave a state empty, which the merge
            // then absorbs at no cost; the kept states hold none of these rows by construction and are not checked.
            (hmmCandidate, kept) = HmmStateKeeping.KeepAbsent(current, hmmCandidate, rows);

            degenerate = Degeneracy.Check(hmmCandidate, rows, kept);

            (before, after) = Judge(held, current.Score, hmmCandidate.Score, current.PredictiveLogDensities, hmmCandidate.PredictiveLogDensities);
        }

        // A candidate fitted on the window always scores well on it, a degenerate one best of all: it is judged on the rows it
        // was not fitted on (every fifth row of the window and the rows that arrived while it ran) and refused when degenerate.
        string? reason = degenerate is not null
            ? $"degenerate candidate: {degenerate}"
            : !(after > before)
                ? $"the candidate explains the {held.Rows} held-out recent rows worse ({after:F4} vs {before:F4} nats/row)"
                : null;
        var adopt = reason is null;
        RefitGap = double.IsFinite(after - before) ? after - before : null;
        RefitGapObservation = Observations;
        LastRefitRejection = reason;
        if (adopt)
        {
            if (gmmCandidate is not null)
            {
                if (kept is not null)
                {
                    // The kept components hold what they held: an E-step of the window would empty them.
                    _gmm!.AdoptParameters(gmmCandidate, window.Values);
                }
                else
                {
                    _gmm!.Adopt(gmmCandidate, window.Values);
                }
            }
            else
            {
                // The online HMM keeps its step-size position (a restart at n = 0 makes γ ≈ 1 and the next rows replace the
                // statistics wholesale); the filter is brought up to date over the window, so the regime stays continuous.
                // Kept states keep their weight and the transitions into them (an E-step of the window would empty both).
                // After a drift alarm, over the rows since: the statistics of the window's older rows under the new parameters
                // pulled a candidate adopted at the truth's score 0.4 nats/row away from it again within 30,000 rows.
                var since = PostAlarmRows(window, first);
                if (kept is not null)
                {
                    _hmm!.AdoptParameters(hmmCandidate!, since);
                }
                else
                {
                    _hmm!.Adopt(hmmCandidate!, since);
                }

                Regime = _hmm.Regime;
            }

            Refits++;
            LastRefitAt = timestamp;
        }

        RefreshWarnings(force: true);
        return
        [
            new ModelEvent
            {
                ModelId = id, Type = adopt ? ModelEventType.RefitAdopted : ModelEventType.RefitRejected, Time = timestamp, Observations = Observations,
                Before = before, After = after,
                Message = reason ?? $"judged on {held.Rows} held-out recent rows"
                    + (kept is null ? string.Empty : _gmm is not null
                        ? $"; components {string.Join(", ", kept)}, whose modes the window does not show, kept as they were"
                        : $"; states {string.Join(", ", kept)}, whose regimes the window does not show, kept as they were"),
            },
        ];
    }

    /// <summary>
    /// The components whose modes the window does not show: each of some weight (at least 10⁻³) that takes less than a
    /// twentieth of that weight of the window's responsibilities. A machine that stays longer than a window in some of its
    /// modes gives such windows; a refit of K components on one put them all on the modes it showed, was adopted (its
    /// held-out rows come from the same window) and the model forgot the others
    /// (<c>ModelCoreRefitTests.Apply_ModesArriveInRunsLongerThanTheWindow_…</c>).
    /// </summary>
    internal static List<int> AbsentComponents(GaussianMixture current, DataMatrix window)
    {
        var k = current.Components;
        var n = window.Rows;
        var responsibilities = new double[n * k];
        current.PredictProba(window, responsibilities);
        var absent = new List<int>();
        for (var j = 0; j < k; j++)
        {
            var weight = current.Weights[j];
            var share = 0.0;
            for (var i = 0; i < n; i++)
            {
                share += responsibilities[(i * k) + j];
            }

            if (weight >= 1e-3 && share / n < weight / 20)
            {
                absent.Add(j);
            }
        }

        return absent;
    }

    /// <summary>
    /// The refit for what the window shows and the <paramref name="absent"/> components as they are: the candidate's K
    /// components (sharing the weight the absent ones do not hold) are reduced to K − |absent| by Runnalls' merging
    /// (<see cref="MixtureReduction"/>: a refit of a window that shows fewer modes than K splits some of them, and those
    /// halves merge first), and the absent ones keep their weights, means and covariances. Null for a tied covariance, or when
    /// making room would merge distinct modes (<see cref="MixtureReduction.MaxSplitMergeCost"/>): the candidate is then judged as it is.
    /// </summary>
    private GaussianMixture? KeepAbsent(GaussianMixture current, GaussianMixture candidate, List<int> absent)
    {
        if (candidate.CovarianceType == CovarianceType.Tied)
        {
            return null;
        }

        var k = current.Components;
        var keptWeight = absent.Sum(j => current.Weights[j]);
        var pool = new MixtureReduction.Pool(k + absent.Count, Definition.Dimension);
        for (var i = 0; i < k; i++)
        {
            pool.Set(i, candidate, i, (1 - keptWeight) * candidate.Weights[i], MixtureReduction.Role.Free);
        }

        for (var a = 0; a < absent.Count; a++)
        {
            pool.Set(k + a, current, absent[a], current.Weights[absent[a]], MixtureReduction.Role.Locked);
        }

        return pool.ReduceTo(k, candidate.CovarianceType, MixtureReduction.MaxSplitMergeCost);
    }

    /// <summary>
    /// The current model's and the candidate's mean log-likelihood on the held-out rows. When a held-out row is so far out that
    /// its density underflows (a glitch of 1e100 in data of scale 1e-60), the whole score is −∞ or throws: such a result record
    /// could not be applied, the refit stayed in flight and the model never refitted again. Then the judgement is the mean
    /// over the rows both models can score (a row neither can score tells them apart no better).
    /// </summary>
    private static (double Before, double After) Judge(
        DataMatrix held, Func<DataMatrix, double> currentScore, Func<DataMatrix, double> candidateScore,
        SpanAction<DataMatrix> currentRows, SpanAction<DataMatrix> candidateRows)
    {
        try
        {
            var (before, after) = (currentScore(held), candidateScore(held));
            if (double.IsFinite(before) && double.IsFinite(after))
            {
                return (before, after);
            }
        }
        catch (InvalidOperationException)
        {
            // Not finite somewhere: judged row by row below.
        }

        var a = new double[held.Rows];
        var b = new double[held.Rows];
        currentRows(held, a);
        candidateRows(held, b);
        double sumA = 0, sumB = 0;
        var n = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (double.IsFinite(a[i]) && double.IsFinite(b[i]))
            {
                sumA += a[i];
                sumB += b[i];
                n++;
            }
        }

        return n == 0 ? (double.NaN, double.NaN) : (sumA / n, sumB / n);
    }

    private delegate void SpanAction<in T>(T data, Span<double> destination);

    /// <summary>The definition's regime confidence, or the default (0.5: the most likely regime).</summary>
    internal static double RegimeConfidence(ModelDefinition definition) => definition.RegimeConfidence ?? Numerics.Hmm.RegimeTracking.Confidence;

    private void CreateEstimator()
    {
        if (Definition.Kind == ModelKind.Gmm)
        {
            _gmm = OnlineGaussianMixture.Create(GmmOptions(Definition), Definition.Dimension);
        }
        else
        {
            _hmm = new OnlineGaussianHmm(HmmOptions(Definition), Definition.Dimension) { RegimeConfidence = RegimeConfidence(Definition) };
        }
    }

    internal static StepSizeSchedule Schedule(ModelDefinition definition, StepSizeSchedule fallback) =>
        definition.HalfLife is { } h ? StepSizeSchedule.FromHalfLife(h)
        : definition.Alpha is { } a ? StepSizeSchedule.Decaying(a, averagingStart: AveragingStart)
        : fallback;

    /// <summary>Polyak–Ruppert averaging starts after this many observations when the definition gives alpha.</summary>
    public const long AveragingStart = 1_000;

    internal static OnlineGmmOptions GmmOptions(ModelDefinition definition) => new()
    {
        Components = definition.Components,
        Covariance = definition.Covariance,
        WarmUpObservations = definition.WarmUp ?? OnlineGmmOptions.DefaultWarmUpObservations,
        StepSize = Schedule(definition, StepSizeSchedule.Decaying()),
        Seed = definition.Seed,
    };

    internal static OnlineHmmOptions HmmOptions(ModelDefinition definition)
    {
        var defaults = new OnlineHmmOptions { States = definition.Components };
        return defaults with
        {
            Covariance = definition.Covariance,

            // The parameters stay frozen for as many statistics steps as the buffer holds by default (1,000 of 1,000): a chosen
            // warm-up keeps that pairing, so online learning starts right after the buffer is replayed, as it does by default.
            BufferSize = definition.WarmUp ?? defaults.BufferSize,
            BurnIn = definition.WarmUp ?? defaults.BurnIn,
            StepSize = Schedule(definition, defaults.StepSize),
            BufferFit = new HmmFitOptions { States = definition.Components, Covariance = definition.Covariance, Seed = definition.Seed },
        };
    }
}
