using System.Numerics.Tensors;
using EmStreaming.Numerics.Parallelism;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Everything a repeated pass over one data set needs, allocated once: complete rows (fast, vectorized tile path), rows
/// with missing entries grouped by missingness pattern (Σ_oo factored once per pattern per component per pass, or, for a
/// pattern too rare to repay that, the row handled through the full precision Σ⁻¹), per-worker tile scratch, per-chunk
/// partial statistics and a small thread pool. Every pass after the first is allocation-free.
/// </summary>
/// <remarks>
/// <para>Determinism: rows are cut into fixed chunks of <see cref="ChunkRows"/> (independent of the number of threads);
/// each chunk writes its own partial result and the partials are combined in chunk order, so a pass gives bit-identical
/// results whatever the degree of parallelism.</para>
/// <para>Use from outside EM: <see cref="LogDensities"/> fills the n×K matrix log N(x_i; μ_k, Σ_k) (no weights) that an
/// HMM needs for its emissions; <see cref="Accumulate"/> turns caller-given responsibilities (e.g. smoothed HMM state
/// posteriors) into <see cref="GmmSufficientStatistics"/>, then <see cref="GmmSufficientStatistics.MaximizeInto(GmmParameters, double, ReadOnlySpan{double}, Span{bool})"/> gives
/// the new parameters. Dispose the workspace to stop its worker threads.</para>
/// </remarks>
internal sealed class GmmWorkspace : IDisposable, IChunkWork
{
    /// <summary>Rows per chunk: the unit of parallel work and of deterministic reduction.</summary>
    public const int ChunkRows = 4096;

    /// <summary>Rows per vectorized tile inside a chunk (transposed to component-major so kernels run along rows).</summary>
    public const int TileRows = 256;

    private readonly DataMatrix _data;
    private readonly double[] _values;
    private readonly int _k;
    private readonly int _d;
    private readonly CovarianceType _type;
    private readonly double[] _origin;
    private readonly int[]? _completeRows;
    private readonly int _completeCount;
    private readonly int[] _missingRows;
    private readonly int[] _missingPattern;
    private readonly Pattern[] _patterns;
    private readonly double[] _patternFactors;
    private readonly double[] _patternLogConst;
    private readonly int _completeChunks;
    private readonly int _chunkCount;
    private readonly GmmSufficientStatistics?[] _chunkStats;
    private readonly double[] _chunkLogLik;
    private readonly double[] _chunkMinValue;
    private readonly int[] _chunkMinRow;
    private readonly Scratch[] _scratch;
    private readonly double[] _shiftedMeans;

    // The components' centres of the statistics of the current pass (the means it runs under).
    private readonly double[] _centres;
    private readonly ChunkRunner _runner;

    // State of the pass in progress, read by the workers.
    private Mode _mode;
    private GmmParameters? _model;
    private Memory<double> _output;
    private ReadOnlyMemory<double> _responsibilities;
    private int[]? _labels;
    private ulong _seed;

