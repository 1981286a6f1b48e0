namespace EmStreaming.Numerics.Hmm;

/// <summary>Batch Baum–Welch for Gaussian HMMs over one or many independent sequences.</summary>
public static class GaussianHmmEM
{
    /// <summary>Fits a Gaussian HMM to one sequence. See <see cref="Fit(IReadOnlyList{DataMatrix}, HmmFitOptions, IProgress{HmmProgress}?, CancellationToken)"/>.</summary>
    public static HmmFitResult Fit(DataMatrix data, HmmFitOptions options, IProgress<HmmProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Fit([data], options, progress, cancellationToken);
    }

    /// <summary>
    /// Fits a Gaussian HMM by Baum–Welch (scaled forward–backward) to independent sequences sharing parameters.
    /// Each restart starts from k-means++ (seeded from <see cref="HmmFitOptions.Seed"/> and the restart index) or
    /// from <see cref="HmmFitOptions.WarmStart"/>; the restart with the best final log-likelihood wins. Missing
    /// entries (NaN) are marginalized in the E-step and enter the M-step through their conditional expectations.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (the message names it).</exception>
    /// <exception cref="ArgumentException">No sequence, dimensions differ, fewer rows than states, or a row or a column with no observed value (the message names it).</exception>
    /// <exception cref="OperationCanceledException">Cancelled between iterations.</exception>
    public static HmmFitResult Fit(IReadOnlyList<DataMatrix> sequences, HmmFitOptions options, IProgress<HmmProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (sequences.Count == 0)
        {
            throw new ArgumentException("at least one sequence is needed.", nameof(sequences));
        }

        var d = sequences[0].Columns;
        long total = 0;
        for (var s = 0; s < sequences.Count; s++)
        {
            ArgumentNullException.ThrowIfNull(sequences[s], nameof(sequences));
            HmmWorkspace.Validate(sequences[s], d, sequences.Count > 1 ? s : -1);
            total += sequences[s].Rows;
        }

        var empty = FirstUnobservedColumn(sequences, d);
        if (empty >= 0)
        {
            // A column with no observed value in any sequence has no estimate: Baum–Welch would keep the initializer's
            // placeholders (mean 0, variance 1) as a fixed point, and filters, scores and imputation would use them.
            // Refused, as the mixture fit refuses it.
            throw new ArgumentException($"column {empty} has no observed value, so the fit cannot estimate it", nameof(sequences));
        }

        if (total < options.States)
        {
            throw new ArgumentException($"{total} observations cannot fit {options.States} states.", nameof(sequences));
        }

        if (options.WarmStart is { } w && w.Dimension != d)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"WarmStart has dimension {w.Dimension} but the data have {d} columns.");
        }

        using var fitter = new BaumWelch(sequences, (int)total, options);
        var restarts = options.WarmStart is null ? options.Restarts : 1;
        HmmFitResult? best = null;
        for (var r = 0; r < restarts; r++)
        {
            var result = fitter.Run(r, progress, cancellationToken);
            if (best is null || result.MeanLogLikelihood > best.MeanLogLikelihood)
            {
                best = result;
            }
        }

        return best!;
    }

    /// <summary>The first column with no observed entry in any of <paramref name="sequences"/>, or −1.</summary>
    private static int FirstUnobservedColumn(IReadOnlyList<DataMatrix> sequences, int columns)
    {
        Span<bool> seen = columns <= 256 ? stackalloc bool[columns] : new bool[columns];
        seen.Clear();
        var left = columns;
        foreach (var sequence in sequences)
        {
            if (!sequence.HasMissing && sequence.Rows > 0)
            {
                return -1;
            }

            var values = sequence.Values;
            for (var i = 0; i < values.Length && left > 0; i++)
            {
                var j = i % columns;
                if (!seen[j] && !double.IsNaN(values[i]))
                {
                    seen[j] = true;
                    left--;
                }
            }
        }

        return left == 0 ? -1 : seen.IndexOf(false);
    }
}
