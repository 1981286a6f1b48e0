using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EmStreaming.Cli.Csv;
using EmStreaming.Cli.Output;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Cli.Commands;

/// <summary>
/// <c>emstream stream</c>: feeds the rows of a CSV file, in order, through an online estimator and reports every N
/// rows the prequential mean log-likelihood of those N rows (each scored before it was learned) and the parameters.
/// </summary>
internal static class StreamCommand
{
    public const int DefaultReportEvery = 1000;

    /// <summary>Polyak–Ruppert cut-off (rows) of a decaying schedule given with --alpha.</summary>
    public const long UserAlphaAveragingStart = 5_000;

    /// <summary>Rows the CSV reader hands the learner at a time (default of the hidden --chunk-rows).</summary>
    public const int DefaultChunkRows = 8192;

    /// <summary>Largest --chunk-rows: 1,048,576 rows (8 MiB per column of doubles).</summary>
    public const int MaxChunkRows = 1 << 20;

    /// <summary>Chunks the reader may fill ahead of the learner: memory is this × chunk rows × columns × 8 bytes.</summary>
    private const int ChunkDepth = 4;

    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "CSV file with a header row; rows are fed in file order." };
        var model = new Option<string>("--model") { Description = "Model kind: gmm or hmm.", DefaultValueFactory = _ => "gmm" };
        var components = new Option<int?>("--components", "-k") { Description = "Number of mixture components (gmm); without it, K and the covariance type are chosen by BIC on the first rows, as fit chooses them." };
        var states = new Option<int?>("--states") { Description = "Number of hidden states (hmm); without it, chosen by BIC on the first 1,000 rows (with full or diag, unless --covariance is given), as fit --model hmm chooses it." };
        var covariance = new Option<string>("--covariance") { Description = "Covariance type: full, diag, spherical, tied (hmm: full or diag).", DefaultValueFactory = _ => "full" };
        var halfLife = new Option<double?>("--half-life") { Description = "Constant step with this half-life in observations: forgets old data, tracks drift." };
        var alpha = new Option<double?>("--alpha") { Description = "Decaying step (n + n0)^-alpha, alpha in (0.5, 1], parameters averaged from 5,000 rows: converges on stationary data." };
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per online update (gmm; an hmm learns from every row).", DefaultValueFactory = _ => 64 };
        var reportEvery = new Option<int>("--report-every") { Description = "Print a report every N rows.", DefaultValueFactory = _ => DefaultReportEvery };
        var seed = new Option<ulong>("--seed") { Description = "Random seed of the warm-up fit.", DefaultValueFactory = _ => 0UL };
        var columns = new Option<string?>("--columns") { Description = "Comma-separated column names to use (default: every numeric column)." };
        var regimeConfidence = HmmArguments.RegimeConfidenceOption();
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON object per report, and the final state, one per line." };
        var saveState = new Option<string?>("--save-state") { Description = "Write the estimator's binary state here at the end (bit-exact resume with --resume-state)." };
        var resumeState = new Option<string?>("--resume-state") { Description = "Start from a state written by --save-state instead of from scratch." };
        var chunkRows = new Option<int>("--chunk-rows")
        {
            Description = "Rows parsed per hand-off to the learner (tuning; the results do not depend on it).",
            DefaultValueFactory = _ => DefaultChunkRows,
            Hidden = true,
        };

        var command = new Command("stream", "Learn online from the rows of a CSV file, in order, and report as it goes.");
        command.Arguments.Add(file);
        foreach (var o in new Option[] { model, components, states, covariance, halfLife, alpha, batchSize, reportEvery, seed, columns, saveState, resumeState, regimeConfidence, jsonOption, chunkRows })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var kind = (parse.GetValue(model) ?? "gmm").Trim().ToLowerInvariant();
            if (kind is not ("gmm" or "hmm"))
            {
                throw new CliException($"--model: '{kind}' is not one of gmm, hmm");
            }

            var every = parse.GetValue(reportEvery);
            if (every < 1) throw new CliException("--report-every must be at least 1");
            var m = parse.GetValue(batchSize);
            // The same bound as a model's batchSize on the server; a bigger batch is one huge buffer (2147483647 died of an OutOfMemoryException).
            if (m is < 1 or > EmStreaming.Grains.Definitions.ModelDefinitionValidator.MaxBatchSize)
            {
                throw new CliException($"--batch-size must be between 1 and {EmStreaming.Grains.Definitions.ModelDefinitionValidator.MaxBatchSize}");
            }

            var chunk = parse.GetValue(chunkRows);
            // A chunk is a buffer of rows × columns doubles: 2147483647 overflowed its size (an OverflowException's stack trace).
            if (chunk is < 1 or > MaxChunkRows) throw new CliException($"--chunk-rows must be between 1 and {MaxChunkRows}");
            var schedule = Schedule(parse.GetValue(halfLife), parse.GetValue(alpha), kind);
            var cov = GmmArguments.ParseCovariance(parse.GetValue(covariance) ?? "full");
            var names = GmmArguments.ParseColumns(parse.GetValue(columns));

            // Every flag is checked before any file is read: a typo costs nothing, whatever the file's size.
            int? k = null;
            if (kind == "gmm")
            {
                if (parse.GetValue(states) is not null) throw new CliException("--states applies to --model hmm; use --components");
                k = parse.GetValue(components);
            }
            else
            {
                if (parse.GetValue(components) is not null) throw new CliException("--components applies to --model gmm; use --states");
                if (cov is not (CovarianceType.Full or CovarianceType.Diag)) throw new CliException("--covariance: an hmm supports full or diag");
                k = parse.GetValue(states);
            }

            if (parse.GetValue(regimeConfidence) is not null && kind != "hmm")
            {
                throw new CliException("--regime-confidence applies to --model hmm");
            }

            var confidence = HmmArguments.RegimeConfidence(parse, regimeConfidence);

            var resume = parse.GetValue(resumeState) is { } statePath ? ReadState(statePath) : null;
            if (k is < 1)
            {
                throw new CliException(kind == "gmm" ? "--components must be at least 1" : "--states must be at least 1");
            }

            // The online estimators' own limits, said with the flag: past them the options' validation named internal settings
            // ("ReseedWeight must be in [0, 1/Components)", "BufferSize ('1000') must be ..."), not what the user typed.
            if (kind == "gmm" && k * OnlineGmmOptions.DefaultReseedWeight >= 1)
            {
                throw new CliException($"--components must be below {1 / OnlineGmmOptions.DefaultReseedWeight:0} for stream (was {k}): a component whose weight falls below 1/{1 / OnlineGmmOptions.DefaultReseedWeight:0} is re-seeded");
            }

            if (kind == "hmm" && k > OnlineHmmOptions.DefaultBufferSize)
            {
                throw new CliException($"--states must be at most {OnlineHmmOptions.DefaultBufferSize} for stream (was {k}): the first fit is made on the first {OnlineHmmOptions.DefaultBufferSize} rows");
            }

            OutputPath.Check("--save-state", parse.GetValue(saveState));
            var json = parse.GetValue(jsonOption);
            var schema = context.PlanCsv(path, names, json);
            var d = schema.Columns.Length;
            var output = new Reporter(context, json);

            // One pass: a reader thread parses the file into chunks while this thread learns from the ones before.
            using var reader = new CsvChunkReader(schema, chunk, ChunkDepth, context.Cancellation);
            IChunkSource rows = reader;

            // Neither --components/--states nor a state to resume: the model is chosen by BIC on the first rows, as fit chooses it.
            StreamModelChoice.Choice? chosen = null;
            if (resume is null && k is null)
            {
                chosen = kind == "gmm"
                    ? StreamModelChoice.ChooseGmm(context, reader, schema, cov, GmmArguments.Given(parse, covariance), parse.GetValue(seed), json)
                    : StreamModelChoice.ChooseHmm(context, reader, schema, cov, GmmArguments.Given(parse, covariance), parse.GetValue(seed), json);
                (k, cov, rows) = (chosen.K, chosen.Covariance, chosen.Rows);
                output.Chosen(chosen);
            }

            if (kind == "gmm")
            {
                var estimator = resume is not null
                    ? RestoreGmm(resume)
                    : OnlineGaussianMixture.Create(
                        new OnlineGmmOptions
                        {
                            Components = k!.Value,
                            Covariance = cov,
                            StepSize = schedule ?? new OnlineGmmOptions { Components = 1 }.StepSize,
                            Seed = parse.GetValue(seed),
                            // A chosen model's first fit is made on the rows it was chosen on (a warm-up must exceed K: a file of
                            // K rows or fewer stays warming up, as it does with --components).
                            WarmUpObservations = chosen is null ? OnlineGmmOptions.DefaultWarmUpObservations : Math.Max(chosen.ChoiceRows, k!.Value + 1),
                        }, d);
                CheckDimension(estimator.Dimension, d, schema);
                if (resume is not null)
                {
                    CheckResumedFlags(parse, "--components", k, estimator.Components, "components", covariance, cov, estimator.Options.Covariance, halfLife, alpha);
                }

                RunGmm(estimator, rows, d, m, every, output);
                if (parse.GetValue(saveState) is { } target) WriteState(target, estimator.SaveState());
            }
            else
            {
                var (estimator, watch) = resume is not null
                    ? RestoreHmm(resume, parse.GetValue(seed))
                    : (new OnlineGaussianHmm(
                        new OnlineHmmOptions
                        {
                            States = k!.Value,
                            Covariance = cov,
                            StepSize = schedule ?? new OnlineHmmOptions { States = 1 }.StepSize,
                            BufferFit = new HmmFitOptions { States = k!.Value, Covariance = cov, Seed = parse.GetValue(seed), Restarts = HmmDriftWatch.RefitRestarts },
                        }, d), new HmmDriftWatch(parse.GetValue(seed)));
                CheckDimension(estimator.Dimension, d, schema);
                if (resume is not null)
                {
                    CheckResumedFlags(parse, "--states", k, estimator.States, "states", covariance, cov, estimator.CovarianceType, halfLife, alpha);
                }

                // A reporting policy, not state: a resumed stream takes the flag's value (or the default) too.
                estimator.RegimeConfidence = confidence ?? RegimeTracking.Confidence;
                RunHmm(estimator, watch, rows, every, output);
                if (parse.GetValue(saveState) is { } target) WriteState(target, watch.Save(estimator));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static StepSizeSchedule? Schedule(double? halfLife, double? alpha, string kind)
    {
        if (halfLife is not null && alpha is not null)
        {
            throw new CliException("give either --half-life or --alpha, not both");
        }

        if (halfLife is { } h)
        {
            if (!double.IsFinite(h) || h < 1) throw new CliException("--half-life must be a number of observations >= 1");
            return StepSizeSchedule.FromHalfLife(h);
        }

        if (alpha is { } a)
        {
            if (!(a > 0.5 && a <= 1)) throw new CliException("--alpha must be in (0.5, 1]");
            // A decaying step the user chose is averaged (Polyak–Ruppert) from 5,000 rows, as the service does: α = 0.6 alone stays
            // 0.021 nats/row below the true K=8, 8-D model after 1M rows, averaged 0.0004 (docs/models-stay-right.md).
            var defaults = kind == "gmm" ? new OnlineGmmOptions { Components = 1 }.StepSize : new OnlineHmmOptions { States = 1 }.StepSize;
            return StepSizeSchedule.Decaying(a, defaults.Offset, defaults.Floor, defaults.Averages ? defaults.AveragingStart : UserAlphaAveragingStart);
        }

        return null;
    }

    /// <summary>
    /// A resumed stream continues the saved estimator bit-exactly, with its own K, covariance type and step size: a flag that
    /// asks for another one is an error naming it, not silently ignored.
    /// </summary>
    private static void CheckResumedFlags(
        ParseResult parse, string countFlag, int? count, int savedCount, string what, Option<string> covarianceOption, CovarianceType covariance,
        CovarianceType savedCovariance, Option<double?> halfLife, Option<double?> alpha)
    {
        if (count is { } given && given != savedCount)
        {
            throw new CliException($"{countFlag} {given} does not match the {savedCount} {what} of the state given with --resume-state");
        }

        if (GmmArguments.Given(parse, covarianceOption) && covariance != savedCovariance)
        {
            throw new CliException($"--covariance {GmmArguments.Name(covariance)} does not match the state given with --resume-state ({GmmArguments.Name(savedCovariance)})");
        }

        foreach (var option in new Option[] { halfLife, alpha })
        {
            if (GmmArguments.Given(parse, option))
            {
                throw new CliException($"{option.Name}: a stream resumed with --resume-state keeps the step size saved in its state");
            }
        }
    }

    private static void CheckDimension(int state, int columns, CsvSchema schema)
    {
        if (state != columns)
        {
            throw new CliException(
                $"--resume-state: the state was learned on {state} column(s) but {columns} are selected in {schema.Path} ({string.Join(", ", schema.Columns.Select(c => schema.Header[c]))})");
        }
    }

    /// <summary>
    /// Feeds the rows to the mixture in batches of <paramref name="batchSize"/> that never straddle a report (so each report
    /// covers exactly its N rows). The batches are cut from the row sequence alone, whatever the chunks it arrives in: a
    /// batch within one chunk is learned in place, one across chunks is gathered first, so the result does not depend on
    /// the chunk size.
    /// </summary>
    private static void RunGmm(OnlineGaussianMixture estimator, IChunkSource reader, int d, int batchSize, int every, Reporter output)
    {
        var scores = new double[batchSize];
        var gathered = new double[batchSize * d];
        var pending = 0;
        var window = new PrequentialWindow();
        var rows = 0L;

        void Learn(ReadOnlySpan<double> batch)
        {
            var count = batch.Length / d;
            var result = estimator.Update(batch, scores.AsSpan(0, count));
            if (result.DriftDetected)
            {
                output.Drift(estimator.LastDriftObservation);
            }

            foreach (var s in scores.AsSpan(0, count))
            {
                window.Add(-s);
            }

            rows += count;
            if (rows % every == 0)
            {
                estimator.TryGetModel(out var model);
                output.Gmm(rows, window.TakeMean(), model, final: false, drifts: estimator.DriftsDetected);
            }
        }

        while (reader.TryTake(out var chunk))
        {
            var values = chunk.Filled;
            var offset = 0;
            while (offset < chunk.Rows)
            {
                // This batch ends after `size` rows: a full batch, or the rows left before the next report.
                var size = (int)Math.Min(batchSize, every - (rows % every));
                var take = Math.Min(size - pending, chunk.Rows - offset);
                if (pending == 0 && take == size)
                {
                    Learn(values.Slice(offset * d, size * d));
                }
                else
                {
                    values.Slice(offset * d, take * d).CopyTo(gathered.AsSpan(pending * d));
                    pending += take;
                    if (pending == size)
                    {
                        pending = 0;
                        Learn(gathered.AsSpan(0, size * d));
                    }
                }

                offset += take;
            }

            reader.Return(chunk);
        }

        // The file's last rows: a short batch, and a report unless the last batch ended on one.
        if (pending > 0)
        {
            Learn(gathered.AsSpan(0, pending * d));
        }

        if (rows % every != 0)
        {
            estimator.TryGetModel(out var model);
            output.Gmm(rows, window.TakeMean(), model, final: false, drifts: estimator.DriftsDetected);
        }

        estimator.TryGetModel(out var final);
        output.Gmm(rows, estimator.LastBatchMeanLogLikelihood, final, final: true, estimator.Observations, estimator.IsWarmingUp, estimator.DriftsDetected);
    }

    private static void RunHmm(OnlineGaussianHmm estimator, HmmDriftWatch watch, IChunkSource reader, int every, Reporter output)
    {
        var window = new PrequentialWindow();
        var rows = 0L;
        while (reader.TryTake(out var chunk))
        {
            var values = chunk.Filled;
            var d = chunk.Columns;
            for (var i = 0; i < chunk.Rows; i++)
            {
                var row = values.Slice(i * d, d);
                var logPredictive = estimator.Update(row);
                window.Add(logPredictive);
                if (watch.Observe(estimator, row, logPredictive))
                {
                    output.Drift(watch.LastDriftObservation);
                }

                if (++rows % every == 0)
                {
                    output.Hmm(rows, window.TakeMean(), estimator, final: false, watch.Drifts);
                }
            }

            reader.Return(chunk);
        }

        if (rows % every != 0)
        {
            output.Hmm(rows, window.TakeMean(), estimator, final: false, watch.Drifts);
        }

        // A file shorter than the warm-up buffer still gets a model: fit what was buffered.
        estimator.TryInitializeFromBuffer();
        output.Hmm(rows, estimator.PrequentialCount > 0 ? estimator.PrequentialLogLikelihoodSum / estimator.PrequentialCount : double.NaN, estimator, final: true, watch.Drifts);
    }

    private static byte[] ReadState(string path)
    {
        InputPath.Check(path, "--resume-state: state file");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the state file {path}: {e.Message}");
        }
    }

    private static void WriteState(string path, byte[] state) =>
        OutputPath.Write("--save-state", path, s => s.Write(state));

    private static OnlineGaussianMixture RestoreGmm(byte[] state)
    {
        try
        {
            return OnlineGaussianMixture.Restore(state);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or EndOfStreamException)
        {
            throw new CliException($"--resume-state: not a gmm state ({e.Message})");
        }
    }

    private static (OnlineGaussianHmm Hmm, HmmDriftWatch Watch) RestoreHmm(byte[] state, ulong seed)
    {
        try
        {
            return HmmDriftWatch.Restore(state, seed);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or EndOfStreamException)
        {
            throw new CliException($"--resume-state: not an hmm state ({e.Message})");
        }
    }

    /// <summary>Sum and count of the log-likelihoods of the rows since the last report (rows seen while warming up have none).</summary>
    private sealed class PrequentialWindow
    {
        private double _sum;
        private int _count;

        public void Add(double logLikelihood)
        {
            if (!double.IsNaN(logLikelihood))
            {
                _sum += logLikelihood;
                _count++;
            }
        }

        public double TakeMean()
        {
            var mean = _count == 0 ? double.NaN : _sum / _count;
            _sum = 0;
            _count = 0;
            return mean;
        }
    }

    private sealed class Reporter(CliContext context, bool json)
    {
        private StreamModelChoice.Choice? _chosen;

        /// <summary>The model chosen on the first rows: text mode says so now; the final JSON report carries it as "chosen", as fit --json does.</summary>
        public void Chosen(StreamModelChoice.Choice choice)
        {
            _chosen = choice;
            if (!json)
            {
                context.Out.WriteLine($"model choice: {choice.Why}");
            }
        }

        private void WriteChosen(Utf8JsonWriter w)
        {
            if (_chosen is { } c)
            {
                ModelChoiceReport.WriteChosen(w, c.Why, c.Candidates);
            }
        }

        /// <summary>A drift alarm: text mode says so on its own line; JSON reports carry the count in "drifts".</summary>
        public void Drift(long observation)
        {
            if (!json)
            {
                context.Out.WriteLine($"drift detected at row {observation}: the rows became more surprising than the model expects; refitting on the rows after it");
            }
        }

        public void Gmm(long rows, double meanLogLikelihood, GaussianMixture? model, bool final, long observations = 0, bool warmingUp = false, long drifts = 0)
        {
            if (json)
            {
                context.Out.WriteLine(Json.Write(w =>
                {
                    w.WriteStartObject();
                    if (final)
                    {
                        w.WriteBoolean("final", true);
                        w.WriteNumber("observations", observations);
                    }

                    w.WriteNumber("rows", rows);
                    w.WriteBoolean("warmingUp", model is null);
                    w.Number("meanLogLikelihood", meanLogLikelihood);
                    w.WriteNumber("drifts", drifts);
                    if (model is not null)
                    {
                        w.Vector("weights", model.Weights);
                        w.Matrix("means", model.Means, model.Components, model.Dimension);
                        if (final)
                        {
                            FitCommand.WriteCovariances(w, model);
                        }
                    }

                    if (final)
                    {
                        WriteChosen(w);
                    }

                    w.WriteEndObject();
                }));
                return;
            }

            if (TextHead(rows, final, model is null) is not { } head || model is null)
            {
                return;
            }

            var weights = string.Join(" ", model.Weights.ToArray().Select(x => x.ToString("F3", CultureInfo.InvariantCulture)));
            context.Out.WriteLine($"{head}: mean log-likelihood {Format(meanLogLikelihood)}  weights [{weights}]");
            if (final)
            {
                for (var c = 0; c < model.Components; c++)
                {
                    var mean = string.Join(", ", model.Means.Slice(c * model.Dimension, model.Dimension).ToArray().Select(x => x.ToString("G6", CultureInfo.InvariantCulture)));
                    context.Out.WriteLine($"  component {c}: weight {model.Weights[c]:F4}, mean [{mean}]");
                }
            }
        }

        public void Hmm(long rows, double meanLogLikelihood, OnlineGaussianHmm estimator, bool final, long drifts)
        {
            var model = estimator.Model;
            if (json)
            {
                context.Out.WriteLine(Json.Write(w =>
                {
                    w.WriteStartObject();
                    if (final)
                    {
                        w.WriteBoolean("final", true);
                        w.WriteNumber("observations", estimator.Observations);
                    }

                    w.WriteNumber("rows", rows);
                    w.WriteBoolean("warmingUp", model is null);
                    w.Number("meanLogLikelihood", meanLogLikelihood);
                    w.WriteNumber("drifts", drifts);
                    if (model is not null)
                    {
                        var k = model.States;
                        var d = model.Dimension;
                        if (final)
                        {
                            w.Vector("startProbabilities", model.StartProbabilities);
                        }

                        w.Matrix("transitions", model.Transitions, k, k);
                        w.Matrix("means", model.Means, k, d);
                        w.Covariances(k, d, model.FullCovariance);
                        w.Vector("regimeProbabilities", estimator.RegimeProbabilities);
                        w.WriteNumber("regime", estimator.Regime);
                        w.WriteNumber("regimeRunLength", estimator.RunLength);
                    }

                    if (final)
                    {
                        WriteChosen(w);
                    }

                    w.WriteEndObject();
                }));
                return;
            }

            if (TextHead(rows, final, model is null) is not { } head || model is null)
            {
                return;
            }

            var probabilities = string.Join(" ", estimator.RegimeProbabilities.ToArray().Select(x => x.ToString("F3", CultureInfo.InvariantCulture)));
            context.Out.WriteLine($"{head}: mean log-likelihood {Format(meanLogLikelihood)}  regime {estimator.Regime} for {estimator.RunLength} rows  p [{probabilities}]");
        }

        /// <summary>The start of a text report line, or null (after printing "warming up") when there are no parameters yet.</summary>
        private string? TextHead(long rows, bool final, bool warmingUp)
        {
            var head = final ? "final" : $"rows {rows,9}";
            if (warmingUp)
            {
                context.Out.WriteLine($"{head}: warming up");
                return null;
            }

            return head;
        }

        private static string Format(double value) => double.IsNaN(value) ? "n/a" : value.ToString("F5", CultureInfo.InvariantCulture);
    }
}
