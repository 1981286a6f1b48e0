using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using EmStreaming.Cli.ModelFiles;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using Spectre.Console;

namespace EmStreaming.Cli.Commands;

/// <summary><c>emstream fit</c>: batch EM on a CSV file.</summary>
internal static class FitCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "CSV file with a header row; empty fields and NA are missing values." };
        var model = new Option<string>("--model") { Description = "Model kind: gmm or hmm.", DefaultValueFactory = _ => "gmm" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on stdout." };
        var save = new Option<string?>("--save") { Description = "Write the fitted model to this JSON file (read by 'emstream predict')." };
        var gmm = new GmmArguments();
        var hmm = new HmmArguments();

        var command = new Command("fit", "Fit a Gaussian mixture (batch EM) or a Gaussian HMM (Baum-Welch) to a CSV file.");
        command.Arguments.Add(file);
        command.Options.Add(model);
        gmm.AddTo(command);
        hmm.AddTo(command);
        command.Options.Add(save);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var kind = (parse.GetValue(model) ?? "gmm").Trim().ToLowerInvariant();
            return kind switch
            {
                "gmm" => RunGmm(context, parse, parse.GetValue(file)!, gmm, parse.GetValue(save), parse.GetValue(json)),
                "hmm" => HmmFit.Run(context, parse, parse.GetValue(file)!, gmm, hmm, parse.GetValue(save), parse.GetValue(json)),
                _ => throw new CliException($"--model: '{kind}' is not one of gmm, hmm"),
            };
        });
        return command;
    }

    private static int RunGmm(CliContext context, ParseResult parse, string path, GmmArguments gmm, string? savePath, bool json)
    {
        // Every flag is checked before the file is opened: a typo costs nothing, whatever the file's size.
        var range = gmm.KRange(parse);
        var k = parse.GetValue(gmm.Components);
        // With neither --components nor --select-k the model is chosen below; its flags are still checked here, before any I/O.
        var options = gmm.ToOptions(parse, k ?? range?.Min ?? 1);
        OutputPath.Check("--save", savePath);
        var csv = context.LoadCsv(path, gmm.ColumnNames(parse), json);
        var data = csv.Data;

        // Checked before any fitting: --select-k 1..10 on 4 rows fitted K = 1..4 and then failed with the estimator's words.
        if ((range?.Max ?? k) is { } most && most > data.Rows)
        {
            var flag = range is { } given ? $"--select-k {given.Min}..{given.Max}" : $"--components {k}";
            throw new CliException($"{path}: {data.Rows} rows, fewer than the {most} components {flag} asks for (a component needs at least one row)");
        }

        var watch = Stopwatch.StartNew();
        GmmFitResult result;
        IReadOnlyList<(int K, double Bic, double Aic, int Underdetermined)>? byK = null;
        GmmModelChoice? choice = null;
        string? why = null;
        if (range is null && k is null)
        {
            (result, choice, why) = context.WithProgress<GmmProgress, (GmmFitResult, GmmModelChoice, string)>("Choosing K and the covariance type by BIC", json, Describe, p =>
                gmm.Choose(parse, data, p, context.Cancellation));
            return Report(context, csv.ColumnNames, data, result, watch, byK, choice, why, savePath, json);
        }

        if (range is { } r)
        {
            var selection = context.WithProgress<GmmProgress, GmmModelSelection>($"Selecting K in {r.Min}..{r.Max} by BIC", json, Describe, p =>
                GaussianMixtureEM.SelectByBic(data, r.Min, r.Max, options, p, context.Cancellation));
            result = selection.Best;
            byK = selection.Candidates.Select(c => (c.Components, c.Bic, c.Aic, c.Fit.UnderdeterminedComponents)).ToList();
        }
        else
        {
            result = context.WithProgress<GmmProgress, GmmFitResult>($"Fitting {options.Components} components", json, Describe, p =>
                GaussianMixtureEM.Fit(data, options, p, context.Cancellation));
        }

        return Report(context, csv.ColumnNames, data, result, watch, byK, choice, why, savePath, json);
    }

    private static int Report(
        CliContext context, IReadOnlyList<string> names, DataMatrix data, GmmFitResult result, Stopwatch watch,
        IReadOnlyList<(int K, double Bic, double Aic, int Underdetermined)>? byK, GmmModelChoice? choice, string? why, string? savePath, bool json)
    {
        watch.Stop();
        var fitted = result.Model;
        if (savePath is not null)
        {
            ModelFile.SaveGmm(savePath, fitted, names);
        }

        var bic = fitted.Bic(data);
        var aic = fitted.Aic(data);
        if (json)
        {
            context.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("model", "gmm");
                w.WriteNumber("n", data.Rows);
                w.WriteNumber("d", data.Columns);
                w.WriteNumber("k", fitted.Components);
                w.WriteString("covariance", GmmArguments.Name(fitted.CovarianceType));
                w.WriteBoolean("converged", result.Converged);
                w.WriteNumber("iterations", result.Iterations);
                w.Number("meanLogLikelihood", result.MeanLogLikelihood);
                w.Number("bic", bic);
                w.Number("aic", aic);
                w.Vector("weights", fitted.Weights);
                w.Matrix("means", fitted.Means, fitted.Components, fitted.Dimension);
                WriteCovariances(w, fitted);
                w.WriteStartArray("columns");
                foreach (var n in names)
                {
                    w.WriteStringValue(n);
                }

                w.WriteEndArray();
                if (byK is not null)
                {
                    w.WriteStartArray("selection");
                    foreach (var (kk, b, a, under) in byK)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("k", kk);
                        w.Number("bic", b);
                        w.Number("aic", a);
                        w.WriteNumber("underdetermined", under);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                if (choice is not null)
                {
                    ModelChoiceReport.WriteChosen(w, why, GmmArguments.Reported(choice));
                }

                w.WriteNumber("fitSeconds", Math.Round(watch.Elapsed.TotalSeconds, 6));
                w.WriteEndObject();
            }));
            return ExitCodes.Success;
        }

        var console = context.Console;
        console.MarkupLine($"[bold]Gaussian mixture[/]: n={data.Rows}, d={data.Columns}, K={fitted.Components}, covariance={GmmArguments.Name(fitted.CovarianceType)}");
        // The count is of the final run only: it continues the best of the short runs ("small EM"), which on a small file
        // often converged already, and "converged after 1 iterations" read as if EM had hardly run.
        var start = GmmFitOptions.DefaultShortRuns > 1
            ? $" (from the best of {GmmFitOptions.DefaultShortRuns} short starts)"
            : "";
        console.MarkupLine($"converged: {(result.Converged ? "yes" : "[yellow]no[/]")} after {result.Iterations} {(result.Iterations == 1 ? "iteration" : "iterations")}{start} in {watch.Elapsed.TotalSeconds:F3} s");
        console.MarkupLine($"mean log-likelihood per sample: {result.MeanLogLikelihood:F6}   BIC: {bic:F3}   AIC: {aic:F3}");
        if (why is not null)
        {
            console.MarkupLine($"model choice: {Markup.Escape(why)}");
        }
        if (byK is not null)
        {
            var sel = new Table().AddColumns("K", "BIC", "AIC", "");
            foreach (var (kk, b, a, under) in byK)
            {
                sel.AddRow(
                    kk == fitted.Components ? $"[bold]{kk}[/]" : kk.ToString(), b.ToString("F3"), a.ToString("F3"),
                    under == 0 ? "" : $"[yellow]passed over: {under} component(s) with too few rows to determine them[/]");
            }

            console.Write(sel);
        }

        var table2 = new Table().AddColumn("component").AddColumn("weight");
        foreach (var n in names)
        {
            table2.AddColumn($"mean {Markup.Escape(n)}");
        }

        for (var c = 0; c < fitted.Components; c++)
        {
            var cells = new List<string> { c.ToString(), fitted.Weights[c].ToString("F4") };
            for (var j = 0; j < fitted.Dimension; j++)
            {
                cells.Add(fitted.Means[(c * fitted.Dimension) + j].ToString("G6"));
            }

            table2.AddRow([.. cells]);
        }

        console.Write(table2);
        if (savePath is not null)
        {
            console.MarkupLine($"model written to {Markup.Escape(savePath)}");
        }

        return ExitCodes.Success;
    }

    internal static string Describe(GmmProgress p) =>
        $"restart {p.Restart + 1}, iteration {p.Iteration}, mean log-likelihood {p.MeanLogLikelihood:F5}";

    internal static void WriteCovariances(Utf8JsonWriter w, GaussianMixture model) =>
        w.Covariances(model.Components, model.Dimension, model.FullCovariance);
}
