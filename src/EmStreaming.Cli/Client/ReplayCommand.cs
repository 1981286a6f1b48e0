using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EmStreaming.Client;
using EmStreaming.Numerics;
using Spectre.Console;

namespace EmStreaming.Cli.Client;

/// <summary>
/// <c>emstream replay FILE.csv --model ID [--rate N] [--batch B] [--columns a,b]</c>: feeds a running server with
/// the rows of a CSV file, in batches, at a chosen rate, with a progress bar on a terminal.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create(CliContext context)
    {
        var client = new ClientOptions();
        var file = new Argument<string>("file") { Description = "CSV file with a header row; empty fields and NA are missing values." };
        var model = new Option<string>("--model") { Description = "Model id to append to (it must exist or match a template).", Required = true };
        var rate = new Option<double?>("--rate") { Description = "Rows per second (default: as fast as the server accepts)." };
        var batch = new Option<int>("--batch") { Description = "Rows per request (default 500).", DefaultValueFactory = _ => 500 };
        var columns = new Option<string[]>("--columns") { Description = "Columns to send, in order (default: every numeric column).", AllowMultipleArgumentsPerToken = true };
        var command = new Command("replay", "Replay a CSV file into a model of a running server.");
        command.Arguments.Add(file);
        command.Options.Add(model);
        command.Options.Add(rate);
        command.Options.Add(batch);
        command.Options.Add(columns);
        client.AddTo(command);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var id = parse.GetValue(model)!;
            ClientOptions.CheckModelId(id, "--model");
            var batchSize = parse.GetValue(batch);
            if (batchSize is < 1 or > 100_000)
            {
                throw new CliException("--batch must be between 1 and 100000");
            }

            var rowsPerSecond = parse.GetValue(rate);
            if (rowsPerSecond is <= 0 || rowsPerSecond is { } r && !double.IsFinite(r))
            {
                throw new CliException("--rate must be a positive number of rows per second");
            }

            var names = Commands.GmmArguments.ParseColumns(parse.GetValue(columns));
            var json = parse.GetValue(client.Json);
            var server = client.Connect(parse);
            var csv = context.LoadCsv(path, names, json);
            var data = csv.Data;
            var csvColumns = csv.ColumnNames;

            // Keys derived from the file's content and the batch number: running the same replay again after a
            // timeout of unknown outcome is answered from the server's idempotency record, not applied twice.
            var fileKey = Convert.ToHexString(SHA256.HashData(MemoryMarshalBytes(data))).AsSpan(0, 16).ToString();
            return ClientOptions.Run(context, async ct =>
            {
                // A file of another width than the model would have every row rejected, one by one, after a full replay that
                // "succeeded": compare with the model's dimension first, and send nothing. (An id nobody created yet may still be
                // made from a template by the first append; the server checks those rows itself.)
                ModelInfo? existing = null;
                try
                {
                    existing = await server.GetModelAsync(id, ct).ConfigureAwait(false);
                }
                catch (ModelNotFoundException)
                {
                }

                if (existing?.Definition.Dimension is { } dimension && dimension != data.Columns)
                {
                    throw new CliException(
                        $"{path}: {data.Columns} column(s) are selected ({string.Join(", ", csvColumns)}) but model '{id}' has dimension {dimension}; choose {dimension} with --columns");
                }

                var summary = new ReplaySummary();
                if (json || !context.Interactive)
                {
                    await SendAllAsync(server, id, data, batchSize, rowsPerSecond, fileKey, summary, null, ct).ConfigureAwait(false);
                }
                else
                {
                    await context.ErrorConsole.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                        .StartAsync(async progress =>
                        {
                            var task = progress.AddTask($"replay → {Markup.Escape(id)}", maxValue: data.Rows);
                            await SendAllAsync(server, id, data, batchSize, rowsPerSecond, fileKey, summary, task, ct).ConfigureAwait(false);
                        }).ConfigureAwait(false);
                }

                if (json)
                {
                    await context.Out.WriteLineAsync(JsonSerializer.Serialize(new
                    {
                        model = id,
                        rows = data.Rows,
                        accepted = summary.Accepted,
                        // Value tuples have fields, which System.Text.Json leaves out: each rejection was written as {}.
                        rejected = summary.Rejected.Select(r => new { row = r.Row + 1, reason = r.Reason }),
                        batches = summary.Batches,
                        seconds = Math.Round(summary.Seconds, 3),
                    })).ConfigureAwait(false);
                }
                else
                {
                    await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"replayed {data.Rows:N0} rows into {id} in {summary.Batches} batches: {summary.Accepted:N0} accepted, {summary.Rejected.Count:N0} rejected ({summary.Seconds:F1} s)")).ConfigureAwait(false);
                    foreach (var (row, reason) in summary.Rejected.Take(10))
                    {
                        await context.Out.WriteLineAsync($"  row {row + 1}: {reason}").ConfigureAwait(false);
                    }
                }

                // Not one row kept (every row of the wrong width for a model a template makes, say): the replay failed.
                if (summary.Accepted == 0 && summary.Rejected.Count > 0)
                {
                    var (first, why) = summary.Rejected[0];
                    await context.Error.WriteLineAsync($"error: {path}: model '{id}' accepted none of its {data.Rows:N0} rows; row {first + 1}: {why}").ConfigureAwait(false);
                    return ExitCodes.UsageError;
                }

                // Some rows rejected, the others kept: exit 4, so that a script can tell it from a clean replay (0) and from one
                // that changed nothing (2); a summary on stderr, since stdout may be JSON a script parses. The accepted rows stay
                // applied (each batch is its own idempotent request): running the replay again skips them, not adds them twice.
                if (summary.Rejected.Count > 0)
                {
                    var reasons = string.Join("; ", summary.Rejected.Take(RejectionsShown).Select(r => $"row {r.Row + 1}: {r.Reason}"));
                    var more = summary.Rejected.Count > RejectionsShown ? $"; and {summary.Rejected.Count - RejectionsShown:N0} more" : "";
                    await context.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"error: {path}: model '{id}' rejected {summary.Rejected.Count:N0} of its {data.Rows:N0} rows and applied the other {summary.Accepted:N0}; {reasons}{more}")).ConfigureAwait(false);
                    return ExitCodes.PartlyRejected;
                }

                return ExitCodes.Success;
            });
        });
        return command;
    }

    /// <summary>Rejected rows named in the error line of a partly rejected replay (stdout lists the first ten, --json all).</summary>
    private const int RejectionsShown = 3;

    private static byte[] MemoryMarshalBytes(DataMatrix data)
    {
        var bytes = new byte[data.Values.Length * sizeof(double)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Values).CopyTo(bytes);
        return bytes;
    }

    private static async Task SendAllAsync(IEmStreamingClient server, string id, DataMatrix data, int batchSize, double? rowsPerSecond, string fileKey, ReplaySummary summary, ProgressTask? task, CancellationToken ct)
    {
        var started = TimeProvider.System.GetTimestamp();
        for (var first = 0; first < data.Rows; first += batchSize)
        {
            var count = Math.Min(batchSize, data.Rows - first);
            if (rowsPerSecond is { } rate)
            {
                // Pace by the schedule, not by sleeping a fixed time per batch: slow requests do not add up.
                var due = TimeSpan.FromSeconds(first / rate) - TimeProvider.System.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, ct).ConfigureAwait(false);
                }
            }

            // The client retries 429/503 with this same key: a batch that did land is answered as before, not applied twice.
            var key = $"replay-{fileKey}-{first / batchSize}";
            var block = data.Values.Slice(first * data.Columns, count * data.Columns).ToArray();
            var answer = await server.AppendAsync(id, block, data.Columns, key, ct).ConfigureAwait(false);
            summary.Accepted += answer.Accepted;
            foreach (var rejected in answer.Rejected)
            {
                summary.Rejected.Add((first + rejected.Index, rejected.Reason));
            }

            summary.Batches++;
            task?.Increment(count);
        }

        summary.Seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
    }

    private sealed class ReplaySummary
    {
        public int Accepted { get; set; }
        public List<(int Row, string Reason)> Rejected { get; } = [];
        public int Batches { get; set; }
        public double Seconds { get; set; }
    }
}
