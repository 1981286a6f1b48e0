using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace EmStreaming.Cli.Client;

/// <summary><c>emstream models [--prefix P]</c>: the server's models with their status.</summary>
internal static class ModelsCommand
{
    public static Command Create(CliContext context)
    {
        var client = new ClientOptions();
        var prefix = new Option<string?>("--prefix") { Description = "Only models whose id starts with this." };
        var command = new Command("models", "List the models of a running server.");
        command.Options.Add(prefix);
        client.AddTo(command);
        command.SetAction(parse => ClientOptions.Run(context, async ct =>
        {
            using var server = client.Connect(parse);
            var models = new List<JsonElement>();
            string? cursor = null;
            do
            {
                var query = "limit=1000" + (parse.GetValue(prefix) is { Length: > 0 } p ? "&prefix=" + Uri.EscapeDataString(p) : "") + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
                var page = await server.GetAsync($"/v1/models?{query}", ct).ConfigureAwait(false);
                models.AddRange(page.GetProperty("models").EnumerateArray());
                cursor = page.TryGetProperty("nextCursor", out var next) ? next.GetString() : null;
            }
            while (cursor is not null);

            if (parse.GetValue(client.Json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(new { models })).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            if (models.Count == 0)
            {
                await context.Out.WriteLineAsync("no models").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Simple)
                .AddColumns("id", "kind", "d", "K", "observations", "status", "refits", "snapshot");
            foreach (var m in models)
            {
                var d = m.GetProperty("definition");
                var s = m.GetProperty("status");
                var kind = d.GetProperty("kind").GetString() ?? "?";
                var k = d.TryGetProperty(kind == "hmm" ? "states" : "components", out var kk) ? kk.GetInt32() : 0;
                table.AddRow(
                    Markup.Escape(m.GetProperty("id").GetString() ?? ""),
                    kind,
                    d.GetProperty("dimension").GetInt32().ToString(CultureInfo.InvariantCulture),
                    k.ToString(CultureInfo.InvariantCulture),
                    s.GetProperty("observations").GetInt64().ToString("N0", CultureInfo.InvariantCulture),
                    s.GetProperty("warmingUp").GetBoolean() ? "[yellow]warming up[/]" : "[green]ready[/]",
                    (s.TryGetProperty("refits", out var r) ? r.GetInt64() : 0).ToString(CultureInfo.InvariantCulture),
                    s.TryGetProperty("snapshotVersion", out var v) && v.ValueKind == JsonValueKind.Number ? "v" + v.GetInt64().ToString(CultureInfo.InvariantCulture) : "-");
            }

            context.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }
}
