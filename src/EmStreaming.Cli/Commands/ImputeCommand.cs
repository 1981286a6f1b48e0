using System.CommandLine;
using EmStreaming.Cli.Csv;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// <c>emstream impute file.csv [--components K]</c>: fits a mixture (K and covariance chosen by BIC unless given) that marginalizes the missing entries, then
/// writes the same CSV with each missing entry of the selected columns replaced by its conditional expectation.
/// <c>--model hmm [--states K]</c>: the rows are one sequence in file order; a Gaussian HMM is fitted (K by BIC unless
/// given) and each missing entry gets its expectation given the whole sequence (forward–backward).
/// </summary>
internal static class ImputeCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "CSV file with a header row; empty fields and NA are missing values." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the completed CSV here (default: stdout)." };
        var model = new Option<string>("--model") { Description = "Model kind: gmm (rows independent) or hmm (rows one sequence in file order).", DefaultValueFactory = _ => "gmm" };
        var gmm = new GmmArguments();
        var hmm = new HmmArguments();
        var command = new Command("impute", "Fill the missing values of a CSV file with their conditional expectation under a fitted Gaussian mixture or, with --model hmm, a Gaussian HMM.");
        command.Arguments.Add(file);
        command.Options.Add(model);
        gmm.AddTo(command);
        command.Options.Add(hmm.States);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var kind = (parse.GetValue(model) ?? "gmm").Trim().ToLowerInvariant();
            if (kind == "hmm")
            {
                return ImputeSequence(context, parse, path, gmm, hmm, parse.GetValue(output));
            }

            if (kind != "gmm")
            {
                throw new CliException($"--model: '{kind}' is not one of gmm, hmm");
            }

            if (parse.GetValue(hmm.States) is not null)
            {
                throw new CliException("--states applies to --model hmm; use --components");
            }

            if (parse.GetValue(gmm.SelectK) is not null)
            {
                throw new CliException("--select-k is not supported by impute; give --components, or neither to choose K by BIC");
            }

            // Every flag is checked before the file is opened (with no --components, as if K were 1).
            var k = parse.GetValue(gmm.Components);
            var options = gmm.ToOptions(parse, k ?? 1);
            var outPath = parse.GetValue(output);
            OutputPath.Check("--output", outPath);
            // Rows with nothing observed are kept: the fit cannot use them (they carry no information), but they are written back
            // filled with the fitted mixture's mean, Σ w_k μ_k, which is E[x] given nothing (said on stderr).
            var csv = context.LoadCsv(path, gmm.ColumnNames(parse), json: false, allowEmptyRows: true);
            var (data, empty) = csv.Data.SplitEmptyRows();
            var emptyRows = empty.Length;
            if (data.Rows == 0)
            {
                throw new CliException($"{path}: no row has an observed value in the selected columns, so there is nothing to fit");
            }

            if (emptyRows > 0)
            {
                context.Error.WriteLine($"{emptyRows} rows have no observed value in the selected columns: not used by the fit, filled with the mixture's mean");
            }

            GmmFitResult fit;
            if (k is not null)
            {
                fit = context.WithProgress<GmmProgress, GmmFitResult>($"Fitting {k} components", json: false, FitCommand.Describe, p =>
                    GaussianMixtureEM.Fit(data, options, p, context.Cancellation));
            }
            else
            {
                // Without --components the model is chosen (K and, unless given, the covariance type) by how well each candidate
                // puts back hidden observed entries: a user should not have to know that K = 3 full overfits 178 rows of 13 columns,
                // and BIC would pick a diagonal mixture that imputes little better than column means. What was chosen goes to
                // stderr, away from the CSV.
                string why;
                try
                {
                    (fit, why) = context.WithProgress<GmmProgress, (GmmFitResult, string)>("Choosing K and the covariance type for imputation", json: false, FitCommand.Describe, p =>
                        gmm.ChooseForImputation(parse, data, p, context.Cancellation));
                }
                catch (ArgumentException e)
                {
                    // The choice hides observed entries and scores how well each candidate puts them back: a small file has too
                    // few to hide. Said with the file and the way out, instead of the estimator's words alone.
                    throw new CliException($"{path}: cannot choose the model for imputation ({e.Message.Split(" (Parameter", 2)[0]}); give --components (and --covariance)");
                }
                context.Error.WriteLine($"model choice: {why}");
            }

            Write(context, path, csv, fit.Model.Impute(csv.Data), outPath);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// --model hmm: Baum–Welch on the rows that have an observed value (a row with none carries no evidence, and the fit
    /// refuses it), then every row, those included, imputed from the whole sequence in file order.
    /// </summary>
    private static int ImputeSequence(CliContext context, ParseResult parse, string path, GmmArguments common, HmmArguments hmm, string? outPath)
    {
        if (parse.GetValue(common.SelectK) is not null)
        {
            throw new CliException("--select-k applies to --model gmm only; give --states, or neither to choose K by BIC");
        }

        if (parse.GetValue(common.Components) is not null)
        {
            throw new CliException("--components applies to --model gmm; use --states");
        }

        var given = parse.GetValue(hmm.States);
        var options = HmmFit.ToOptions(parse, common, given ?? 1);
        OutputPath.Check("--output", outPath);
        var csv = context.LoadCsv(path, common.ColumnNames(parse), json: false, allowEmptyRows: true);
        var (data, empty) = csv.Data.SplitEmptyRows();
        if (data.Rows == 0)
        {
            throw new CliException($"{path}: no row has an observed value in the selected columns, so there is nothing to fit");
        }

        if (given is { } states && states > data.Rows)
        {
            throw new CliException($"{path}: {data.Rows} rows with an observed value, fewer than the {states} states --states asks for");
        }

        if (empty.Length > 0)
        {
            context.Error.WriteLine($"{empty.Length} rows have no observed value in the selected columns: not used by the fit, filled from the rows around them");
        }

        var (fit, _, why) = HmmFit.FitOrChoose(context, given, options, data, json: false, chooseCovariance: !GmmArguments.Given(parse, common.Covariance));
        if (why is not null)
        {
            context.Error.WriteLine($"model choice: {why}");
        }

        Write(context, path, csv, fit.Model.Impute(csv.Data), outPath);
        return ExitCodes.Success;
    }

    /// <summary>The file is read again and written row by row: only missing fields change, observed ones keep their text.</summary>
    private static void Write(CliContext context, string path, CsvData csv, DataMatrix completed, string? outPath)
    {
        if (outPath is not null)
        {
            // Through a temporary file moved over the target once complete: --output may name the input itself (which the
            // rewrite reads again), and a failure or Ctrl+C part-way leaves no half-written file behind.
            var missing = 0;
            OutputPath.WriteText("--output", outPath, writer => missing = CsvRewriter.Write(path, csv, completed, writer, context.Cancellation));
            context.Error.WriteLine($"imputed {missing} missing values in {csv.Data.Rows} rows; written to {outPath}");
        }
        else
        {
            CsvRewriter.Write(path, csv, completed, context.Out, context.Cancellation);
        }
    }
}
