using System.CommandLine;
using System.Globalization;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Cli.Commands;

/// <summary>The options every command that fits a Gaussian mixture shares (fit, impute).</summary>
internal sealed class GmmArguments
{
    public Option<int?> Components { get; } = new("--components", "-k") { Description = "Number of mixture components K (>= 1). Default: chosen by BIC (with the covariance type, unless --covariance is given)." };
    public Option<string> Covariance { get; } = new("--covariance") { Description = "Covariance type: full, diag, spherical or tied. Default: full with --components, else chosen by BIC.", DefaultValueFactory = _ => "full" };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Random seed: the same seed and data give a bit-identical fit.", DefaultValueFactory = _ => 0UL };
    public Option<int> NInit { get; } = new("--n-init") { Description = "Number of restarts with distinct seeds; the best log-likelihood is kept.", DefaultValueFactory = _ => 1 };
    public Option<int> MaxIter { get; } = new("--max-iter") { Description = "Maximum EM iterations per restart.", DefaultValueFactory = _ => 100 };
    public Option<double> Tol { get; } = new("--tol") { Description = "Convergence threshold on the change of mean log-likelihood per sample. Default: 1e-5 per sample or 1e-2 on the total, whichever comes first.", DefaultValueFactory = _ => GmmFitOptions.DefaultTolerance };
    public Option<double> RegCovar { get; } = new("--reg-covar")
    {
        Description = "Non-negative amount added to covariance diagonals, on top of a floor of 1e-4 of each column's own scale (1e-6 for a constant column).",
        DefaultValueFactory = _ => GmmFitOptions.DefaultRegCovar,
    };
    public Option<string?> Columns { get; } = new("--columns") { Description = "Comma-separated column names to use (default: every numeric column)." };
    public Option<string?> SelectK { get; } = new("--select-k") { Description = "Range MIN..MAX: fit each K and keep the lowest BIC among the fits whose every component has the rows to determine it." };

    public void AddTo(Command command)
    {
        command.Options.Add(Components);
        command.Options.Add(Covariance);
        command.Options.Add(Seed);
        command.Options.Add(NInit);
        command.Options.Add(MaxIter);
        command.Options.Add(Tol);
        command.Options.Add(RegCovar);
        command.Options.Add(Columns);
        command.Options.Add(SelectK);
    }

    /// <summary>True when the user gave the option on the command line (an option with a default always has a result, marked implicit).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    public IReadOnlyList<string>? ColumnNames(ParseResult parse) => ParseColumns(parse.GetValue(Columns));

    /// <summary>
    /// The names of a <c>--columns</c> option (given once as a comma-separated list, or repeated), null when it is absent (every
    /// numeric column). Names are trimmed and matched exactly (case-sensitive) against the header. An empty name (<c>a,,b</c>,
    /// <c>,,,</c>, an empty value) is an error: dropped quietly, <c>--columns ,,,</c> used every column.
    /// </summary>
    public static string[]? ParseColumns(params string?[]? values)
    {
        if (values is null || values.All(v => v is null))
        {
            return null;
        }

        var names = new List<string>();
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            var parts = value.Split(',', StringSplitOptions.TrimEntries);
            for (var i = 0; i < parts.Length; i++)
            {
                if (parts[i].Length == 0)
                {
                    throw new CliException(value.Trim(',', ' ').Length == 0
                        ? $"--columns: '{value}' names no column; give column names separated by commas, or leave the option out for every numeric column"
                        : $"--columns: name {names.Count + 1} of '{value}' is empty; give column names separated by commas");
                }

                names.Add(parts[i]);
            }
        }

