using System.Diagnostics.CodeAnalysis;
using EmStreaming.Cli.Csv;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Cli.Commands;

/// <summary>Where the stream's learner takes its rows from, in file order: the CSV reader, or the rows a choice held back first.</summary>
internal interface IChunkSource
{
    bool TryTake([NotNullWhen(true)] out CsvChunk? chunk);

    void Return(CsvChunk chunk);
}

/// <summary>
/// <c>stream</c> without <c>--components</c> / <c>--states</c>: the model is chosen by BIC on the stream's first rows, as
/// <c>fit</c> chooses it on a whole file, and those rows are then learned like any other (the estimator's first fit is made
/// on exactly them).
/// </summary>
internal static class StreamModelChoice
{
    /// <summary>Most rows a mixture's choice is made on (and its first fit): K = 10 full in 50 dimensions would ask for 132,590.</summary>
    public const int MaxGmmChoiceRows = 20_000;

    /// <summary>
    /// Rows a mixture's choice is made on: the automatic warm-up of the largest candidate (K = 10, full covariance,
    /// max(500, 10 × free parameters)), at most <see cref="MaxGmmChoiceRows"/>.
    /// </summary>
    public static int GmmChoiceRows(int d) =>
        Math.Min(MaxGmmChoiceRows, new OnlineGmmOptions { Components = GmmArguments.DefaultMaxComponents, Covariance = CovarianceType.Full }.EffectiveWarmUp(d));

    /// <summary>What was chosen, why, and the rows it was chosen on (to be learned first).</summary>
    public sealed record Choice(int K, CovarianceType Covariance, string Why, IReadOnlyList<ModelChoiceReport.Candidate> Candidates, PrefixedChunks Rows, int ChoiceRows);

    /// <summary>K and (unless <paramref name="covarianceGiven"/>) the covariance type of a mixture, by BIC on the first rows.</summary>
    public static Choice ChooseGmm(CliContext context, CsvChunkReader reader, CsvSchema schema, CovarianceType covariance, bool covarianceGiven, ulong seed, bool json)
    {
        var d = schema.Columns.Length;
        var (rows, data, where) = Rows(reader, schema, GmmChoiceRows(d), "--components");
        var n = data.Rows;
        var maxK = (int)Math.Clamp(n / (2L * (d + 1)), 1, GmmArguments.DefaultMaxComponents);
        IReadOnlyList<CovarianceType> types = covarianceGiven
            ? [covariance]
            : [CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diag, CovarianceType.Spherical];
        var options = new GmmFitOptions { Components = 1, Covariance = covariance, Seed = seed };
        var choice = context.WithProgress<GmmProgress, GmmModelChoice>($"Choosing K and the covariance type by BIC {where}", json, FitCommand.Describe, p =>
            GaussianMixtureEM.ChooseByBic(data, options, maxK, types, p, context.Cancellation));
        var best = choice.Best;
        var why = GmmArguments.Why(choice, maxK, types, where);
        return new Choice(best.Components, best.Covariance, why, GmmArguments.Reported(choice), rows, n);
    }

    /// <summary>The number of states of an HMM and (unless <paramref name="covarianceGiven"/>) full or diag, by BIC on the first rows (the online HMM's first-fit buffer).</summary>
    public static Choice ChooseHmm(CliContext context, CsvChunkReader reader, CsvSchema schema, CovarianceType covariance, bool covarianceGiven, ulong seed, bool json)
    {
        var d = schema.Columns.Length;
        var (rows, data, where) = Rows(reader, schema, OnlineHmmOptions.DefaultBufferSize, "--states");
        var n = data.Rows;
        var maxStates = (int)Math.Clamp(n / (2L * (d + 1)), 1, HmmFit.DefaultMaxStates);
        var options = new HmmFitOptions { States = 1, Covariance = covariance, Seed = seed };
        var types = HmmFit.CovarianceTypes(options, chooseCovariance: !covarianceGiven);
        var choice = context.WithProgress<HmmProgress, HmmStateChoice>($"Choosing the number of states (1..{maxStates}) by BIC {where}", json,
            HmmFit.Describe,
            p => HmmStateChoice.ByBic(data, options, maxStates, types, p, context.Cancellation));
        var why = HmmFit.Why(choice, maxStates, types, where);
        return new Choice(choice.Best.States, choice.Best.Covariance, why, HmmFit.Reported(choice), rows, n);
    }

    /// <summary>Most values held back while a column waits for its second observed value (128 MiB of doubles).</summary>
    private const int MaxHeldValues = 1 << 24;