    /// <param name="data">The observations (not copied; must not change while the workspace is used).</param>
    /// <param name="components">K.</param>
    /// <param name="type">Covariance type of the models and statistics used with this workspace.</param>
    /// <param name="maxDegreeOfParallelism">-1 for all processors.</param>
    /// <param name="origin">Origin of the statistics (D entries); default: the column medians of the observed entries (<see cref="DataMatrix.ObservedColumnCentres"/>).</param>
    /// <param name="byPrecision">Tests: every pattern through the precision (true) or factored (false); null chooses per pattern.</param>
    /// <exception cref="ArgumentException">A row has no observed value (the message names the row).</exception>
    public GmmWorkspace(DataMatrix data, int components, CovarianceType type, int maxDegreeOfParallelism = -1, ReadOnlySpan<double> origin = default, bool? byPrecision = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        _data = data;
        _values = data.RawValues;
        _k = components;
        _d = data.Columns;
        _type = type;
        _origin = origin.IsEmpty ? DataMatrix.ObservedColumnCentres(data.Values, data.Columns) : origin.ToArray();
        if (_origin.Length != _d)
        {
            throw new ArgumentException($"origin has {_origin.Length} entries, expected {_d}", nameof(origin));
        }

        (_completeRows, _completeCount, _missingRows, _missingPattern, _patterns) = GroupRows(data);
        foreach (var p in _missingPattern)
        {
            _patterns[p].Rows++;
        }

        var factorLength = 0;
        var anyDirect = false;
        // A diagonal covariance needs neither factor nor precision: its rows' missing entries are left out.
        var diagonal = type is CovarianceType.Diag or CovarianceType.Spherical;
        foreach (var p in _patterns)
        {
            p.Direct = byPrecision ?? (diagonal || ByPrecision(p.Observed.Length, p.Missing.Length, p.Rows));
            anyDirect |= p.Direct;
            p.FactorOffset = factorLength;
            factorLength += _k * p.FactorStride;
        }

        _patternFactors = new double[factorLength];
        _patternLogConst = new double[_patterns.Length * _k];
        _completeChunks = (_completeCount + ChunkRows - 1) / ChunkRows;
        _chunkCount = _completeChunks + ((_missingRows.Length + ChunkRows - 1) / ChunkRows);
        _chunkStats = new GmmSufficientStatistics?[_chunkCount];
        _chunkLogLik = new double[_chunkCount];
        _chunkMinValue = new double[_chunkCount];
        _chunkMinRow = new int[_chunkCount];
        _runner = new ChunkRunner(maxDegreeOfParallelism);
        _scratch = new Scratch[_runner.WorkerCount];
        for (var w = 0; w < _scratch.Length; w++)
        {
            _scratch[w] = new Scratch(_k, _d, anyDirect);
        }

        _shiftedMeans = new double[_k * _d];
        _centres = new double[_k * _d];
    }

    private enum Mode
    {
        LogDensities,
        LogLikelihood,
        Expectation,
        Given,
        Labels,
        Random,
        Impute,
    }

    public DataMatrix Data => _data;

    /// <summary>The workspace's thread pool, for other chunked passes over the same data (k-means seeding).</summary>
    public ChunkRunner Runner => _runner;

    public int Components => _k;

    public int Dimension => _d;

    public CovarianceType Type => _type;

    /// <summary>Origin of the statistics this workspace produces.</summary>
    public ReadOnlySpan<double> Origin => _origin;

    /// <summary>Empty statistics with this workspace's shape and origin (each pass that fills them sets the components' centres: <see cref="GmmSufficientStatistics.ResetOrigins"/>).</summary>
    public GmmSufficientStatistics CreateStatistics() => new(_k, _d, _type, _origin);

    /// <summary>
    /// Fills <paramref name="logDensity"/> (n×K row-major) with log N(x_i; μ_k, Σ_k) under <paramref name="model"/>,
    /// marginalizing missing entries. Weights are not added. Parallel, allocation-free after the first call.
    /// </summary>
    public void LogDensities(GmmParameters model, Memory<double> logDensity)
    {
        CheckModel(model);
        if (logDensity.Length < _data.Rows * _k)
        {
            throw new ArgumentException($"logDensity needs {_data.Rows * _k} entries", nameof(logDensity));
        }

        _output = logDensity;
        Run(Mode.LogDensities, model);
        _output = default;
    }

    /// <summary>
    /// Clears <paramref name="target"/> and accumulates the statistics of the data under caller-given responsibilities
    /// (n×K row-major, non-negative; rows need not sum to 1). <paramref name="model"/> supplies the conditional expectation
    /// of missing entries (it is not used when the data are complete).
    /// </summary>
    public void Accumulate(GmmParameters model, ReadOnlyMemory<double> responsibilities, GmmSufficientStatistics target)
    {
        CheckModel(model);
        if (responsibilities.Length < _data.Rows * _k)
        {
            throw new ArgumentException($"responsibilities need {_data.Rows * _k} entries", nameof(responsibilities));
        }

        _responsibilities = responsibilities;
        Run(Mode.Given, model);
        _responsibilities = default;
        Combine(target);
    }

