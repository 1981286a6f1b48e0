using System.Diagnostics.CodeAnalysis;
using System.Globalization;
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
    public static Choice ChooseGmm(CliContext context, CsvChunkReader reader, string path, int d, CovarianceType covariance, bool covarianceGiven, ulong seed, bool json)
    {
        var rows = PrefixedChunks.Collect(reader, GmmChoiceRows(d), d);
        var n = NonEmpty(rows, path, "--components");
        var data = rows.Head(n);
        var maxK = (int)Math.Clamp(n / (2L * (d + 1)), 1, GmmArguments.DefaultMaxComponents);
        IReadOnlyList<CovarianceType> types = covarianceGiven
            ? [covariance]
            : [CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diag, CovarianceType.Spherical];
        var options = new GmmFitOptions { Components = 1, Covariance = covariance, Seed = seed };
        var choice = context.WithProgress<GmmProgress, GmmModelChoice>($"Choosing K and the covariance type by BIC on the first {n} rows", json, FitCommand.Describe, p =>
            GaussianMixtureEM.ChooseByBic(data, options, maxK, types, p, context.Cancellation));
        var best = choice.Best;
        var why = GmmArguments.Why(choice, maxK, types, $"on the first {n} rows");
        return new Choice(best.Components, best.Covariance, why, GmmArguments.Reported(choice), rows, n);
    }

    /// <summary>The number of states of an HMM and (unless <paramref name="covarianceGiven"/>) full or diag, by BIC on the first rows (the online HMM's first-fit buffer).</summary>
    public static Choice ChooseHmm(CliContext context, CsvChunkReader reader, string path, int d, CovarianceType covariance, bool covarianceGiven, ulong seed, bool json)
    {
        var rows = PrefixedChunks.Collect(reader, OnlineHmmOptions.DefaultBufferSize, d);
        var n = NonEmpty(rows, path, "--states");
        var data = rows.Head(n);
        var maxStates = (int)Math.Clamp(n / (2L * (d + 1)), 1, HmmFit.DefaultMaxStates);
        var options = new HmmFitOptions { States = 1, Covariance = covariance, Seed = seed };
        var types = HmmFit.CovarianceTypes(options, chooseCovariance: !covarianceGiven);
        var choice = context.WithProgress<HmmProgress, HmmStateChoice>($"Choosing the number of states (1..{maxStates}) by BIC on the first {n} rows", json,
            HmmFit.Describe,
            p => HmmStateChoice.ByBic(data, options, maxStates, types, p, context.Cancellation));
        var why = HmmFit.Why(choice, maxStates, types, $"on the first {n} rows");
        return new Choice(choice.Best.States, choice.Best.Covariance, why, HmmFit.Reported(choice), rows, n);
    }

    private static int NonEmpty(PrefixedChunks rows, string path, string flag) =>
        rows.HeldRows > 0 ? rows.ChoiceRows : throw new CliException($"{path} has no data rows: there is nothing to choose the model on (give {flag} to start from nothing)");
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

    private PrefixedChunks(CsvChunkReader reader, CsvChunk held, int choiceRows)
    {
        _reader = reader;
        _held = held;
        _first = held;
        HeldRows = held.Rows;
        ChoiceRows = choiceRows;
    }

    /// <summary>Rows held back (whole chunks: at least the rows asked for, unless the file ended first).</summary>
    public int HeldRows { get; }

    /// <summary>The rows asked for, or all the file had when fewer.</summary>
    public int ChoiceRows { get; }

    /// <summary>Takes chunks from <paramref name="reader"/> until <paramref name="rows"/> rows are held or the file ends.</summary>
    public static PrefixedChunks Collect(CsvChunkReader reader, int rows, int d)
    {
        var values = new List<double>(rows * d);
        var held = 0;
        while (held < rows && reader.TryTake(out var chunk))
        {
            values.AddRange(chunk.Filled);
            held += chunk.Rows;
            reader.Return(chunk);
        }

        var copy = new CsvChunk(held, d) { Rows = held };
        values.CopyTo(copy.Values);
        return new PrefixedChunks(reader, copy, Math.Min(rows, held));
    }

    /// <summary>The first <paramref name="rows"/> held rows as a matrix (a copy).</summary>
    public DataMatrix Head(int rows) => new(_first!.Values.AsSpan(0, rows * _first.Columns).ToArray(), rows, _first.Columns);

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
