using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Baum–Welch runs over fixed sequences. Buffers are allocated once for all restarts and an iteration allocates
/// nothing. The emission densities and the emission statistics come from the mixture core's
/// <see cref="GmmWorkspace"/> (vectorized tiles, missingness patterns factored once per pass, parallel chunks with an
/// ordered, deterministic reduction); the forward–backward recursions are inherently sequential per sequence.
/// </summary>
internal sealed class BaumWelch : IDisposable
{
    private readonly IReadOnlyList<DataMatrix> _sequences;
    private readonly int _totalRows;
    private readonly HmmFitOptions _options;
    private readonly HmmWorkspace _ws;
    private readonly GmmWorkspace _gmm;
    private readonly GmmSufficientStatistics _statistics;
    private readonly bool[] _degenerate;
    private readonly double[] _floor;

    public BaumWelch(IReadOnlyList<DataMatrix> sequences, int totalRows, HmmFitOptions options)
    {
        _sequences = sequences;
        _totalRows = totalRows;
        _options = options;
        var d = sequences[0].Columns;
        _ws = new HmmWorkspace(totalRows, options.States, new HmmEmissions(options.States, d, options.Covariance));
        _degenerate = new bool[options.States];

        // Densities and statistics are per row and ignore sequence boundaries, so several sequences share one
        // workspace over their concatenation (one thread pool, one pass); only forward–backward runs per sequence.
        var all = sequences[0];
        if (sequences.Count > 1)
        {
            var values = new double[totalRows * d];
            var o = 0;
            foreach (var seq in sequences)
            {
                seq.Values.CopyTo(values.AsSpan(o));
                o += seq.Values.Length;
            }

            all = new DataMatrix(values, totalRows, d);
        }

        _gmm = new GmmWorkspace(all, options.States, options.Covariance, options.MaxDegreeOfParallelism);
        _floor = CovarianceFloor.FromData(all.Values, d, options.RelativeRegCovar);
        _statistics = _gmm.CreateStatistics();
    }

    public void Dispose() => _gmm.Dispose();

    public HmmFitResult Run(int restart, IProgress<HmmProgress>? progress, CancellationToken cancellationToken)
    {
        var k = _options.States;
        var options = _options;
        double[] start;
        double[] transitions;
        HmmEmissions emissions;
        if (options.WarmStart is { } warm)
        {
            start = warm.StartProbabilities.ToArray();
            transitions = warm.Transitions.ToArray();
            emissions = warm.Emissions.Clone();
        }
        else
        {
            (start, transitions, emissions) = HmmInitializer.KMeans(
                _sequences,
                _totalRows,
                k,
                options.Covariance,
                options.RegCovar,
                options.RelativeRegCovar,
                DeterministicRandom.DeriveSeed(options.Seed, (ulong)restart),
                SeedingSpaces.OfStart(restart, options.DiverseSeeding));
        }

        // Capacity capped: MaxIterations is a bound, not a size (int.MaxValue + 1 overflowed).
        var trace = new List<double>(Math.Min(options.MaxIterations, 1_024) + 1);
        var converged = false;
        var iterations = 0;
        var mean = double.NegativeInfinity;
        var previous = double.NegativeInfinity;
        for (var iter = 1; iter <= options.MaxIterations; iter++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            mean = EStep(emissions, start, transitions, smooth: true) / _totalRows;
            trace.Add(mean);
            progress?.Report(new HmmProgress(restart, iter, mean));
            var change = Math.Abs(mean - previous);
            if (iter > 1 && (change < options.Tolerance || change * _totalRows < options.AbsoluteTolerance))
            {
                converged = true;
                break;
            }

            MStep(emissions, start, transitions);
            iterations = iter;
            previous = mean;
        }

        if (!converged)
        {
            mean = EStep(emissions, start, transitions, smooth: false) / _totalRows;
            trace.Add(mean);
        }

        var model = GaussianHmm.FromParts(start, transitions, emissions);
        return new HmmFitResult(model, converged, iterations, trace, mean, restart, _totalRows);
    }

    /// <summary>
    /// One Baum–Welch iteration in place (E-step, then M-step); returns the mean log-likelihood per observation of
    /// the parameters it started from. The unit the benchmarks time.
    /// </summary>
    internal double Iteration(HmmEmissions emissions, double[] start, double[] transitions)
    {
        var mean = EStep(emissions, start, transitions, smooth: true) / _totalRows;
        MStep(emissions, start, transitions);
        return mean;
    }

    /// <summary>Total log-likelihood; with <paramref name="smooth"/> also ξ sums, start counts and emission statistics.</summary>
    private double EStep(HmmEmissions emissions, double[] start, double[] transitions, bool smooth)
    {
        var ws = _ws;
        var k = _options.States;
        if (smooth)
        {
            Array.Clear(ws.Xi);
            Array.Clear(ws.StartCounts);
            _statistics.Clear();
        }

        _gmm.LogDensities(emissions.Parameters, ws.LogEmission.AsMemory(0, _totalRows * k));
        var ll = 0.0;
        var offset = 0;
        foreach (var seq in _sequences)
        {
            var n = seq.Rows;
            if (n == 0)
            {
                continue;
            }

            ll += ws.ForwardAt(offset, n, start, transitions);
            if (smooth)
            {
                ws.BackwardAt(offset, n, transitions);
                for (var j = 0; j < k; j++)
                {
                    ws.StartCounts[j] += ws.Alpha[(offset * k) + j];
                }
            }

            offset += n;
        }

        if (smooth)
        {
            // Smoothed state posteriors are the responsibilities of the emission statistics.
            _gmm.Accumulate(emissions.Parameters, ws.Alpha.AsMemory(0, _totalRows * k), _statistics);
        }

        return ll;
    }

    private void MStep(HmmEmissions emissions, double[] start, double[] transitions)
    {
        var k = _options.States;
        var c = _options.TransitionPseudoCount;
        NormalizeWithPseudoCount(_ws.StartCounts, start, c);
        for (var i = 0; i < k; i++)
        {
            NormalizeWithPseudoCount(_ws.Xi.AsSpan(i * k, k), transitions.AsSpan(i * k, k), c);
        }

        emissions.MStep(_statistics, _options.RegCovar, _floor, _degenerate);
    }

    // A row with no expected count and no pseudo-count keeps its previous value rather than becoming 0/0.
    private static void NormalizeWithPseudoCount(ReadOnlySpan<double> counts, Span<double> target, double pseudoCount)
    {
        var sum = 0.0;
        foreach (var v in counts)
        {
            sum += v + pseudoCount;
        }

        if (!(sum > 0) || !double.IsFinite(sum))
        {
            return;
        }

        var inv = 1.0 / sum;
        for (var j = 0; j < counts.Length; j++)
        {
            target[j] = (counts[j] + pseudoCount) * inv;
        }
    }
}