    /// <summary>The rows to choose on (<see cref="PrefixedChunks.Collect"/>), checked, and where they are in the file, in words.</summary>
    private static (PrefixedChunks Rows, DataMatrix Data, string Where) Rows(CsvChunkReader reader, CsvSchema schema, int count, string flag)
    {
        var d = schema.Columns.Length;
        var rows = PrefixedChunks.Collect(reader, count, d, Math.Max(count, MaxHeldValues / d));
        if (rows.HeldRows == 0)
        {
            throw new CliException($"{schema.Path} has no data rows: there is nothing to choose the model on (give {flag} to start from nothing)");
        }

        var where = rows.ChoiceStart == 0
            ? $"on the first {rows.ChoiceRows} rows"
            : $"on rows {rows.ChoiceStart + 1}..{rows.ChoiceStart + rows.ChoiceRows} (the first {count} had a column with fewer than two observed values)";
        if (rows.ShortColumn >= 0)
        {
            throw new CliException(
                $"{schema.Path}: column '{schema.Header[schema.Columns[rows.ShortColumn]]}' has fewer than two observed values in any {rows.ChoiceRows} consecutive rows "
                + $"of the first {rows.HeldRows}, so no model can be chosen on them (give {flag}: the stream then waits for that column's values)");
        }

        return (rows, rows.Window(), where);
    }
}

/// <summary>
/// The first chunks of a stream, copied out of the reader's pool (which must keep parsing), handed to the learner as one
/// chunk before the reader's own.
/// </summary>
internal sealed class PrefixedChunks : IChunkSource
{
    private readonly CsvChunkReader _reader;
    private CsvChunk? _held;
    private CsvChunk? _first;

    private PrefixedChunks(CsvChunkReader reader, CsvChunk held, int choiceStart, int choiceRows, int shortColumn)
    {
        _reader = reader;
        _held = held;
        _first = held;
        HeldRows = held.Rows;
        ChoiceStart = choiceStart;
        ChoiceRows = choiceRows;
        ShortColumn = shortColumn;
    }

    /// <summary>Rows held back (whole chunks: at least the rows asked for, unless the file ended first).</summary>
    public int HeldRows { get; }

    /// <summary>The first row (0-based) of the rows to choose on.</summary>
    public int ChoiceStart { get; }

    /// <summary>How many rows to choose on: the rows asked for, or all the file had when fewer.</summary>
    public int ChoiceRows { get; }

    /// <summary>A column (0-based) observed fewer than twice in the rows to choose on, though every row held was looked at; else −1.</summary>
    public int ShortColumn { get; }

    /// <summary>
    /// Takes chunks from <paramref name="reader"/> until <paramref name="rows"/> rows are held or the file ends. While a column
    /// has fewer than two observed values among the rows to choose on (no fit can estimate it), they become the newest
    /// <paramref name="rows"/> rows held, and more are taken until it has two (as the estimator's warm-up keeps its newest rows
    /// and waits), the file ends, or <paramref name="maxHeld"/> rows are held.
    /// </summary>
    public static PrefixedChunks Collect(CsvChunkReader reader, int rows, int d, int maxHeld)
    {
        var values = new List<double>(rows * d);
        var held = 0;
        bool More()
        {
            if (!reader.TryTake(out var chunk))
            {
                return false;
            }

            values.AddRange(chunk.Filled);
            held += chunk.Rows;
            reader.Return(chunk);
            return true;
        }

        while (held < rows && More())
        {
        }

        var counts = new int[d];
        void Count(int row, int by)
        {
            for (var j = 0; j < d; j++)
            {
                counts[j] += double.IsNaN(values[(row * d) + j]) ? 0 : by;
            }
        }

        int Short() => Array.FindIndex(counts, c => c < WarmUpBufferMinimum);

        var (start, end) = (0, Math.Min(rows, held));
        for (var i = 0; i < end; i++)
        {
            Count(i, 1);
        }

        while (Short() >= 0 && (end < held || (held < maxHeld && More())))
        {
            Count(end++, 1);
            if (end - start > rows)
            {
                Count(start++, -1);
            }
        }

        var copy = new CsvChunk(held, d) { Rows = held };
        values.CopyTo(copy.Values);
        return new PrefixedChunks(reader, copy, start, end - start, Short());
    }

    /// <summary>Observed values a column needs among the rows a fit is made on: 2 (a mean and a spread).</summary>
    private const int WarmUpBufferMinimum = OnlineGaussianMixture.MinimumObservedPerColumn;

    /// <summary>The rows to choose on as a matrix (a copy).</summary>
    public DataMatrix Window() => new(_first!.Values.AsSpan(ChoiceStart * _first.Columns, ChoiceRows * _first.Columns).ToArray(), ChoiceRows, _first.Columns);

    public bool TryTake([NotNullWhen(true)] out CsvChunk? chunk)
    {
        if (_held is { } held)
        {
            _held = null;
            if (held.Rows > 0)
            {
                chunk = held;
                return true;
            }
        }

        return _reader.TryTake(out chunk);
    }

    public void Return(CsvChunk chunk)
    {
        // The held chunk is not the reader's: it is let go, not pooled (the pool has its own chunks of its own size).
        if (ReferenceEquals(chunk, _first))
        {
            _first = null;
            return;
        }

        _reader.Return(chunk);
    }
}
