using System.Buffers;
using System.Numerics.Tensors;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    /// <summary>
    /// Learns from one mini-batch: scores every row under the current parameters (prequential), then applies one
    /// statistics step and one M-step. While warming up the rows are buffered instead, and the batch that completes
    /// the buffer (with every column observed at least twice in it) triggers the cold-start fit.
    /// </summary>
    /// <param name="rows">Row-major batch of m ≥ 1 rows of <see cref="Dimension"/> values; NaN = missing.</param>
    /// <param name="anomalyScores">
    /// Optional destination (empty, or at least m entries) for each row's anomaly score −log p(x) under the parameters held
    /// before the batch; NaN for rows that arrived while warming up.
    /// </param>
    /// <returns>What the batch did, with its prequential mean log-likelihood.</returns>
    /// <remarks>
    /// The statistics take each row with every entry moved into the model's range for its column (<see cref="InfluenceBound"/>),
    /// so one glitch reading cannot wreck a component; the scores, the drift detector and the re-seeding memory use the rows
    /// as they came.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// The length is not a positive multiple of <see cref="Dimension"/>, a row holds ±∞ or no observed value (the message
    /// names the zero-based row and column), or the destination is too short. Nothing changed. (Warm-up rows that leave a
    /// column with fewer than two observed values are buffered, not refused: the first fit waits, see <see cref="WaitingForColumn"/>.)
    /// </exception>
    /// <exception cref="InvalidOperationException">The batch would overflow the statistics (values too large). Nothing changed.</exception>
    public OnlineBatchResult Update(ReadOnlySpan<double> rows, Span<double> anomalyScores = default)
    {
        var m = ValidateRows(rows, anomalyScores, requireDestination: false, out var complete);
        return IsWarmingUp ? WarmUp(rows, m, anomalyScores) : Learn(rows, m, complete, anomalyScores);
    }

    /// <summary>Learns from the rows of <paramref name="batch"/> as one mini-batch; see <see cref="Update(ReadOnlySpan{double}, Span{double})"/>.</summary>
    /// <exception cref="ArgumentException">The batch has the wrong number of columns, or a row is invalid.</exception>
    public OnlineBatchResult Update(DataMatrix batch, Span<double> anomalyScores = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Columns != _d)
        {
            throw new ArgumentException($"the batch has {batch.Columns} columns but the model has {_d}.", nameof(batch));
        }

        return Update(batch.Values, anomalyScores);
    }

    /// <summary>Checks the batch shape and rows; <paramref name="complete"/> = no entry is missing.</summary>
    private int ValidateRows(ReadOnlySpan<double> rows, Span<double> destination, bool requireDestination, out bool complete)
    {
        if (rows.Length == 0 || rows.Length % _d != 0)
        {
            throw new ArgumentException($"rows has {rows.Length} values: expected a positive multiple of the dimension {_d}.", nameof(rows));
        }

        var m = rows.Length / _d;
        if ((requireDestination || !destination.IsEmpty) && destination.Length < m)
        {
            throw new ArgumentException($"the destination has {destination.Length} entries but the batch has {m} rows.", nameof(destination));
        }

        // A finite sum proves every entry finite (NaN and ±∞ propagate), so the common clean batch costs one vector pass.
        complete = double.IsFinite(TensorPrimitives.Sum(rows));
        if (complete)
        {
            return m;
        }

        var missing = false;
        for (var i = 0; i < m; i++)
        {
            var observed = 0;
            for (var j = 0; j < _d; j++)
            {
                var v = rows[(i * _d) + j];
                if (double.IsInfinity(v))
                {
                    throw new ArgumentException($"row {i} column {j} is infinite; only finite values or NaN (missing) are allowed.", nameof(rows));
                }

                if (!double.IsNaN(v))
                {
                    observed++;
                }
            }

            if (observed == 0)
            {
                throw new ArgumentException($"row {i} has no observed value.", nameof(rows));
            }

            missing |= observed < _d;
        }

        complete = !missing;
        return m;
    }

    private OnlineBatchResult Learn(ReadOnlySpan<double> rows, int m, bool complete, Span<double> anomalyScores)
    {
        var p = _params!;
        var scoring = _averaging ? _average! : p;
        if (_batchLogDensity.Length < m)
        {
            _batchLogDensity = new double[m];
            _batchSurprise = new double[m];
        }

        var batch = _batchStats!;
        batch.Clear();

        // The rows' surprises feed the drift detector only: skipped while it is off or collecting post-change rows.
        _watching = _drift is not null && _driftRows is null;

        // Bounded influence (InfluenceBound): the statistics take each entry moved into the model's range for its column, so
        // one glitch reading cannot wreck a component; the scores below are of the rows as they came.
        var learning = rows;
        var lo = _rangeLo ??= new double[_d];
        var hi = _rangeHi ??= new double[_d];
        InfluenceBound.Range(p, lo, hi);
        var bounded = InfluenceBound.AnyOutside(rows, lo, hi);
        if (bounded)
        {
            if (_boundedRows.Length < rows.Length)
            {
                _boundedRows = new double[rows.Length];
            }

            InfluenceBound.Clamp(rows, lo, hi, _boundedRows);
            learning = _boundedRows.AsSpan(0, rows.Length);
        }

        var sum = complete ? ExpectationTile(p, scoring, learning, m, batch) : ExpectationRows(p, scoring, learning, m, batch);
        if (bounded)
        {
            sum = ScoreMovedRows(p, scoring, rows, learning, m, sum);
        }

        var next = _spareStats!;
        var nextParams = _spareParams!;
        var gamma = _schedule.BatchStep(_observations, m);
        OnlineGmmRecursion.Blend(_stats!, batch, m, gamma, next);
        var rng = _rng;
        var reseeded = 0;
        try
        {
            if (!AllFinite(next))
            {
                throw Overflow();
            }

            next.MaximizeInto(nextParams, _options.RegCovar, _floor, _degenerate);
            reseeded = Reseed(next, nextParams, rows, m, ref rng);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException("the batch was rejected: it makes the mixture numerically unusable (values too large?); the model is unchanged.", e);
        }

        if (!AllFinite(nextParams))
        {
            throw Overflow();
        }

        // Commit: nothing below can fail.
        (_stats, _spareStats) = (next, _stats);
        (_params, _spareParams) = (nextParams, p);
        RecentreMovedComponents();
        _rng = rng;
        var seen = _observations;
        _observations += m;
        _batches++;
        _reseeds += reseeded;
        _lastMeanLogLikelihood = sum / m;
        for (var i = 0; i < m; i++)
        {
            Remember(rows.Slice(i * _d, _d), _batchLogDensity[i]);
            if (!anomalyScores.IsEmpty)
            {
                anomalyScores[i] = -_batchLogDensity[i];
            }
        }

        UpdateAverage(seen, m);
        _view = null;
        var drift = WatchDrift(rows, m, seen);
        return new OnlineBatchResult(m, _observations, _lastMeanLogLikelihood, false, reseeded) { DriftDetected = drift };
    }

    /// <summary>
    /// Moves the centre of each component whose mean has left it by more than one standard deviation in some column to that
    /// mean (exactly: <see cref="GmmSufficientStatistics.Recentre"/>), so a component that travels far keeps its variance: about
    /// a centre Δ away, Σ = s2/s0 − μμᵀ keeps only ε·Δ²/σ² of it. The spare and batch statistics take the same centres (they
    /// are overwritten before they are read). Deterministic: a restored state continues bit for bit.
    /// </summary>
    private void RecentreMovedComponents()
    {
        var stats = _stats!;
        var p = _params!;
        var moved = false;
        for (var k = 0; k < _k; k++)
        {
            if (stats.HasLeftCentre(k, p))
            {
                stats.Recentre(k, p.Means.AsSpan(k * _d, _d));
                moved = true;
            }
        }

        if (moved)
        {
            _spareStats!.CopyOriginsFrom(stats);
            _batchStats!.CopyOriginsFrom(stats);
        }
    }

    /// <summary>
    /// Re-scores, as they came, the rows whose entries <see cref="InfluenceBound"/> moved (their score and their surprise);
    /// returns the batch's new Σ log p.
    /// </summary>
    private double ScoreMovedRows(GmmParameters p, GmmParameters scoring, ReadOnlySpan<double> rows, ReadOnlySpan<double> learning, int m, double sum)
    {
        for (var i = 0; i < m; i++)
        {
            var x = rows.Slice(i * _d, _d);
            if (!x.SequenceEqual(learning.Slice(i * _d, _d)))
            {
                // −∞ when the row is so far out that its density underflows (its squared distance overflows): still learned,
                // bounded, and reported as the largest anomaly score there is.
                var logp = _watching ? Responsibilities(p, x, _logDensity2, _normalizers) : LogDensity(scoring, x, _logDensity2);
                if (_watching)
                {
                    _batchSurprise[i] = RowSurprise(p, logp, _logDensity2, _normalizers, GmmParameters.CountObserved(x));
                    logp = ReferenceEquals(scoring, p) ? logp : LogDensity(scoring, x, _logDensity2);
                }

                sum += logp - _batchLogDensity[i];
                _batchLogDensity[i] = logp;
            }
        }

        return sum;
    }

    /// <summary>Per-row E-step through the GMM core's kernels (any covariance type, missing entries); returns Σ log p.</summary>
    private double ExpectationRows(GmmParameters p, GmmParameters scoring, ReadOnlySpan<double> rows, int m, GmmSufficientStatistics batch)
    {
        var sum = 0.0;
        for (var i = 0; i < m; i++)
        {
            var x = rows.Slice(i * _d, _d);
            var lse = Responsibilities(p, x, _responsibilities, _normalizers);
            if (_watching)
            {
                _batchSurprise[i] = RowSurprise(p, lse, _responsibilities, _normalizers, GmmParameters.CountObserved(x));
            }

            var logp = ReferenceEquals(scoring, p) ? lse : LogDensity(scoring, x, _logDensity2);
            _batchLogDensity[i] = logp;
            sum += logp;
            batch.AccumulateRow(x, _responsibilities, p, _rowScratch);
        }

        return sum;
    }

    /// <summary>
    /// E-step of a batch of complete rows as one column-major tile through the GMM core's vectorized kernels
    /// (<see cref="GmmTileKernel"/>), for every covariance type; returns Σ log p.
    /// </summary>
    private double ExpectationTile(GmmParameters p, GmmParameters scoring, ReadOnlySpan<double> rows, int m, GmmSufficientStatistics batch)
    {
        var tile = TileBuffers.Rent(_d, _k, m, surprise: _watching);
        try
        {
            var origin = batch.Origin;
            var xt = tile.X.AsSpan(0, _d * m);
            var lk = tile.Lk.AsSpan(0, _k * m);
            var lse = _batchLogDensity.AsSpan(0, m);
            GmmTileKernel.Load(rows, origin, xt, m);
            if (!ReferenceEquals(scoring, p))
            {
                // Prequential score under the reported (averaged) parameters.
                TileLogDensity(scoring, origin, xt, m, lse, tile);
                lse = tile.Max.AsSpan(0, m);
            }

            GmmTileKernel.ShiftMeans(p.Means, origin, _shiftedMeans);
            GmmTileKernel.LogDensities(p, _shiftedMeans, xt, m, m, lk, tile.Work);
            var logN = _watching ? tile.Surprise.AsSpan(0, _k * m) : default;
            if (_watching)
            {
                lk.CopyTo(logN);
            }

            GmmTileKernel.Responsibilities(p.LogWeights, lk, m, m, lse, tile.Work);
            if (_watching)
            {
                TileSurprise(p, logN, lk, m, tile.Work.AsSpan(0, m), _batchSurprise.AsSpan(0, m), tile.Surprise.AsSpan(_k * m, 2 * m));
            }

            GmmTileKernel.Accumulate(batch, xt, lk, m, m, tile.Work);
            return TensorPrimitives.Sum<double>(_batchLogDensity.AsSpan(0, m));
        }
        finally
        {
            tile.Return();
        }
    }

    /// <summary>
    /// Each row's surprise, the drift detector's signal: its loss −log p(x) less the loss its own components expect,
    /// Σ_k r_k(x)·(−log N_k(x) − H_k) with H_k = ½(|o|·ln 2πe + ln|Σ_k,oo|) the entropy of component k over the row's
    /// observed entries, which is Σ_k r_k·½(Mahalanobis²_k − |o|). A row drawn from component k has it about 0 whichever
    /// component that is, so a stream that stays a while in one operating mode (a narrow one, a wide one, a rare one) does
    /// not look like a change, as its raw loss did (the loss of a row of a wide or rare mode sits higher all through that
    /// mode); a row no component explains has it large. By −log N_k = ln w_k − ln r_k − log p: surprise = −log p +
    /// Σ_k r_k(ln w_k − H_k − ln r_k).
    /// </summary>
    private static double RowSurprise(GmmParameters p, double logDensity, ReadOnlySpan<double> responsibilities, ReadOnlySpan<double> normalizers, int observed)
    {
        var surprise = -logDensity;
        var half = 0.5 * observed;
        for (var k = 0; k < responsibilities.Length; k++)
        {
            var r = responsibilities[k];
            if (r > 0)
            {
                surprise += r * (p.LogWeights[k] - half + normalizers[k] - Math.Log(r));
            }
        }

        return surprise;
    }

    /// <summary>
    /// <see cref="RowSurprise"/> for the b complete rows of a tile without a logarithm: Σ_k r_k·(c_k − ln r_k − log p) with
    /// c_k = ln w_k − H_k and ln r_k + log p = max(log N_k + ln w_k, max_t − 600), the joint the responsibility kernel
    /// exponentiated (clamped as it clamps), so it is Σ_k r_k·(c_k − max(log N_k + ln w_k, max_t − 600)).
    /// <paramref name="logN"/>: the K columns of log N_k (stride b) before the kernel turned them into the responsibilities
    /// <paramref name="r"/>; <paramref name="max"/>: the kernel's row maxima of the joint; <paramref name="scratch"/>: 2b entries.
    /// </summary>
    private void TileSurprise(GmmParameters p, Span<double> logN, ReadOnlySpan<double> r, int b, ReadOnlySpan<double> max, Span<double> surprise, Span<double> scratch)
    {
        var floor = scratch.Slice(0, b);
        var term = scratch.Slice(b, b);
        TensorPrimitives.Add(max, GmmTileKernel.MinLogResponsibility, floor);
        surprise.Clear();
        var half = 0.5 * _d;
        for (var k = 0; k < _k; k++)
        {
            TensorPrimitives.Add(logN.Slice(k * b, b), p.LogWeights[k], term);
            TensorPrimitives.Max(term, floor, term);
            TensorPrimitives.Subtract(p.LogWeights[k] - half + p.LogNormalizers[k], term, term);
            TensorPrimitives.MultiplyAdd(r.Slice(k * b, b), term, surprise, surprise);
        }

        // A row whose every density underflowed (max = −∞) is the most surprising there is (and 0·∞ must not make it NaN).
        if (double.IsNegativeInfinity(TensorPrimitives.Min(max)))
        {
            for (var t = 0; t < b; t++)
            {
                if (double.IsNegativeInfinity(max[t]))
                {
                    surprise[t] = double.PositiveInfinity;
                }
            }
        }
    }

    /// <summary>log p(x_t) under q for the b rows of a loaded tile (the tile's log-density buffer is overwritten).</summary>
    private void TileLogDensity(GmmParameters q, ReadOnlySpan<double> origin, ReadOnlySpan<double> xt, int b, Span<double> logDensity, TileBuffers tile)
    {
        GmmTileKernel.ShiftMeans(q.Means, origin, _shiftedMeans);
        GmmTileKernel.LogDensities(q, _shiftedMeans, xt, b, b, tile.Lk, tile.Work);
        GmmTileKernel.Responsibilities(q.LogWeights, tile.Lk, b, b, logDensity, tile.Work);
    }

    /// <summary>Scores complete rows tile by tile (at most <see cref="GmmWorkspace.TileRows"/> rows at a time).</summary>
    private void ScoreTiles(GmmParameters q, ReadOnlySpan<double> rows, int m, Span<double> logDensity)
    {
        var origin = _stats!.Origin;
        var tile = TileBuffers.Rent(_d, _k, Math.Min(GmmWorkspace.TileRows, m));
        try
        {
            for (var t0 = 0; t0 < m; t0 += GmmWorkspace.TileRows)
            {
                var b = Math.Min(GmmWorkspace.TileRows, m - t0);
                var xt = tile.X.AsSpan(0, _d * b);
                GmmTileKernel.Load(rows.Slice(t0 * _d, b * _d), origin, xt, b);
                TileLogDensity(q, origin, xt, b, logDensity.Slice(t0, b), tile);
            }
        }
        finally
        {
            tile.Return();
        }
    }

    /// <summary>
    /// The E-step tile's scratch, rented for one call from the shared array pool instead of kept per model: a service holds
    /// thousands of models, and a batch's tile (≈ 12 KB at d = 4, K = 4, 100 rows) is only needed while the batch is scored.
    /// Rented arrays may be longer than asked; every kernel slices them by the tile's stride.
    /// </summary>
    private readonly struct TileBuffers(double[] x, double[] lk, double[] max, double[] work, double[] surprise)
    {
        public double[] X { get; } = x;
        public double[] Lk { get; } = lk;
        public double[] Max { get; } = max;
        public double[] Work { get; } = work;

        /// <summary>The log densities kept for <see cref="TileSurprise"/> (K × rows) and its scratch (2 × rows).</summary>
        public double[] Surprise { get; } = surprise;

        /// <summary>Rents the tile's buffers; <paramref name="surprise"/>: also those of <see cref="TileSurprise"/>.</summary>
        public static TileBuffers Rent(int d, int k, int rows, bool surprise = false) => new(
            ArrayPool<double>.Shared.Rent(d * rows), ArrayPool<double>.Shared.Rent(k * rows), ArrayPool<double>.Shared.Rent(rows),
            ArrayPool<double>.Shared.Rent(GmmTileKernel.WorkLength(d, rows)), surprise ? ArrayPool<double>.Shared.Rent((k + 2) * rows) : []);

        public void Return()
        {
            ArrayPool<double>.Shared.Return(X);
            ArrayPool<double>.Shared.Return(Lk);
            ArrayPool<double>.Shared.Return(Max);
            ArrayPool<double>.Shared.Return(Work);
            if (Surprise.Length > 0)
            {
                ArrayPool<double>.Shared.Return(Surprise);
            }
        }
    }

    private void UpdateAverage(long seen, int m)
    {
        var w = _schedule.AveragingWeight(seen, m);
        if (w == 0.0)
        {
            return;
        }

        var avg = _average ??= new GmmParameters(_k, _d, _type);
        var p = _params!;
        StepSizeSchedule.Average(avg.Weights, p.Weights, w);
        StepSizeSchedule.Average(avg.Means, p.Means, w);
        StepSizeSchedule.Average(avg.Covariances, p.Covariances, w);

        // A convex combination of positive definite matrices is positive definite, so this only fails on rounding at
        // the edge of singularity; then the average restarts at the current parameters.
        if (!avg.TryRefreshFactors(out _))
        {
            avg.CopyFrom(p);
        }

        _averaging = true;
    }

    /// <summary>
    /// Responsibilities of x under p, returning log p(x) (the log-sum-exp of the joint); <paramref name="normalizers"/>, when
    /// given (K entries), receives each component's log normalizer over the row's observed entries.
    /// </summary>
    private double Responsibilities(GmmParameters p, ReadOnlySpan<double> x, Span<double> resp, Span<double> normalizers = default)
    {
        p.LogDensitiesRow(x, resp, _rowScratch, normalizers);
        var max = double.NegativeInfinity;
        for (var k = 0; k < _k; k++)
        {
            resp[k] += p.LogWeights[k];
            if (resp[k] > max)
            {
                max = resp[k];
            }
        }

        if (double.IsNegativeInfinity(max))
        {
            // So far from every component that all densities underflow: no component is preferred.
            resp.Fill(1.0 / _k);
            return double.NegativeInfinity;
        }

        var s = 0.0;
        for (var k = 0; k < _k; k++)
        {
            resp[k] = Math.Exp(resp[k] - max);
            s += resp[k];
        }

        var inv = 1.0 / s;
        for (var k = 0; k < _k; k++)
        {
            resp[k] *= inv;
        }

        return max + Math.Log(s);
    }

    /// <summary>log p(x) under p; <paramref name="scratch"/> (K entries) receives the responsibilities.</summary>
    private double LogDensity(GmmParameters p, ReadOnlySpan<double> x, Span<double> scratch) => Responsibilities(p, x, scratch);

    private void Remember(ReadOnlySpan<double> x, double logDensity)
    {
        x.CopyTo(_recentRows.AsSpan(_recentNext * _d, _d));
        _recentLogDensity[_recentNext] = logDensity;
        _recentNext = (_recentNext + 1) % _recentLogDensity.Length;
        _recentCount = Math.Min(_recentCount + 1, _recentLogDensity.Length);
    }

    private static bool AllFinite(GmmSufficientStatistics s) => AllFinite(s.S0) && AllFinite(s.S1) && AllFinite(s.S2);

    private static bool AllFinite(GmmParameters p) =>
        AllFinite(p.Weights) && AllFinite(p.Means) && AllFinite(p.Covariances) && AllFinite(p.LogNormalizers) && AllFinite(p.InverseCholesky);

    private static bool AllFinite(ReadOnlySpan<double> values)
    {
        // A finite sum proves every value finite; only an overflowing sum of finite values needs the element scan.
        if (double.IsFinite(TensorPrimitives.Sum(values)))
        {
            return true;
        }

        foreach (var v in values)
        {
            if (!double.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    private static InvalidOperationException Overflow() =>
        new("the batch was rejected: its statistics overflow (values too large for float64 second moments); the model is unchanged.");
}
