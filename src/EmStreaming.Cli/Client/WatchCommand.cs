using System.CommandLine;
using System.Text.Json;
using EmStreaming.Client;

namespace EmStreaming.Cli.Client;

/// <summary><c>emstream watch ID</c>: follows a model's events (server-sent events) in the terminal.</summary>
internal static class WatchCommand
{
    public static Command Create(CliContext context)
    {
        var client = new ClientOptions();
        var id = new Argument<string?>("id") { Description = "Model id; omit to watch every model.", Arity = ArgumentArity.ZeroOrOne };
        var type = new Option<string[]>("--type") { Description = $"Only these event types ({string.Join(", ", KnownTypes)}); repeatable or comma-separated.", AllowMultipleArgumentsPerToken = true };
        var count = new Option<int?>("--count") { Description = "Stop after this many events (for scripts)." };
        var timeout = new Option<double?>("--timeout") { Description = "Stop after this many seconds; exit code 3 if --count was not reached." };
        var command = new Command("watch", "Follow a model's events: regime changes, anomalies, refits, snapshots. Ctrl+C stops.");
        command.Arguments.Add(id);
        command.Options.Add(type);
        command.Options.Add(count);
        command.Options.Add(timeout);
        client.AddTo(command);
        command.SetAction(parse => ClientOptions.Run(context, async ct =>
        {
            var wanted = EventTypes(parse.GetValue(type));
            var limit = parse.GetValue(count);
            if (limit is < 1)
            {
                throw new CliException("--count must be at least 1");
            }

            // A timer takes at most 2^32 - 2 ms (about 49 days); NaN, a negative, zero or a longer time is a usage error naming
            // the flag, not an ArgumentException about 'delay' or an OverflowException's stack trace.
            var seconds = parse.GetValue(timeout);
            if (seconds is { } s && !(s > 0 && s <= MaxTimeoutSeconds))
            {
                throw new CliException($"--timeout must be a number of seconds greater than 0 and at most {MaxTimeoutSeconds:0} (was {s.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (seconds is { } wait)
            {
                deadline.CancelAfter(TimeSpan.FromSeconds(wait));
            }

            var model = parse.GetValue(id);
            if (model is not null)
            {
                ClientOptions.CheckModelId(model, "id");
            }

            var server = client.Connect(parse);
            var json = parse.GetValue(client.Json);
            if (!json)
            {
                await context.Error.WriteLineAsync($"watching {(model ?? "all models")} (Ctrl+C to stop)").ConfigureAwait(false);
            }

            var seen = 0;
            try
            {
                await foreach (var e in server.EventsAsync(model, deadline.Token).ConfigureAwait(false))
                {
                    if (wanted is not null && !wanted.Contains(e.Type))
                    {
                        continue;
                    }

                    await context.Out.WriteLineAsync(json ? e.Data.GetRawText() : Describe(e.Type, e.Data)).ConfigureAwait(false);
                    await context.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    if (++seen == limit)
                    {
                        return ExitCodes.Success;
                    }
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                if (limit is not null)
                {
                    throw new EmStreamingException($"timed out after {seen} of {limit} events");
                }

                return ExitCodes.Success;
            }

            if (limit is not null && !ct.IsCancellationRequested)
            {
                throw new EmStreamingException($"the event stream ended after {seen} of {limit} events");
            }

            ct.ThrowIfCancellationRequested();
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The event types the server sends, by their wire names (regimeChanged, anomaly, ...).</summary>
    private static readonly string[] KnownTypes = [.. Enum.GetNames<EmStreaming.Grains.ModelEventType>().Select(JsonNamingPolicy.CamelCase.ConvertName)];

    /// <summary>
    /// The --type filter (repeatable, or comma-separated), null for every type. A name the server never sends is a usage error
    /// listing the names it does: filtered out, it would have had watch wait forever for an event that cannot come.
    /// </summary>
    private static HashSet<string>? EventTypes(string[]? given)
    {
        var names = given?.SelectMany(t => t.Split(',', StringSplitOptions.TrimEntries)).ToArray();
        if (names is null or { Length: 0 })
        {
            return null;
        }

        if (names.FirstOrDefault(n => !KnownTypes.Contains(n, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw new CliException($"--type: '{unknown}' is not an event type; use one or more of {string.Join(", ", KnownTypes)}");
        }

        return new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The longest --timeout a timer can wait: (2^32 - 2) ms.</summary>
    private const double MaxTimeoutSeconds = 4_294_967;

    private static string Describe(string type, JsonElement e)
    {
        string Get(string name) => e.TryGetProperty(name, out var v) ? v.ToString() : "?";

        // Scores and log-likelihoods to three decimals, times to the millisecond in local time: a line a person reads.
        string Number(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble().ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)
            : "?";
        var time = e.TryGetProperty("time", out var t) && t.TryGetDateTimeOffset(out var at)
            ? at.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)
            : "?";
        var what = type switch
        {
            "regimeChanged" => $"regime {Get("fromRegime")} -> {Get("toRegime")}",
            "anomaly" => $"anomaly score {Number("score")}",
            "refitAdopted" => $"refit adopted: window log-likelihood {Number("before")} -> {Number("after")}",
            "refitRejected" => $"refit rejected: {Number("before")} >= {Number("after")}",
            "snapshotWritten" => $"snapshot v{Get("snapshotVersion")}",
            _ => e.TryGetProperty("message", out var m) ? m.GetString() ?? type : type,
        };
        return $"{time}  {Get("modelId")}  {type}  {what}  (n={Get("observations")})";
    }
}
