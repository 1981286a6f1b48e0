using System.Runtime.InteropServices;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    // A refit on post-change rows replaces the recursion only when it explains the held-out newest fifth of those rows
    // better than the current parameters by this much (nats/row): after a false alarm the current parameters, backed by far
    // more rows, normally win, and the estimator then keeps them.
    private const double DriftAdoptionMargin = 0.01;

    private PageHinkley? _drift;
    private List<double>? _driftRows;

    // The reported parameters when the alarm fired: what the model knew before the change. The recursion keeps learning while
    // the post-change rows are collected, and a component it stretches towards them is no memory of anything.
    private GmmParameters? _alarmParams;
    private long _drifts;
    private long _driftRefits;
    private long _lastDriftObservation = -1;

    /// <summary>Abrupt changes detected so far (Page–Hinkley alarms on the rows' surprise, see <see cref="OnlineGmmOptions.DetectDrift"/>).</summary>
    public long DriftsDetected => _drifts;

    /// <summary>Refits on post-change rows adopted after a drift alarm.</summary>
    public long DriftRefits => _driftRefits;

    /// <summary>Observation number (1-based, as <see cref="Observations"/>) of the last drift alarm, or −1.</summary>
    public long LastDriftObservation => _lastDriftObservation;

    /// <summary>True while post-change rows are being collected for the refit that follows a drift alarm.</summary>
    public bool IsRecoveringFromDrift => _driftRows is not null;

    /// <summary>
    /// Feeds the batch's surprises (<see cref="RowSurprise"/>) to the change detector; on an alarm starts collecting the rows from the alarm on,
    /// and once <see cref="DriftRows"/> rows are collected refits on them and adopts the refit (keeping the schedule position)
    /// when it explains the newest of them better. Returns true when an alarm fired in this batch.
    /// </summary>
    private bool WatchDrift(ReadOnlySpan<double> rows, int m, long seen)
    {
        if (_drift is null)
        {
            return false;
        }

        var alarmed = false;
        var first = m;
        if (_driftRows is null)
        {
            for (var i = 0; i < m; i++)
            {
                if (_drift.Add(_batchSurprise[i]))
                {
                    alarmed = true;
                    _drifts++;
                    _lastDriftObservation = seen + i + 1;
                    _driftRows = new List<double>(DriftRows * _d);
                    _alarmParams = Reported.Clone();
                    first = i;
                    break;
                }
            }
        }
        else
        {
            first = 0;
        }

        if (_driftRows is null)
        {
            return false;
        }

        foreach (var v in rows.Slice(first * _d, (m - first) * _d))
        {
            _driftRows.Add(v);
        }

        if (_driftRows.Count / _d >= DriftRows)
        {
            RecoverFromDrift();
        }

        return alarmed;
    }

    /// <summary>
    /// Rows collected after a drift alarm before the refit: the warm-up size, and at least 10 per free parameter (the automatic
    /// warm-up's rule). A warm-up set smaller (a fast first fit, down to K × (d + 1) rows) gave refits of a handful of rows,
    /// refused as degenerate or adopted while far off, and the model stayed 0.07 to 1.3 nats/row from the new truth.
    /// </summary>
    private int DriftRows => (int)Math.Min(int.MaxValue, Math.Max(_options.EffectiveWarmUp(_d), 10L * GmmParameters.FreeParameters(_type, _k, _d)));

    private void RecoverFromDrift()
    {
        var all = CollectionsMarshal.AsSpan(_driftRows).ToArray();
        var before = new GaussianMixture(_alarmParams!);
        _driftRows = null;
        _alarmParams = null;
        _drift!.Reset();
        var n = all.Length / _d;
        var fitRows = n - Math.Max(1, n / 5);
        if (fitRows < _k)
        {
            return;
        }

        // Glitches moved to the edge of the rest, as for the warm-up fit and the service's refits.
        var (fitData, held) = InfluenceBound.SplitWithoutGlitches(all, _d, fitRows);
        var current = new GaussianMixture(Reported.Clone());
        var options = BatchFitOptions(_rng.NextUInt64());
        GaussianMixture candidate;
        try
        {
            // Fresh k-means++ restarts find clusters that moved far; the warm start keeps the components that did not move.
            // A fit of a few hundred rows can put a component on one or two outliers and win on likelihood: such degenerate
            // candidates are refused (Degeneracy), as the service refuses its refits.
            // Each fit on its own (FitCandidates): a warm start far from where the data went can fail (a jump of 3e10 σ did).
            var usable = FitCandidates.Run(() => GaussianMixtureEM.Fit(fitData, options), () => GaussianMixtureEM.Fit(fitData, options with { WarmStart = current }))
                .Results
                .Where(f => Degeneracy.Check(f.Model, fitData) is null)
                .OrderByDescending(f => f.MeanLogLikelihood)
                .FirstOrDefault();
            if (usable is null)
            {
                return;
            }

            // When the rows show fewer modes than the model has, the current components keep the other slots.
            var keeping = KeepWhatTheRowsDoNotShow(fitData, before, usable, options);
            candidate = keeping ?? usable.Model;
            if (!(candidate.Score(held) > current.Score(held) + DriftAdoptionMargin))
            {
                return;
            }

            if (keeping is null)
            {
                Adopt(candidate, all);
            }
            else
            {
                AdoptParameters(candidate, all);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Post-change rows the batch fit cannot use (a column never observed, a singular fit): keep the recursion as is.
            return;
        }

        _driftRefits++;
    }
}
