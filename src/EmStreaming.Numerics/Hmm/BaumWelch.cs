namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// One Baum–Welch run. The workspace is allocated once for all restarts; an iteration allocates nothing.
/// </summary>
internal sealed class BaumWelch(IReadOnlyList<DataMatrix> sequences, int totalRows, HmmFitOptions options)
{
    private readonly HmmWorkspace _ws = new(totalRows, options.States, new HmmEmissions(options.States, sequences[0].Columns, options.Covariance));
    private readonly bool[] _degenerate = new bool[options.States];

    public HmmFitResult Run(int restart, IProgress<HmmProgress>? progress, CancellationToken cancellationToken)
    {
        var k = options.States;
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
                sequences, totalRows, k, options.Covariance, options.RegCovar, DeterministicRandom.DeriveSeed(options.Seed, (ulong)restart));
        }

        var trace = new List<double>(options.MaxIterations + 1);
        var converged = false;
        var iterations = 0;
        var mean = double.NegativeInfinity;
        var previous = double.NegativeInfinity;
        for (var iter = 1; iter <= options.MaxIterations; iter++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            mean = EStep(emissions, start, transitions, smooth: true) / totalRows;
            trace.Add(mean);
            progress?.Report(new HmmProgress(restart, iter, mean));
            if (iter > 1 && Math.Abs(mean - previous) < options.Tolerance)
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
            mean = EStep(emissions, start, transitions, smooth: false) / totalRows;
            trace.Add(mean);
        }

        var model = GaussianHmm.FromParts(start, transitions, emissions);
        return new HmmFitResult(model, converged, iterations, trace, mean, restart, totalRows);
    }

    /// <summary>Total log-likelihood; with <paramref name="smooth"/> also ξ sums, start counts and emission statistics.</summary>
    private double EStep(HmmEmissions emissions, double[] start, double[] transitions, bool smooth)
    {
        var ws = _ws;
        var k = options.States;
        if (smooth)
        {
            Array.Clear(ws.Xi);
            Array.Clear(ws.StartCounts);
            ws.Statistics.Clear();
        }

        var ll = 0.0;
        var offset = 0;
        foreach (var seq in sequences)
        {
            var n = seq.Rows;
            if (n == 0)
            {
                continue;
            }

            emissions.LogDensities(seq, 0, n, ws.LogEmission.AsSpan(offset * k, n * k), ws.Scratch);
            ll += ws.ForwardAt(offset, n, start, transitions);
            if (smooth)
            {
                ws.BackwardAt(offset, n, transitions);
                for (var j = 0; j < k; j++)
                {
                    ws.StartCounts[j] += ws.Alpha[(offset * k) + j];
                }

                emissions.AccumulateStatistics(seq, 0, n, ws.Alpha.AsSpan(offset * k, n * k), ws.Statistics, ws.Scratch);
            }

            offset += n;
        }

        return ll;
    }

    private void MStep(HmmEmissions emissions, double[] start, double[] transitions)
    {
        var k = options.States;
        var c = options.TransitionPseudoCount;
        NormalizeWithPseudoCount(_ws.StartCounts, start, c);
        for (var i = 0; i < k; i++)
        {
            NormalizeWithPseudoCount(_ws.Xi.AsSpan(i * k, k), transitions.AsSpan(i * k, k), c);
        }

        emissions.MStep(_ws.Statistics, options.RegCovar, _degenerate);
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
