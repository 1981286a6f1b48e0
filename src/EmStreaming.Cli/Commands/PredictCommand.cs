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
        var regimeConfidence = HmmArguments.RegimeConfidenceOption();
        var command = new Command("predict", "Assign rows of a CSV file to the components of a saved Gaussian mixture, or follow the regimes of a saved HMM through them.");
        command.Arguments.Add(modelFile);
        command.Arguments.Add(file);
        command.Options.Add(json);
        command.Options.Add(regimeConfidence);
        command.SetAction(parse =>
        {
            var confidence = HmmArguments.RegimeConfidence(parse, regimeConfidence);

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

            return Write(context, "label", labels, probabilities, k, logDensity, tail, parse.GetValue(json));
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
        hmm.Filter(data, probabilities, logDensity, tail);
        var regimes = new int[n];
        for (var i = 0; i < n; i++)
        {
            regimes[i] = RegimeTracking.Next(i == 0 ? -1 : regimes[i - 1], probabilities.AsSpan(i * k, k), confidence);
        }

        return Write(context, "regime", regimes, probabilities, k, logDensity, tail, json);
    }

    /// <summary>
    /// One row per input row: its <paramref name="name"/> (a component's label, or a regime), the K probabilities, the
    /// log-density and the tail probability; CSV, or with <paramref name="json"/> one object of arrays
    /// (<paramref name="name"/> + "s": label → labels, regime → regimes).
    /// </summary>
    private static int Write(CliContext context, string name, int[] first, double[] probabilities, int k, double[] logDensity, double[] tail, bool json)
    {
        var n = first.Length;
        if (json)
        {
            context.Out.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray(name + "s");
                foreach (var v in first)
                {
                    w.WriteNumberValue(v);
                }

                w.WriteEndArray();
                w.Matrix("probabilities", probabilities, n, k);
                w.Vector("logDensity", logDensity);
                w.Vector("tailProbability", tail);
                w.WriteEndObject();
            }));
            return ExitCodes.Success;
        }

        context.Out.WriteLine(string.Join(',', [name, .. Enumerable.Range(0, k).Select(c => $"p{c}"), "logDensity", "tailProbability"]));
        var line = new System.Text.StringBuilder();
        for (var i = 0; i < n; i++)
        {
            line.Clear().Append(first[i].ToString(CultureInfo.InvariantCulture));
            for (var c = 0; c < k; c++)
            {
                line.Append(',').Append(probabilities[(i * k) + c].ToString("R", CultureInfo.InvariantCulture));
            }

            line.Append(',').Append(logDensity[i].ToString("R", CultureInfo.InvariantCulture));
            line.Append(',').Append(tail[i].ToString("R", CultureInfo.InvariantCulture));
            context.Out.WriteLine(line);
        }

        return ExitCodes.Success;
    }
}
