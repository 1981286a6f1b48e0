using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EmStreaming.Client;
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
            var under = parse.GetValue(prefix) is { Length: > 0 } p ? p : null;
            if (under is not null)
            {
                ClientOptions.CheckPrefix(under);
            }

            var server = client.Connect(parse);
            var models = new List<ModelInfo>();
            await foreach (var model in server.ListAllModelsAsync(under, ct).ConfigureAwait(false))
            {
                models.Add(model);
            }

            if (parse.GetValue(client.Json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(new { models }, EmStreamingJson.Options)).ConfigureAwait(false);
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
                var d = m.Definition;
                var s = m.Status;
                table.AddRow(
                    Markup.Escape(m.Id),
                    d.Kind ?? "?",
                    (d.Dimension ?? 0).ToString(CultureInfo.InvariantCulture),
                    (d.Kind == "hmm" ? d.States : d.Components)?.ToString(CultureInfo.InvariantCulture) ?? "?",
                    s.Observations.ToString("N0", CultureInfo.InvariantCulture),
                    s.WarmingUp ? "[yellow]warming up[/]" : "[green]ready[/]",
                    s.Refits.ToString(CultureInfo.InvariantCulture),
                    s.SnapshotVersion is { } v ? "v" + v.ToString(CultureInfo.InvariantCulture) : "-");
            }

            context.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }
}
