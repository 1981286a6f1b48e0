using System.CommandLine;
using System.Globalization;
using EmStreaming.Cli.ModelFiles;
using EmStreaming.Cli.Output;

namespace EmStreaming.Cli.Commands;

/// <summary><c>emstream predict model.json file.csv</c>: cluster labels, responsibilities, log-densities and tail probabilities (scale-free anomaly measure).</summary>
internal static class PredictCommand
{
    public static Command Create(CliContext context)
    {
        var modelFile = new Argument<string>("model") { Description = "Model file written by 'emstream fit --save'." };
        var file = new Argument<string>("file") { Description = "CSV file holding (at least) the model's columns." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {labels, probabilities, logDensity, tailProbability} instead of CSV." };
        var command = new Command("predict", "Assign rows of a CSV file to the components of a saved Gaussian mixture.");
        command.Arguments.Add(modelFile);
        command.Arguments.Add(file);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var (model, columns) = ModelFile.LoadGmm(parse.GetValue(modelFile)!);
            var path = parse.GetValue(file)!;
            var data = context.LoadCsv(path, columns, parse.GetValue(json)).Data;
            var n = data.Rows;
            var k = model.Components;
            var probabilities = new double[n * k];
            var labels = new int[n];
            var logDensity = new double[n];
            var tail = new double[n];
            model.PredictProba(data, probabilities);
            model.Predict(data, labels);
            model.ScoreSamples(data, logDensity);
            model.TailProbabilities(data, tail);

            if (parse.GetValue(json))
            {
                context.Out.WriteLine(Json.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("labels");
                    foreach (var l in labels)
                    {
                        w.WriteNumberValue(l);
                    }

                    w.WriteEndArray();
                    w.Matrix("probabilities", probabilities, n, k);
                    w.Vector("logDensity", logDensity);
                    w.Vector("tailProbability", tail);
                    w.WriteEndObject();
                }));
                return ExitCodes.Success;
            }

            var header = new List<string> { "label" };
            header.AddRange(Enumerable.Range(0, k).Select(c => $"p{c}"));
            header.Add("logDensity");
            header.Add("tailProbability");
            context.Out.WriteLine(string.Join(',', header));
            var line = new System.Text.StringBuilder();
            for (var i = 0; i < n; i++)
            {
                line.Clear().Append(labels[i].ToString(CultureInfo.InvariantCulture));
                for (var c = 0; c < k; c++)
                {
                    line.Append(',').Append(probabilities[(i * k) + c].ToString("R", CultureInfo.InvariantCulture));
                }

                line.Append(',').Append(logDensity[i].ToString("R", CultureInfo.InvariantCulture));
                line.Append(',').Append(tail[i].ToString("R", CultureInfo.InvariantCulture));
                context.Out.WriteLine(line);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
