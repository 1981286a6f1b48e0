using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Grains.Models;

internal sealed partial class ModelCore
{
    /// <summary>
    /// Post-change rows an HMM refit after a drift alarm holds out to judge the candidate; the refit is requested once twice
    /// as many arrived, so it fits the others (<see cref="HeldOutRows"/>).
    /// </summary>
    public const int HeldOutAfterDrift = 200;

    /// <summary>
    /// The degenerate-state check runs on the newest rows at most once per this many observations (and after every refit): it
    /// scores 2,000 rows, so every 10,000 rows it costs a fifth of a row's scoring per row, well below an online update.
    /// </summary>
    public const int WarningInterval = 10_000;

    private const int WarningRows = 2_000;

    private bool _driftRefitWanted;
    private long _sinceWarnings;
    private bool _warmUpWarning;
    private DateTimeOffset? _rateStart;
    private long _rateRows;

    /// <summary>Candidate minus online model, nats/row, on the held-out rows of the last refit (positive: the refit explained recent rows better).</summary>
    public double? RefitGap { get; private set; }

    /// <summary>Observation count when <see cref="RefitGap"/> was measured.</summary>
    public long? RefitGapObservation { get; private set; }

    /// <summary>Why the last refit was refused, or null when it was adopted (or none ran).</summary>
    public string? LastRefitRejection { get; private set; }

    /// <summary>Abrupt changes detected.</summary>
    public long Drifts { get; private set; }

    public DateTimeOffset? LastDriftAt { get; private set; }

    public long? LastDriftObservation { get; private set; }

    /// <summary>Degenerate components or states of the current model on the newest rows (empty when healthy).</summary>
    public IReadOnlyList<string> Warnings { get; private set; } = [];

    /// <summary>Rows per second of event time over the last completed second or more, or null before one.</summary>
    public double? ObservationsPerSecond { get; private set; }

    /// <summary>The live health figures, as the status reports them.</summary>
    public ModelHealth Health => new()
    {
        RefitGap = RefitGap, RefitGapObservations = RefitGapObservation, LastRefitRejection = LastRefitRejection, Drifts = Drifts,
        LastDriftAt = LastDriftAt, LastDriftObservation = LastDriftObservation, Warnings = [.. Warnings], ObservationsPerSecond = ObservationsPerSecond,
    };

    private long SinceDrift() => LastDriftObservation is { } at ? Observations - at : 0;

    private ModelEvent Drift(string id, DateTimeOffset timestamp, long observation, string message)
    {
        Drifts++;
        LastDriftAt = timestamp;
        LastDriftObservation = observation;
        return new ModelEvent { ModelId = id, Type = ModelEventType.Drift, Time = timestamp, Observations = observation, Message = message };
    }

    /// <summary>Rows per second by the batches' own timestamps (simulated time in tests, event time in production).</summary>
    private void TrackRate(int rows, DateTimeOffset timestamp)
    {
        if (_rateStart is null)
        {
            _rateStart = timestamp; // the rows stamped at the start of the interval are not part of it
            return;
        }

        _rateRows += rows;
        var seconds = (timestamp - _rateStart.Value).TotalSeconds;
        if (seconds < 0)
        {
            _rateStart = timestamp; // the clock went back (a replay): start over
            _rateRows = 0;
            return;
        }

        if (seconds >= 1)
        {
            ObservationsPerSecond = _rateRows / seconds;
            _rateStart = timestamp;
            _rateRows = 0;
        }
    }

    /// <summary>Re-checks the current model for degenerate components or states on the newest rows (every <see cref="WarningInterval"/> rows, or now).</summary>
    private void RefreshWarnings(int rows = 0, bool force = false)
    {
        _sinceWarnings += rows;
        if (WarmingUp)
        {
            // A warm-up buffer that leaves a column (nearly) unobserved keeps warming up past its size: say why.
            var column = _gmm?.WaitingForColumn ?? _hmm!.WaitingForColumn;
            Warnings = column >= 0
                ? [$"column {column} has fewer than {OnlineGaussianHmm.MinimumObservedPerColumn} observed values in the buffered rows; the first fit waits for them (it cannot estimate that column)"]
                : [];
            _warmUpWarning = Warnings.Count > 0;
            return;
        }

        // The first check after the warm-up replaces a warm-up warning at once.
        if (!force && _sinceWarnings < WarningInterval && !_warmUpWarning)
        {
            return;
        }

        _sinceWarnings = 0;
        _warmUpWarning = false;
        var recent = _window.CopyLatest(WarningRows).Rows;
        if (recent.Rows == 0)
        {
            return;
        }

        string? problem = null;
        if (_gmm is not null && _gmm.TryGetModel(out var gmm))
        {
            problem = Degeneracy.Check(gmm, recent);
        }
        else if (_hmm?.Model is { } hmm)
        {
            problem = Degeneracy.Check(hmm, recent);
        }

        Warnings = problem is null ? [] : [problem];
    }
}
