using System.CommandLine;
using EmStreaming.Cli.Csv;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// <c>emstream impute file.csv [--components K]</c>: fits a mixture (K and covariance chosen by BIC unless given) that marginalizes the missing entries, then
/// writes the same CSV with each missing entry of the selected columns replaced by its conditional expectation.
/// </summary>
internal static class ImputeCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "CSV file with a header row; empty fields and NA are missing values." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the completed CSV here (default: stdout)." };
        var gmm = new GmmArguments();
        var command = new Command("impute", "Fill the missing values of a CSV file with their conditional expectation under a fitted Gaussian mixture.");
        command.Arguments.Add(file);
        gmm.AddTo(command);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
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

            var completed = fit.Model.Impute(csv.Data);

            // The file is read again and written row by row: only missing fields change, observed ones keep their text.
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

            return ExitCodes.Success;
        });
        return command;
    }
}
