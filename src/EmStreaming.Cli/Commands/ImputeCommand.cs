using System.CommandLine;
using EmStreaming.Cli.Csv;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// <c>emstream impute file.csv --components K</c>: fits a mixture that marginalizes the missing entries, then
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
            var table = CsvTable.Load(path);
            var columns = table.SelectColumns(gmm.ColumnNames(parse));
            var data = table.ToMatrix(columns, path);
            var k = parse.GetValue(gmm.Components) ?? throw new CliException("--components is required");
            if (parse.GetValue(gmm.SelectK) is not null)
            {
                throw new CliException("--select-k is not supported by impute; give --components");
            }

            var options = gmm.ToOptions(parse, k);
            var fit = context.WithProgress<GmmProgress, GmmFitResult>($"Fitting {k} components", json: false, FitCommand.Describe, p =>
                GaussianMixtureEM.Fit(data, options, p, context.Cancellation));
            var completed = fit.Model.Impute(data);

            // Only missing fields change; observed ones keep their original text exactly.
            var missing = 0;
            for (var r = 0; r < table.Rows.Count; r++)
            {
                for (var j = 0; j < columns.Length; j++)
                {
                    if (double.IsNaN(data[r, j]))
                    {
                        table.Rows[r][columns[j]] = CsvTable.FormatValue(completed[r, j]);
                        missing++;
                    }
                }
            }

            if (parse.GetValue(output) is { } outPath)
            {
                try
                {
                    using var writer = new StreamWriter(outPath);
                    table.Write(writer);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new CliException($"cannot write {outPath}: {e.Message}");
                }

                context.Error.WriteLine($"imputed {missing} missing values in {table.Rows.Count} rows; written to {outPath}");
            }
            else
            {
                table.Write(context.Out);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
