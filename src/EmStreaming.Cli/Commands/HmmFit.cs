using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EmStreaming.Cli.ModelFiles;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Hmm;
using Spectre.Console;

namespace EmStreaming.Cli.Commands;

/// <summary><c>emstream fit --model hmm</c>: Baum–Welch on the rows of a CSV file taken as one sequence, in file order.</summary>
internal static class HmmFit
{
    public static int Run(CliContext context, ParseResult parse, string path, GmmArguments common, HmmArguments hmm, string? savePath, bool json)
    {
        if (parse.GetValue(common.SelectK) is not null)
        {
            throw new CliException("--select-k applies to --model gmm only");
        }

        // Without --states the number of states is chosen by BIC, as the mixture's K is without --components.
        var given = parse.GetValue(hmm.States) ?? parse.GetValue(common.Components);
        var options = ToOptions(parse, common, given ?? 1);
        OutputPath.Check("--viterbi", parse.GetValue(hmm.Viterbi));
        OutputPath.Check("--save", savePath);
        var csv = context.LoadCsv(path, common.ColumnNames(parse), json);
        var data = csv.Data;

        var watch = Stopwatch.StartNew();
        var (result, choice, why) = FitOrChoose(context, given, options, data, json, chooseCovariance: !GmmArguments.Given(parse, common.Covariance));
        watch.Stop();
        var model = result.Model;

        if (savePath is not null)
        {
            ModelFile.SaveHmm(savePath, model, csv.ColumnNames);
        }

        if (parse.GetValue(hmm.Viterbi) is { } viterbiPath)
        {
            var path2 = model.Decode(data);
            OutputPath.WriteText("--viterbi", viterbiPath, writer =>
            {
                writer.WriteLine("state");
                foreach (var s in path2)
                {
                    writer.WriteLine(s.ToString(CultureInfo.InvariantCulture));
                }
            });
        }

        var k = model.States;
        var d = model.Dimension;
        if (json)
        {
            context.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("model", "hmm");
                w.WriteNumber("n", data.Rows);
                w.WriteNumber("d", d);
                w.WriteNumber("k", k);
                w.WriteString("covariance", GmmArguments.Name(model.CovarianceType));
                w.WriteBoolean("converged", result.Converged);
                w.WriteNumber("iterations", result.Iterations);
                w.Number("meanLogLikelihood", result.MeanLogLikelihood);
                w.Number("bic", result.Bic);
                w.Number("aic", result.Aic);
                w.Vector("startProbabilities", model.StartProbabilities);
                w.Matrix("transitions", model.Transitions, k, k);
                w.Matrix("means", model.Means, k, d);
                w.Covariances(k, d, model.FullCovariance);
                if (choice is not null)
                {
                    ModelChoiceReport.WriteChosen(w, why, Reported(choice));
                }

                w.WriteNumber("fitSeconds", Math.Round(watch.Elapsed.TotalSeconds, 6));
                w.WriteEndObject();
            }));
            return ExitCodes.Success;
        }

        var console = context.Console;
        console.MarkupLine($"[bold]Gaussian HMM[/]: n={data.Rows}, d={d}, states={k}, covariance={GmmArguments.Name(model.CovarianceType)}");
        console.MarkupLine($"converged: {(result.Converged ? "yes" : "[yellow]no[/]")} after {result.Iterations} {(result.Iterations == 1 ? "iteration" : "iterations")} in {watch.Elapsed.TotalSeconds:F3} s");
        console.MarkupLine($"mean log-likelihood per observation: {result.MeanLogLikelihood:F6}   BIC: {result.Bic:F3}");
        if (why is not null)
        {
            console.MarkupLine($"model choice: {Markup.Escape(why)}");
        }

        var transitions = new Table().AddColumn("from \\ to");
        for (var s = 0; s < k; s++)
        {
            transitions.AddColumn(s.ToString(CultureInfo.InvariantCulture));
        }

        for (var s = 0; s < k; s++)
        {
            var cells = new List<string> { s.ToString(CultureInfo.InvariantCulture) };
            for (var t = 0; t < k; t++)
            {
                cells.Add(model.Transitions[(s * k) + t].ToString("F4", CultureInfo.InvariantCulture));
            }

            transitions.AddRow([.. cells]);
        }

        console.Write(transitions);
        for (var s = 0; s < k; s++)
        {
            var mean = string.Join(", ", Enumerable.Range(0, d).Select(j => model.Means[(s * d) + j].ToString("G6", CultureInfo.InvariantCulture)));
            // Brackets doubled: a single [ opens a markup tag, and the numbers inside made Spectre throw (every text-mode HMM fit crashed).
            console.MarkupLine($"state {s}: start {model.StartProbabilities[s]:F4}, mean [[{mean}]]");
        }

        if (savePath is not null)
        {
            console.MarkupLine($"model written to {Markup.Escape(savePath)}");
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// Baum–Welch with <paramref name="given"/> states, or the number of states chosen by BIC when it is null, with the
    /// covariance type (full or diag) when <paramref name="chooseCovariance"/> (no --covariance given).
    /// </summary>
    internal static (HmmFitResult Result, HmmStateChoice? Choice, string? Why) FitOrChoose(
        CliContext context, int? given, HmmFitOptions options, DataMatrix data, bool json, bool chooseCovariance)
    {
        if (given is { } states)
        {
            return (context.WithProgress<HmmProgress, HmmFitResult>($"Fitting an HMM with {states} states", json, Describe,
                p => GaussianHmmEM.Fit(data, options, p, context.Cancellation)), null, null);
        }

        var maxStates = (int)Math.Clamp(data.Rows / (2L * (data.Columns + 1)), 1, DefaultMaxStates);
        var types = CovarianceTypes(options, chooseCovariance);
        var choice = context.WithProgress<HmmProgress, HmmStateChoice>($"Choosing the number of states (1..{maxStates}) by BIC", json, Describe,
            p => HmmStateChoice.ByBic(data, options, maxStates, types, p, context.Cancellation));
        return (choice.Best.Fit, choice, Why(choice, maxStates, types));
    }

    /// <summary>Largest number of states tried when --states is not given (the K ≤ 8 regimes users run).</summary>
    public const int DefaultMaxStates = 8;

    internal static string Describe(HmmProgress p) =>
        $"restart {p.Restart + 1}, iteration {p.Iteration}, mean log-likelihood {p.MeanLogLikelihood:F5}";

    /// <summary>The sentence that says what a choice by BIC chose and why; <paramref name="where"/> says on which rows, when not all.</summary>
    internal static string Why(HmmStateChoice choice, int maxStates, IReadOnlyList<CovarianceType> types, string? where = null)
    {
        var best = choice.Best;
        var both = types.Count > 1;
        return $"chose {best.States} state(s){(both ? $", covariance={GmmArguments.Name(best.Covariance)}" : "")}: the lowest BIC ({best.Bic.ToString("F1", CultureInfo.InvariantCulture)}) "
            + (where is null ? "" : where + ", ")
            + $"of {choice.Candidates.Count} fits "
            + $"(K = 1..{maxStates}{(both ? $" × {string.Join("/", types.Select(GmmArguments.Name))}" : "")}, stopping once BIC rose twice; give --states to fix K)"
            + ModelChoiceReport.Tail(Reported(choice), ModelChoiceReport.IndexOf(choice.Candidates, best), "state");
    }

    /// <summary>The covariance types a choice tries: full and diag unless --covariance was given (or only the options' own).</summary>
    internal static IReadOnlyList<CovarianceType> CovarianceTypes(HmmFitOptions options, bool chooseCovariance) =>
        chooseCovariance ? [CovarianceType.Full, CovarianceType.Diag] : [options.Covariance];

    /// <summary>The candidates as reported; each with its covariance type when the choice tried more than one.</summary>
    internal static IReadOnlyList<ModelChoiceReport.Candidate> Reported(HmmStateChoice choice)
    {
        var withCovariance = choice.Candidates.Select(c => c.Covariance).Distinct().Count() > 1;
        return [.. choice.Candidates.Select(c => new ModelChoiceReport.Candidate(c.States, withCovariance ? GmmArguments.Name(c.Covariance) : null, c.Bic, c.UnderdeterminedStates))];
    }

    internal static HmmFitOptions ToOptions(ParseResult parse, GmmArguments common, int states)
    {
        if (states < 1)
        {
            throw new CliException("--states must be at least 1");
        }

        var covariance = GmmArguments.ParseCovariance(parse.GetValue(common.Covariance) ?? "full");
        if (covariance is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new CliException("--covariance: an hmm supports full or diag");
        }

        var nInit = parse.GetValue(common.NInit);
        var maxIter = !GmmArguments.Given(parse, common.MaxIter) ? HmmFitOptions.DefaultMaxIterations : parse.GetValue(common.MaxIter);
        GmmArguments.CheckBudget(nInit, maxIter);

        // The HMM's own defaults apply unless the flags were given: a tolerance of 1e-2 on the total log-likelihood (as hmmlearn)
        // and up to 1,000 iterations; --tol gives a per-observation tolerance instead, which then decides alone.
        var tol = !GmmArguments.Given(parse, common.Tol) ? HmmFitOptions.DefaultTolerance : parse.GetValue(common.Tol);
        var reg = !GmmArguments.Given(parse, common.RegCovar) ? HmmFitOptions.DefaultRegCovar : parse.GetValue(common.RegCovar);
        if (!(tol >= 0) || double.IsInfinity(tol)) throw new CliException("--tol must be a finite number >= 0");
        if (!(reg >= 0) || double.IsInfinity(reg)) throw new CliException("--reg-covar must be a finite number >= 0");
        return new HmmFitOptions
        {
            States = states,
            Covariance = covariance,
            Restarts = nInit,
            MaxIterations = maxIter,
            Tolerance = tol,
            AbsoluteTolerance = !GmmArguments.Given(parse, common.Tol) ? HmmFitOptions.DefaultAbsoluteTolerance : 0,
            RegCovar = reg,
            Seed = parse.GetValue(common.Seed),
        };
    }
}
