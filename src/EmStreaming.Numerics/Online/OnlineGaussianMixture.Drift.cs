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
    private long _drifts;
    private long _driftRefits;
    private long _lastDriftObservation = -1;

    /// <summary>Abrupt changes detected so far (Page–Hinkley alarms on the prequential log-likelihood).</summary>
    public long DriftsDetected => _drifts;

    /// <summary>Refits on post-change rows adopted after a drift alarm.</summary>
    public long DriftRefits => _driftRefits;

    /// <summary>Observation number (1-based, as <see cref="Observations"/>) of the last drift alarm, or −1.</summary>
    public long LastDriftObservation => _lastDriftObservation;

    /// <summary>True while post-change rows are being collected for the refit that follows a drift alarm.</summary>
    public bool IsRecoveringFromDrift => _driftRows is not null;

    /// <summary>
    /// Feeds the batch's prequential losses to the change detector; on an alarm starts collecting the rows from the alarm on,
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
                if (_drift.Add(-_batchLogDensity[i]))
                {
                    alarmed = true;
                    _drifts++;
                    _lastDriftObservation = seen + i + 1;
                    _driftRows = new List<double>(DriftRows * _d);
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

    /// <summary>Rows collected after a drift alarm before the refit: the warm-up size (enough for the parameter count).</summary>
    private int DriftRows => _options.EffectiveWarmUp(_d);

    private void RecoverFromDrift()
    {
        var all = CollectionsMarshal.AsSpan(_driftRows).ToArray();
        _driftRows = null;
        _drift!.Reset();
        var n = all.Length / _d;
        var fitRows = n - Math.Max(1, n / 5);
        if (fitRows < _k)
        {
            return;
        }

        var fitData = new DataMatrix(all.AsSpan(0, fitRows * _d).ToArray(), fitRows, _d);
        var held = new DataMatrix(all.AsSpan(fitRows * _d).ToArray(), n - fitRows, _d);
        var current = new GaussianMixture(Reported.Clone());
        var options = new GmmFitOptions
        {
            Components = _k,
            Covariance = _type,
            RegCovar = _options.RegCovar,
            RelativeRegCovar = _options.RelativeRegCovar,
            Restarts = _options.WarmUpRestarts,
            ShortRuns = 1, // as the warm-up fit: its restarts on a few hundred rows
            Seed = _rng.NextUInt64(),
            MaxDegreeOfParallelism = 1,
        };
        GaussianMixture candidate;
        try
        {
            // Fresh k-means++ restarts find clusters that moved far; the warm start keeps the components that did not move.
            // A fit of a few hundred rows can put a component on one or two outliers and win on likelihood: such degenerate
            // candidates are refused (Degeneracy), as the service refuses its refits.
            var fresh = GaussianMixtureEM.Fit(fitData, options);
            var warm = GaussianMixtureEM.Fit(fitData, options with { WarmStart = current });
            var usable = new[] { fresh, warm }
                .Where(f => Degeneracy.Check(f.Model, fitData) is null)
                .OrderByDescending(f => f.MeanLogLikelihood)
                .FirstOrDefault();
            if (usable is null)
            {
                return;
            }

            candidate = usable.Model;
            if (!(candidate.Score(held) > current.Score(held) + DriftAdoptionMargin))
            {
                return;
            }

            Adopt(candidate, all);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Post-change rows the batch fit cannot use (a column never observed, a singular fit): keep the recursion as is.
            return;
        }

        _driftRefits++;
    }
}
