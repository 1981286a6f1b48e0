using System.CommandLine;
using System.Globalization;
using EmStreaming.Cli.ModelFiles;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// <c>emstream predict model.json file.csv</c>: for a mixture, cluster labels, responsibilities, log-densities and tail
/// probabilities (scale-free anomaly measure); for an HMM, the rows as one sequence: each row's regime, filtered
/// probabilities, and its log-density and tail probability knowing the rows before it.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(CliContext context)
    {
        var modelFile = new Argument<string>("model") { Description = "Model file written by 'emstream fit --save'." };
        var file = new Argument<string>("file") { Description = "CSV file holding (at least) the model's columns." };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object instead of CSV: {labels, probabilities, logDensity, tailProbability} (gmm), {regimes, probabilities, logDensity, tailProbability} (hmm).",
        };
        var regimeConfidence = new Option<double?>("--regime-confidence")
        {
            Description = "hmm: the filtered probability at which another regime becomes the reported one, 0.5 (the most likely one at every row, the default) to 1 exclusive; 0.8 changes it about as often as the regime does.",
        };
        var command = new Command("predict", "Assign rows of a CSV file to the components of a saved Gaussian mixture, or follow the regimes of a saved HMM through them.");
        command.Arguments.Add(modelFile);
        command.Arguments.Add(file);
        command.Options.Add(json);
        command.Options.Add(regimeConfidence);
        command.SetAction(parse =>
        {
            var confidence = parse.GetValue(regimeConfidence);
            if (confidence is { } given && !RegimeTracking.IsValidConfidence(given))
            {
                throw new CliException($"--regime-confidence must be at least 0.5 and below 1 (0.5 the most likely regime, the default; 0.8 changes it about as often as the regime does), not {given.ToString(CultureInfo.InvariantCulture)}");
            }

            var loaded = ModelFile.Load(parse.GetValue(modelFile)!);
            if (loaded.Hmm is null && confidence is not null)
            {
                throw new CliException("--regime-confidence applies to an hmm model file; this one holds a gmm");
            }

            var path = parse.GetValue(file)!;
            var data = context.LoadCsv(path, loaded.Columns, parse.GetValue(json)).Data;
            if (loaded.Hmm is { } hmm)
            {
                return Sequence(context, hmm, data, confidence ?? RegimeTracking.Confidence, parse.GetValue(json));
            }

            var model = loaded.Gmm!;
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

    /// <summary>The rows as one sequence under a saved HMM, from its start probabilities.</summary>
    private static int Sequence(CliContext context, GaussianHmm hmm, DataMatrix data, double confidence, bool json)
    {
        int n = data.Rows, k = hmm.States;
        var probabilities = new double[n * k];
        var logDensity = new double[n];
        var tail = new double[n];
        hmm.Filter(data, probabilities);
        hmm.PredictiveLogDensities(data, logDensity);
        hmm.TailProbabilities(data, tail);
        var regimes = new int[n];
        for (var i = 0; i < n; i++)
        {
            regimes[i] = RegimeTracking.Next(i == 0 ? -1 : regimes[i - 1], probabilities.AsSpan(i * k, k), confidence);
        }

        if (json)
        {
            context.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("regimes");
                foreach (var r in regimes)
                {
                    w.WriteNumberValue(r);
                }

                w.WriteEndArray();
                w.Matrix("probabilities", probabilities, n, k);
                w.Vector("logDensity", logDensity);
                w.Vector("tailProbability", tail);
                w.WriteEndObject();
            }));
            return ExitCodes.Success;
        }

        context.Out.WriteLine(string.Join(',', ["regime", .. Enumerable.Range(0, k).Select(s => $"p{s}"), "logDensity", "tailProbability"]));
        var line = new System.Text.StringBuilder();
        for (var i = 0; i < n; i++)
        {
            line.Clear().Append(regimes[i].ToString(CultureInfo.InvariantCulture));
            for (var s = 0; s < k; s++)
            {
                line.Append(',').Append(probabilities[(i * k) + s].ToString("R", CultureInfo.InvariantCulture));
            }

            line.Append(',').Append(logDensity[i].ToString("R", CultureInfo.InvariantCulture));
            line.Append(',').Append(tail[i].ToString("R", CultureInfo.InvariantCulture));
            context.Out.WriteLine(line);
        }

        return ExitCodes.Success;
    }
}