        return [.. names];
    }

    public static CovarianceType ParseCovariance(string text) => text.Trim().ToLowerInvariant() switch
    {
        "full" => CovarianceType.Full,
        "diag" or "diagonal" => CovarianceType.Diag,
        "spherical" => CovarianceType.Spherical,
        "tied" => CovarianceType.Tied,
        _ => throw new CliException($"--covariance: '{text}' is not one of full, diag, spherical, tied"),
    };

    public static string Name(CovarianceType type) => type.ToString().ToLowerInvariant();

    /// <summary>Most restarts <c>--n-init</c> takes: past this a typo (an extra zero or three) would only run for hours.</summary>
    public const int MaxRestarts = 1_000;

    /// <summary>
    /// Checks <c>--n-init</c> and <c>--max-iter</c> (shared with the HMM fit). <c>--max-iter</c> has no upper bound: it is a bound
    /// itself (a fit stops when it converges), while every restart runs a whole fit.
    /// </summary>
    public static void CheckBudget(int nInit, int maxIter)
    {
        if (nInit is < 1 or > MaxRestarts) throw new CliException(string.Create(CultureInfo.InvariantCulture, $"--n-init must be between 1 and {MaxRestarts:N0}, not {nInit}"));
        if (maxIter < 1) throw new CliException("--max-iter must be at least 1");
    }

    /// <summary>Reads and checks the options; each bad value is reported with the flag that carries it.</summary>
    public GmmFitOptions ToOptions(ParseResult parse, int components)
    {
        var nInit = parse.GetValue(NInit);
        var maxIter = parse.GetValue(MaxIter);
        var tol = parse.GetValue(Tol);
        var reg = parse.GetValue(RegCovar);
        if (components < 1) throw new CliException("--components must be at least 1");
        CheckBudget(nInit, maxIter);
        if (!(tol >= 0) || double.IsInfinity(tol)) throw new CliException("--tol must be a finite number >= 0");
        if (!(reg >= 0) || double.IsInfinity(reg)) throw new CliException("--reg-covar must be a finite number >= 0");
        return new GmmFitOptions
        {
            Components = components,
            Covariance = ParseCovariance(parse.GetValue(Covariance) ?? "full"),
            Seed = parse.GetValue(Seed),
            Restarts = nInit,
            MaxIterations = maxIter,
            Tolerance = tol,
            AbsoluteTolerance = Given(parse, Tol) ? 0 : GmmFitOptions.DefaultAbsoluteTolerance,
            RegCovar = reg,
        };
    }

    /// <summary>Largest K tried when neither --components nor --select-k is given.</summary>
    public const int DefaultMaxComponents = 10;

    /// <summary>
    /// The model choice when neither --components nor --select-k is given: K from 1 to min(10, n / (2(d+1))) (each component
    /// backed by at least twice what determines it, on average) and, unless --covariance is given, every covariance type; the
    /// lowest BIC wins. Returns the winning fit and a sentence saying what was chosen and why.
    /// </summary>
    public (GmmFitResult Fit, GmmModelChoice Choice, string Why) Choose(ParseResult parse, DataMatrix data, IProgress<GmmProgress>? progress, CancellationToken ct)
    {
        var (options, maxK, types) = Candidates(parse, data);
        var choice = GaussianMixtureEM.ChooseByBic(data, options, maxK, types, progress, ct);
        return (choice.Best.Fit, choice, Why(choice, maxK, types));
    }

    /// <summary>The sentence that says what a choice by BIC chose and why; <paramref name="where"/> says on which rows, when not all.</summary>
    internal static string Why(GmmModelChoice choice, int maxK, IReadOnlyList<CovarianceType> types, string? where = null)
    {
        var best = choice.Best;
        return $"chose K={best.Components}, covariance={Name(best.Covariance)}: the lowest BIC ({best.Bic.ToString("F1", CultureInfo.InvariantCulture)}) "
            + (where is null ? "" : where + ", ")
            + $"of {choice.Candidates.Count} fits (K = 1..{maxK} × {string.Join("/", types.Select(Name))}; give --components to fix K)"
            + ModelChoiceReport.Tail(
                Reported(choice), ModelChoiceReport.IndexOf(choice.Candidates, best), "component", " (its likelihood is the covariance floor's, not the data's)");
    }

    /// <summary>The candidates of a mixture's choice as <see cref="ModelChoiceReport"/> reports them.</summary>
    public static IReadOnlyList<ModelChoiceReport.Candidate> Reported(GmmModelChoice choice) =>
        [.. choice.Candidates.Select(c => new ModelChoiceReport.Candidate(c.Components, Name(c.Covariance), c.Bic, c.Fit.UnderdeterminedComponents))];

    /// <summary>
    /// The model choice of <c>impute</c> without --components: the same candidates as <see cref="Choose"/>, judged by how well
    /// they put back a tenth of the observed entries hidden from them (BIC favours diagonal mixtures that impute like column
    /// means); the winner is refitted on all the data.
    /// </summary>
    public (GmmFitResult Fit, string Why) ChooseForImputation(ParseResult parse, DataMatrix data, IProgress<GmmProgress>? progress, CancellationToken ct)
    {
        var (options, maxK, types) = Candidates(parse, data);
        var choice = GaussianMixtureEM.ChooseForImputation(data, options, maxK, types, progress, ct);
        var best = choice.Best;
        var fit = GaussianMixtureEM.Fit(data, options with { Components = best.Components, Covariance = best.Covariance }, progress, ct);
        var runnerUp = choice.Candidates.Where(c => !ReferenceEquals(c, best)).OrderBy(c => c.Bic).FirstOrDefault();
        var why = $"chose K={best.Components}, covariance={Name(best.Covariance)}: the smallest error ({best.Bic.ToString("F3", CultureInfo.InvariantCulture)} column SDs) "
            + $"putting back a tenth of the observed entries hidden from the fit, of {choice.Candidates.Count} fits (K = 1..{maxK} × {string.Join("/", types.Select(Name))}; give --components to fix K)"
            + (runnerUp is null ? "" : $"; next: K={runnerUp.Components} {Name(runnerUp.Covariance)}, {runnerUp.Bic.ToString("F3", CultureInfo.InvariantCulture)}");
        return (fit, why);
    }

    private (GmmFitOptions Options, int MaxK, IReadOnlyList<CovarianceType> Types) Candidates(ParseResult parse, DataMatrix data)
    {
        var options = ToOptions(parse, 1);
        var maxK = (int)Math.Clamp(data.Rows / (2L * (data.Columns + 1)), 1, DefaultMaxComponents);
        IReadOnlyList<CovarianceType> types = !Given(parse, Covariance)
            ? [CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diag, CovarianceType.Spherical]
            : [options.Covariance];
        return (options, maxK, types);
    }

    /// <summary>The K range of --select-k, or null when it is not given.</summary>
    public (int Min, int Max)? KRange(ParseResult parse)
    {
        if (parse.GetValue(SelectK) is not { } text)
        {
            return null;
        }

        var parts = text.Split("..");
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var min)
            || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var max))
        {
            throw new CliException($"--select-k: '{text}' is not a range MIN..MAX such as 1..6");
        }

        if (min < 1 || max < min)
        {
            throw new CliException($"--select-k: the range {min}..{max} must satisfy 1 <= MIN <= MAX");
        }

        return (min, max);
    }
}