    /// <summary>The fused E-step of batch EM: accumulates statistics under the model's own responsibilities and returns Σ_i log p(x_i).</summary>
    internal double Expectation(GmmParameters model, GmmSufficientStatistics target)
    {
        CheckModel(model);
        Run(Mode.Expectation, model);
        Combine(target);
        return SumLogLikelihood();
    }

    /// <summary>Σ_i log p(x_i) under the model.</summary>
    internal double LogLikelihood(GmmParameters model)
    {
        CheckModel(model);
        Run(Mode.LogLikelihood, model);
        return SumLogLikelihood();
    }

    /// <summary>Statistics of hard assignments (k-means initialization).</summary>
    internal void AccumulateLabels(GmmParameters model, int[] labels, GmmSufficientStatistics target)
    {
        _labels = labels;
        Run(Mode.Labels, model);
        _labels = null;
        Combine(target);
    }

    /// <summary>Statistics of uniform random responsibilities normalized per row (scikit-learn's "random" init).</summary>
    internal void AccumulateRandom(GmmParameters model, ulong seed, GmmSufficientStatistics target)
    {
        _seed = seed;
        Run(Mode.Random, model);
        Combine(target);
    }

    /// <summary>Writes the data with missing entries replaced by E[x_m | x_o] into <paramref name="output"/> (n×D).</summary>
    internal void Impute(GmmParameters model, Memory<double> output)
    {
        CheckModel(model);
        _values.AsSpan().CopyTo(output.Span);
        _output = output;
        Run(Mode.Impute, model);
        _output = default;
    }

    /// <summary>
    /// Rows with the lowest log-likelihood seen by the last <see cref="Expectation"/> or <see cref="LogLikelihood"/> pass,
    /// at most one per chunk, lowest first (deterministic). Returns how many were written.
    /// </summary>
    internal int WorstRows(Span<int> rows)
    {
        var written = 0;
        Span<bool> used = _chunkCount <= 4096 ? stackalloc bool[_chunkCount] : new bool[_chunkCount];
        while (written < rows.Length)
        {
            var best = -1;
            for (var c = 0; c < _chunkCount; c++)
            {
                if (!used[c] && _chunkMinRow[c] >= 0 && (best < 0 || _chunkMinValue[c] < _chunkMinValue[best]))
                {
                    best = c;
                }
            }

            if (best < 0)
            {
                break;
            }

            used[best] = true;
            rows[written++] = _chunkMinRow[best];
        }

        return written;
    }

    public void Dispose() => _runner.Dispose();

    void IChunkWork.Execute(int chunk, int worker)
    {
        if (chunk < _completeChunks)
        {
            ExecuteComplete(chunk, _scratch[worker]);
        }
        else
        {
            ExecuteMissing(chunk, _scratch[worker]);
        }
    }

    private void Run(Mode mode, GmmParameters model)
    {
        _mode = mode;
        _model = model;
        GmmTileKernel.ShiftMeans(model.Means, _origin, _shiftedMeans);

        if (_patterns.Length > 0)
        {
            PreparePatterns(model, withConditional: mode is not (Mode.LogDensities or Mode.LogLikelihood));
        }

        if (mode is Mode.Expectation or Mode.Given or Mode.Labels or Mode.Random)
        {
            // Each component's statistics about the mean it is evaluated under (the new mean lands near it, so the M-step's
            // subtraction loses nothing however far apart the components are); random responsibilities have no such mean.
            var centres = _centres;
            if (mode is Mode.Random || !TensorPrimitives.IsFiniteAll<double>(model.Means))
            {
                for (var k = 0; k < _k; k++)
                {
                    _origin.CopyTo(centres, k * _d);
                }
            }
            else
            {
                model.Means.CopyTo(centres, 0);
            }

            for (var c = 0; c < _chunkCount; c++)
            {
                (_chunkStats[c] ??= CreateStatistics()).ResetOrigins(centres);
            }
        }

        _runner.Run(_chunkCount, this);
        _model = null;
    }

