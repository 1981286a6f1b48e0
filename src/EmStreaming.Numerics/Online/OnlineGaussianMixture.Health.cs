using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    // Re-seeding draws among this many of the worst-explained recent rows, so two components re-seeded together (or
    // in consecutive batches) do not land on the same outlier.
    private const int ReseedCandidates = 4;

    private OnlineBatchResult WarmUp(ReadOnlySpan<double> rows, int m, Span<double> anomalyScores)
    {
        var buffer = _warmUp!;
        var before = buffer.Rows;
        var size = _options.EffectiveWarmUp(_d);
        buffer.Append(rows);
        var ready = buffer.Rows >= size && buffer.ShortColumn() < 0;
        if (ready)
        {
            try
            {
                Initialize(buffer.Values.ToArray(), buffer.Rows);
            }
            catch
            {
                buffer.Truncate(before); // a rejected batch changes nothing
                throw;
            }
        }
        else
        {
            // Enough rows but a column short of observed values: the fit waits, on the newest rows (memory stays bounded).
            buffer.KeepNewest(size);
        }

        _observations += m;
        FillNaN(anomalyScores, m);
        return new OnlineBatchResult(m, _observations, double.NaN, !ready, 0);
    }

    /// <summary>Makes <paramref name="stats"/> the running statistics, with spare and batch buffers about the same origin (the recursion mixes all three).</summary>
    private void UseStatistics(GmmSufficientStatistics stats)
    {
        _stats = stats;
        _spareStats = stats.CreateEmpty();
        _batchStats = stats.CreateEmpty();
    }

    /// <summary>Cold start: batch EM with restarts on the buffered rows, then S = mean statistic of those rows under the fit.</summary>
    private void Initialize(double[] all, int n)
    {
        var origin = DataMatrix.ObservedColumnCentres(all.AsSpan(0, n * _d), _d);

        var rng = _rng;
        CovarianceFloor.FromData(all.AsSpan(0, n * _d), _d, _options.RelativeRegCovar, _floor);
        // A glitch among the buffered rows gets no component of its own (InfluenceBound.WithoutGlitches), and the rows' statistics
        // are bounded as the recursion bounds them; their scores are of the rows as they came.
        var fit = GaussianMixtureEM.Fit(InfluenceBound.WithoutGlitches(new DataMatrix(all, n, _d)), BatchFitOptions(rng.NextUInt64())).Model.Parameters;

        var stats = new GmmSufficientStatistics(_k, _d, _type, origin);
        stats.ResetOrigins(fit.Means); // each component's statistics about its own mean (modes far apart: FarApartModesTests)
        var weight = 1.0 / n;
        var logp = new double[n];
        var lo = new double[_d];
        var hi = new double[_d];
        var bounded = new double[_d];
        InfluenceBound.Range(fit, lo, hi);
        for (var i = 0; i < n; i++)
        {
            var x = all.AsSpan(i * _d, _d);
            logp[i] = Responsibilities(fit, x, _responsibilities);
            var learned = InfluenceBound.Within(x, lo, hi, bounded);
            if (learned != x)
            {
                Responsibilities(fit, learned, _responsibilities);
            }

            stats.AccumulateRow(learned, _responsibilities, fit, _rowScratch, weight);
        }

        var p = new GmmParameters(_k, _d, _type);
        stats.MaximizeInto(p, _options.RegCovar, _floor, _degenerate);

        // Commit.
        UseStatistics(stats);
        _params = p;
        _spareParams = new GmmParameters(_k, _d, _type);
        _rng = rng;
        _warmUp = null;
        for (var i = Math.Max(0, n - _recentLogDensity.Length); i < n; i++)
        {
            Remember(all.AsSpan(i * _d, _d), logp[i]);
        }

        _view = null;
    }

    /// <summary>
    /// Settings of the estimator's own batch fits (the warm-up fit and the post-change refits): its covariance settings,
    /// <see cref="OnlineGmmOptions.WarmUpRestarts"/> restarts of one start each (those restarts were measured for it,
    /// docs/benchmarks.md "Online GMM" D), one thread (it runs inside an update).
    /// </summary>
    private GmmFitOptions BatchFitOptions(ulong seed) => new()
    {
        Components = _k,
        Covariance = _type,
        RegCovar = _options.RegCovar,
        RelativeRegCovar = _options.RelativeRegCovar,
        Restarts = _options.WarmUpRestarts,
        ShortRuns = 1,
        Seed = seed,
        MaxDegreeOfParallelism = 1,
    };

    /// <summary>
    /// Re-seeds every component the M-step flagged degenerate or whose weight fell below the threshold at one of the
    /// worst-explained recent rows (this batch included), with the weight of an average component and the mean
    /// within-component covariance, then runs the M-step again. Returns the number re-seeded.
    /// </summary>
    private int Reseed(GmmSufficientStatistics stats, GmmParameters p, ReadOnlySpan<double> batchRows, int m, ref DeterministicRandom rng)
    {
        var count = 0;
        Span<bool> light = _k <= 256 ? stackalloc bool[_k] : new bool[_k];
        for (var k = 0; k < _k; k++)
        {
            if (_degenerate[k] || p.Weights[k] < _options.ReseedWeight)
            {
                light[k] = !_degenerate[k];
                _degenerate[k] = true;
                count++;
            }
        }

        if (count == 0 || count == _k)
        {
            return 0;
        }

        // Mean within-component covariance of the healthy components (a typical cluster shape), and the mixture mean to
        // fill the missing entries of a chosen row.
        var sigma = _dd.AsSpan();
        sigma.Clear();
        var cov = _dd2.AsSpan();
        var healthy = 0.0;
        for (var k = 0; k < _k; k++)
        {
            if (_degenerate[k])
            {
                continue;
            }

            p.ExpandCovariance(k, cov);
            for (var i = 0; i < sigma.Length; i++)
            {
                sigma[i] += p.Weights[k] * cov[i];
            }

            healthy += p.Weights[k];
        }

        for (var i = 0; i < sigma.Length; i++)
        {
            sigma[i] /= healthy;
        }

        var total = stats.TotalWeight;
        var share = total / _k;
        Span<double> x = _d <= 256 ? stackalloc double[_d] : new double[_d];
        if (_used.Length < _recentLogDensity.Length + m)
        {
            _used = new bool[_recentLogDensity.Length + m];
        }

        var used = _used.AsSpan(0, _recentLogDensity.Length + m);
        used.Clear();
        var s0 = stats.S0;
        var s1 = stats.S1;
        var s2 = stats.S2;
        for (var k = 0; k < _k; k++)
        {
            if (!_degenerate[k])
            {
                continue;
            }

            PickPoorlyExplained(batchRows, m, used, x, ref rng);

            // A component that only went light (its mode has not shown for long: a machine staying in its other modes) is
            // a memory, not a spare: it moves only when the worst-explained recent row is one no healthy component explains.
            // Re-seeded at the tail of a mode the stream stays in, it became a stray that displaced the memory of a real
            // mode (StickyModesTests, the service's runs of 5,000 rows).
            if (light[k] && ExplainedByAHealthyComponent(p, x))
            {
                _degenerate[k] = false;
                count--;
                continue;
            }

            for (var j = 0; j < _d; j++)
            {
                if (double.IsNaN(x[j]))
                {
                    var mu = 0.0;
                    for (var c = 0; c < _k; c++)
                    {
                        mu += p.Weights[c] * p.Means[(c * _d) + j];
                    }

                    x[j] = mu;
                }
            }

            // Remove the component's own statistics; a tied s2 is pooled, so take its expected share out instead.
            if (_type == CovarianceType.Tied)
            {
                p.ExpandCovariance(k, cov);
                stats.AddPoint(k, -s0[k], p.Means.AsSpan(k * _d, _d), _allIndices, cov);
            }
            else
            {
                var len = GmmSufficientStatistics.S2Length(_type, _k, _d) / _k;
                s2.Slice(k * len, len).Clear();
            }

            s0[k] = 0;
            s1.Slice(k * _d, _d).Clear();
            stats.AddPoint(k, share, x, _allIndices, sigma);
        }

        stats.MaximizeInto(p, _options.RegCovar, _floor, _degenerate);
        return count;
    }

    /// <summary>Rows outside every healthy component's χ² tail of this probability (observed entries) are not explained.</summary>
    private const double ExplainedTail = 1e-6;

    /// <summary>
    /// Whether a component not flagged degenerate puts <paramref name="x"/> (NaN = missing) within its
    /// <see cref="ExplainedTail"/> Mahalanobis tail: P(χ²_|o| ≥ m²) above it.
    /// </summary>
    private bool ExplainedByAHealthyComponent(GmmParameters p, ReadOnlySpan<double> x)
    {
        p.LogDensitiesRow(x, _logDensity2, _rowScratch, _normalizers);
        var observed = GmmParameters.CountObserved(x);
        for (var c = 0; c < _k; c++)
        {
            // log N = normalizer − ½ m².
            if (!_degenerate[c] && ChiSquare.Survival(observed, 2 * (_normalizers[c] - _logDensity2[c])) > ExplainedTail)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Copies into x one of the few lowest-density rows among the recent ring and this batch not yet used.</summary>
    private void PickPoorlyExplained(ReadOnlySpan<double> batchRows, int m, Span<bool> used, Span<double> x, ref DeterministicRandom rng)
    {
        var ring = _recentLogDensity.Length;
        Span<int> best = stackalloc int[ReseedCandidates];
        var found = 0;
        for (var c = 0; c < ring + m; c++)
        {
            if (used[c] || (c < ring && c >= _recentCount))
            {
                continue;
            }

            var score = c < ring ? _recentLogDensity[c] : _batchLogDensity[c - ring];
            // Insertion into the short sorted list of the lowest densities.
            var pos = found;
            while (pos > 0 && Score(best[pos - 1]) > score)
            {
                if (pos < ReseedCandidates)
                {
                    best[pos] = best[pos - 1];
                }

                pos--;
            }

            if (pos < ReseedCandidates)
            {
                best[pos] = c;
                found = Math.Min(found + 1, ReseedCandidates);
            }
        }

        var chosen = best[rng.NextInt(found)];
        used[chosen] = true;
        var src = chosen < ring ? _recentRows.AsSpan(chosen * _d, _d) : batchRows.Slice((chosen - ring) * _d, _d);
        src.CopyTo(x);

        double Score(int c) => c < ring ? _recentLogDensity[c] : _batchLogDensity[c - ring];
    }

    private static void FillNaN(Span<double> destination, int m)
    {
        if (!destination.IsEmpty)
        {
            destination[..m].Fill(double.NaN);
        }
    }
}