    private void Combine(GmmSufficientStatistics target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.Origin.SequenceEqual(_origin) || target.Components != _k || target.Dimension != _d || target.Type != _type)
        {
            throw new ArgumentException("target statistics must come from CreateStatistics() of this workspace", nameof(target));
        }

        target.ResetOrigins(_centres);
        for (var c = 0; c < _chunkCount; c++)
        {
            target.Add(_chunkStats[c]!);
        }
    }

    private double SumLogLikelihood()
    {
        double s = 0;
        for (var c = 0; c < _chunkCount; c++)
        {
            s += _chunkLogLik[c];
        }

        if (!double.IsFinite(s))
        {
            // Only reachable with a (near-)singular covariance and regCovar = 0: refuse rather than let NaN spread.
            throw new InvalidOperationException("the log-likelihood is not finite: a covariance is numerically singular; increase RegCovar");
        }

        return s;
    }

    /// <summary>
    /// Whether a pattern's <paramref name="rows"/> rows go through the full precision (per row: L⁻¹ on the completed row, d²/2,
    /// and P_mm's factor and inverse, about 4m³/3) rather than a factorization of its Σ_oo (o³/3, with B and C m·o² + m²·o,
    /// then o²/2 + m·o per row): flop counts per component and pass. With 100 columns each missing 5 % of the time almost
    /// every row has a pattern of its own, and factoring each one costs 60 times as much (and d² doubles of storage per row
    /// and component).
    /// </summary>
    internal static bool ByPrecision(int o, int m, int rows)
    {
        var d = (double)(o + m);
        var factored = (o * (double)o * o / 3.0) + (m * (double)o * o) + (m * (double)m * o) + (rows * ((o * (double)o / 2.0) + (2.0 * m * o)));
        var direct = rows * ((d * d / 2.0) + (2.0 * m * o) + (4.0 * m * (double)m * m / 3.0));
        return direct < factored;
    }

    private void PreparePatterns(GmmParameters model, bool withConditional)
    {
        var sigma = _scratch[0].Sigma;
        var work = _scratch[0].Work;
        for (var k = 0; k < _k; k++)
        {
            model.ExpandCovariance(k, sigma);
            for (var p = 0; p < _patterns.Length; p++)
            {
                var pattern = _patterns[p];
                if (pattern.Direct)
                {
                    continue;
                }

                var o = pattern.Observed.Length;
                var m = pattern.Missing.Length;
                var f = _patternFactors.AsSpan(pattern.FactorOffset + (k * pattern.FactorStride), pattern.FactorStride);
                var lo = f.Slice(0, o * o);
                var b = withConditional ? f.Slice(o * o, m * o) : default;
                var c = f.Slice((o * o) + (m * o), m * m);
                if (!MissingData.TryFactorPattern(sigma, _d, pattern.Observed, pattern.Missing, lo, b, c, work, out var logConst))
                {
                    throw new InvalidOperationException($"the covariance of component {k} is not positive definite");
                }

                _patternLogConst[(p * _k) + k] = logConst;
            }
        }
    }

    private int RowOf(int completeIndex) => _completeRows is null ? completeIndex : _completeRows[completeIndex];

    private void ExecuteComplete(int chunk, Scratch s)
    {
        if (_mode == Mode.Impute)
        {
            // Complete rows have nothing to impute (the output already holds them): no tile is gathered.
            _chunkLogLik[chunk] = 0;
            _chunkMinValue[chunk] = double.PositiveInfinity;
            _chunkMinRow[chunk] = -1;
            return;
        }

        var model = _model!;
        var start = chunk * ChunkRows;
        var end = Math.Min(start + ChunkRows, _completeCount);
        var stats = _chunkStats[chunk];
        stats?.Clear();
        double logLik = 0;
        var minValue = double.PositiveInfinity;
        var minRow = -1;
        var rng = new DeterministicRandom(_mode == Mode.Random ? DeterministicRandom.DeriveSeed(_seed, (ulong)chunk) : 0);
        const int T = TileRows;
        for (var t0 = start; t0 < end; t0 += T)
        {
            var b = Math.Min(T, end - t0);
            GatherTile(t0, b, s.Xt);
            var lk = s.Lk;
            switch (_mode)
            {
                case Mode.LogDensities:
                    {
                        GmmTileKernel.LogDensities(model, _shiftedMeans, s.Xt, T, b, lk, s.TileWork);
                        var output = _output.Span;
                        for (var t = 0; t < b; t++)
                        {
                            var row = output.Slice(RowOf(t0 + t) * _k, _k);
                            for (var k = 0; k < _k; k++)
                            {
                                row[k] = lk[(k * T) + t];
                            }
                        }

                        continue;
                    }

                case Mode.LogLikelihood:
                case Mode.Expectation:
                    {
                        GmmTileKernel.LogDensities(model, _shiftedMeans, s.Xt, T, b, lk, s.TileWork);
                        var lse = s.Lse.AsSpan(0, b);
                        GmmTileKernel.Responsibilities(model.LogWeights, lk, T, b, lse, s.Max);
                        logLik += TensorPrimitives.Sum<double>(lse);
                        var at = TensorPrimitives.IndexOfMin<double>(lse);
                        if (lse[at] < minValue)
                        {
                            minValue = lse[at];
                            minRow = RowOf(t0 + at);
                        }

                        if (_mode == Mode.LogLikelihood)
                        {
                            continue;
                        }

                        break;
                    }

                case Mode.Given:
                    {
                        var r = _responsibilities.Span;
                        for (var t = 0; t < b; t++)
                        {
                            var row = r.Slice(RowOf(t0 + t) * _k, _k);
                            for (var k = 0; k < _k; k++)
                            {
                                lk[(k * T) + t] = row[k];
                            }
                        }

                        break;
                    }

                case Mode.Labels:
                    {
                        lk.AsSpan(0, _k * T).Clear();
                        for (var t = 0; t < b; t++)
                        {
                            lk[(_labels![RowOf(t0 + t)] * T) + t] = 1.0;
                        }

                        break;
                    }

                default:
                    for (var t = 0; t < b; t++)
                    {
                        double sum = 0;
                        for (var k = 0; k < _k; k++)
                        {
                            var u = rng.NextDouble();
                            lk[(k * T) + t] = u;
                            sum += u;
                        }

                        for (var k = 0; k < _k; k++)
                        {
                            lk[(k * T) + t] /= sum;
                        }
                    }

                    break;
            }

            GmmTileKernel.Accumulate(stats!, s.Xt, lk, T, b, s.TileWork);
        }

        _chunkLogLik[chunk] = logLik;
        _chunkMinValue[chunk] = minValue;
        _chunkMinRow[chunk] = minRow;
    }

    private void GatherTile(int t0, int b, double[] xt)
    {
        const int T = TileRows;
        var d = _d;
        var values = _values;
        var origin = _origin;
        for (var t = 0; t < b; t++)
        {
            var offset = RowOf(t0 + t) * d;
            for (var i = 0; i < d; i++)
            {
                xt[(i * T) + t] = values[offset + i] - origin[i];
            }
        }
    }

    private void ExecuteMissing(int chunk, Scratch s)
    {
        var model = _model!;
        var start = (chunk - _completeChunks) * ChunkRows;
        var end = Math.Min(start + ChunkRows, _missingRows.Length);
        var stats = _chunkStats[chunk];
        stats?.Clear();
        double logLik = 0;
        var minValue = double.PositiveInfinity;
        var minRow = -1;
        var rng = new DeterministicRandom(_mode == Mode.Random ? DeterministicRandom.DeriveSeed(_seed, (ulong)chunk) : 0);
        var r = s.RowLk.AsSpan(0, _k);
        var work = s.Work;
        var xhat = s.Xhat.AsSpan(0, _d);
        var d = _d;
        for (var idx = start; idx < end; idx++)
        {
            var row = _missingRows[idx];
            var p = _missingPattern[idx];
            var pattern = _patterns[p];
            var o = pattern.Observed.Length;
            var m = pattern.Missing.Length;
            var x = _values.AsSpan(row * d, d);
            switch (_mode)
            {
                case Mode.LogDensities:
                case Mode.LogLikelihood:
                case Mode.Expectation:
                case Mode.Impute:
                    {
                        var output = _mode == Mode.LogDensities ? _output.Span.Slice(row * _k, _k) : r;
                        for (var k = 0; k < _k; k++)
                        {
                            if (pattern.Direct)
                            {
                                output[k] = DirectLogDensity(x, pattern, model, k, s);
                                continue;
                            }

                            var f = _patternFactors.AsSpan(pattern.FactorOffset + (k * pattern.FactorStride), pattern.FactorStride);
                            output[k] = MissingData.LogDensity(x, pattern.Observed, model.Means.AsSpan(k * d, d), f.Slice(0, o * o), _patternLogConst[(p * _k) + k], work);
                        }

                        if (_mode == Mode.LogDensities)
                        {
                            continue;
                        }

                        TensorPrimitives.Add(r, model.LogWeights, r);
                        var max = TensorPrimitives.Max<double>(r);
                        double lse;
                        if (double.IsNegativeInfinity(max))
                        {
                            // So far from every component that every density underflows to 0 (its squared distance overflows):
                            // the row cannot tell the components apart, so each keeps its weight (else 0/0 made the
                            // imputed entries NaN).
                            model.Weights.CopyTo(r);
                            lse = double.NegativeInfinity;
                        }
                        else
                        {
                            TensorPrimitives.Subtract(r, max, r);
                            TensorPrimitives.Exp(r, r);
                            var sum = TensorPrimitives.Sum<double>(r);
                            TensorPrimitives.Divide(r, sum, r);
                            lse = max + Math.Log(sum);
                        }

                        logLik += lse;
                        if (lse < minValue)
                        {
                            minValue = lse;
                            minRow = row;
                        }

                        if (_mode == Mode.LogLikelihood)
                        {
                            continue;
                        }

                        if (_mode == Mode.Impute)
                        {
                            var target = _output.Span.Slice(row * d, d);
                            foreach (var j in pattern.Missing)
                            {
                                target[j] = 0;
                            }

                            for (var k = 0; k < _k; k++)
                            {
                                Conditional(x, pattern, p, model, k, s, withCovariance: false);
                                foreach (var j in pattern.Missing)
                                {
                                    target[j] += r[k] * xhat[j];
                                }
                            }

                            continue;
                        }

                        break;
                    }

                case Mode.Given:
                    _responsibilities.Span.Slice(row * _k, _k).CopyTo(r);
                    break;
                case Mode.Labels:
                    r.Clear();
                    r[_labels![row]] = 1.0;
                    break;
                default:
                    for (var k = 0; k < _k; k++)
                    {
                        r[k] = rng.NextDouble();
                    }

                    TensorPrimitives.Divide(r, TensorPrimitives.Sum<double>(r), r);
                    break;
            }

            for (var k = 0; k < _k; k++)
            {
                if (r[k] == 0)
                {
                    continue;
                }

                stats!.AddPoint(k, r[k], xhat, pattern.Missing, Conditional(x, pattern, p, model, k, s, withCovariance: true));
            }
        }

        _chunkLogLik[chunk] = logLik;
        _chunkMinValue[chunk] = minValue;
        _chunkMinRow[chunk] = minRow;
    }

    /// <summary>
    /// Writes component k's conditional mean of the row's missing entries into the scratch's x̂ (observed entries as they are)
    /// and returns its conditional covariance (m×m) when <paramref name="withCovariance"/>: from the pattern's factors, or
    /// through the precision for a pattern on that path.
    /// </summary>
    private ReadOnlySpan<double> Conditional(ReadOnlySpan<double> x, Pattern pattern, int p, GmmParameters model, int k, Scratch s, bool withCovariance)
    {
        var d = _d;
        var o = pattern.Observed.Length;
        var m = pattern.Missing.Length;
        var mu = model.Means.AsSpan(k * d, d);
        var xhat = s.Xhat.AsSpan(0, d);
        if (!pattern.Direct)
        {
            var f = _patternFactors.AsSpan(pattern.FactorOffset + (k * pattern.FactorStride), pattern.FactorStride);
            MissingData.ConditionalMean(x, pattern.Observed, pattern.Missing, mu, f.Slice(o * o, m * o), s.Work, xhat);
            return f.Slice((o * o) + (m * o), m * m);
        }

        var c = s.Cond.AsSpan(0, m * m);
        if (!model.TryConditionalMissing(x, pattern.Observed, pattern.Missing, k, s.Y, s.Pmm, s.Delta, xhat, withCovariance ? c : default, s.Square))
        {
            return FactoredRow(x, pattern, model, k, s, out _);
        }

        return c;
    }

    /// <summary>log N(x_o; μ_k,o, Σ_k,oo) of a row whose pattern is on the precision path.</summary>
    private double DirectLogDensity(ReadOnlySpan<double> x, Pattern pattern, GmmParameters model, int k, Scratch s)
    {
        if (!model.TryLogDensityMissing(x, pattern.Observed, pattern.Missing, k, s.Y, s.Pmm, s.Delta, out var logDensity, out _))
        {
            FactoredRow(x, pattern, model, k, s, out logDensity);
        }

        return logDensity;
    }

    /// <summary>
    /// The row's own factorization of Σ_oo, when P_mm is numerically not positive definite (Σ nearly singular): its conditional
    /// mean into the scratch's x̂, its log density, and its conditional covariance returned.
    /// </summary>
    private ReadOnlySpan<double> FactoredRow(ReadOnlySpan<double> x, Pattern pattern, GmmParameters model, int k, Scratch s, out double logDensity)
    {
        var d = _d;
        var o = pattern.Observed.Length;
        var m = pattern.Missing.Length;
        var sigma = s.RowSigma;
        model.ExpandCovariance(k, sigma);
        var lo = s.RowFactor.AsSpan(0, o * o);
        var b = s.RowFactor.AsSpan(o * o, m * o);
        var c = s.RowFactor.AsSpan((o * o) + (m * o), m * m);
        if (!MissingData.TryFactorPattern(sigma, d, pattern.Observed, pattern.Missing, lo, b, c, s.Work, out var logConst))
        {
            throw new InvalidOperationException($"the covariance of component {k} is not positive definite");
        }

        var mu = model.Means.AsSpan(k * d, d);
        logDensity = MissingData.LogDensity(x, pattern.Observed, mu, lo, logConst, s.Work);
        MissingData.ConditionalMean(x, pattern.Observed, pattern.Missing, mu, b, s.Work, s.Xhat);
        return c;
    }

    private void CheckModel(GmmParameters model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Components != _k || model.Dimension != _d || model.Type != _type)
        {
            throw new ArgumentException($"model has K={model.Components}, D={model.Dimension}, {model.Type}; the workspace expects K={_k}, D={_d}, {_type}", nameof(model));
        }
    }

    private static (int[]? Complete, int CompleteCount, int[] MissingRows, int[] MissingPattern, Pattern[] Patterns) GroupRows(DataMatrix data)
    {
        var n = data.Rows;
        var d = data.Columns;
        if (!data.HasMissing)
        {
            return (null, n, [], [], []);
        }

        var values = data.RawValues;
        var complete = new List<int>(n);
        var rowsByKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var patterns = new List<Pattern>();
        var missingRows = new List<int>();
        var missingPatternOfRow = new List<int>();
        var keyChars = new char[d];
        for (var i = 0; i < n; i++)
        {
            var row = values.AsSpan(i * d, d);
            var observed = GmmParameters.CountObserved(row);
            if (observed == d)
            {
                complete.Add(i);
                continue;
            }

            if (observed == 0)
            {
                throw new ArgumentException($"row {i} has no observed value", nameof(data));
            }

            for (var j = 0; j < d; j++)
            {
                keyChars[j] = double.IsNaN(row[j]) ? 'm' : 'o';
            }

            var key = new string(keyChars);
            if (!rowsByKey.TryGetValue(key, out var p))
            {
                p = patterns.Count;
                rowsByKey.Add(key, p);
                var indices = new int[d];
                MissingData.SplitIndices(row, indices, out var obs, out var mis);
                patterns.Add(new Pattern(obs.ToArray(), mis.ToArray()));
            }

            missingRows.Add(i);
            missingPatternOfRow.Add(p);
        }

        // Counting sort by pattern (stable: rows ascending within a pattern) so a chunk mostly reuses one pattern's factors.
        var counts = new int[patterns.Count + 1];
        foreach (var p in missingPatternOfRow)
        {
            counts[p + 1]++;
        }

        for (var p = 0; p < patterns.Count; p++)
        {
            counts[p + 1] += counts[p];
        }

        var sortedRows = new int[missingRows.Count];
        var sortedPatterns = new int[missingRows.Count];
        for (var idx = 0; idx < missingRows.Count; idx++)
        {
            var p = missingPatternOfRow[idx];
            var at = counts[p]++;
            sortedRows[at] = missingRows[idx];
            sortedPatterns[at] = p;
        }

        return (complete.ToArray(), complete.Count, sortedRows, sortedPatterns, patterns.ToArray());
    }

    private sealed class Pattern(int[] observed, int[] missing)
    {
        public int[] Observed { get; } = observed;

        public int[] Missing { get; } = missing;

        /// <summary>Rows with this pattern.</summary>
        public int Rows { get; set; }

        /// <summary>Its rows go through the full precision (<see cref="ByPrecision"/>): no factors stored.</summary>
        public bool Direct { get; set; }

        /// <summary>Per component: Lo (o×o), B (m×o), C (m×m); nothing on the precision path.</summary>
        public int FactorStride => Direct ? 0 : (Observed.Length * Observed.Length) + (Missing.Length * Observed.Length) + (Missing.Length * Missing.Length);

        public int FactorOffset { get; set; }
    }

    private sealed class Scratch(int k, int d, bool direct)
    {
        // The precision path's per-row buffers (empty without it; Square is the work of its conditional covariance); the
        // row factors only if P_mm ever fails.
        private double[]? _rowSigma;
        private double[]? _rowFactor;

        public double[] Y { get; } = new double[direct ? d : 0];

        public double[] Delta { get; } = new double[direct ? d : 0];

        public double[] Pmm { get; } = new double[direct ? d * d : 0];

        public double[] Cond { get; } = new double[direct ? d * d : 0];

        public double[] Square { get; } = new double[direct ? d * d : 0];

        public double[] RowSigma => _rowSigma ??= new double[d * d];

        public double[] RowFactor => _rowFactor ??= new double[2 * d * d];

        public double[] Xt { get; } = new double[d * TileRows];

        public double[] Lk { get; } = new double[k * TileRows];

        public double[] Lse { get; } = new double[TileRows];

        public double[] Max { get; } = new double[TileRows];

        public double[] TileWork { get; } = new double[GmmTileKernel.WorkLength(d, TileRows)];

        public double[] RowLk { get; } = new double[k];

        public double[] Xhat { get; } = new double[d];

        public double[] Work { get; } = new double[4 * d];

        public double[] Sigma { get; } = new double[d * d];
    }
}
