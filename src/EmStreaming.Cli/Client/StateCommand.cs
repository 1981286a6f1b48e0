using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace EmStreaming.Cli.Client;

/// <summary><c>emstream state ID</c>: a model's current parameters.</summary>
internal static class StateCommand
{
    public static Command Create(CliContext context)
    {
        var client = new ClientOptions();
        var id = new Argument<string>("id") { Description = "Model id." };
        var command = new Command("state", "Print a model's current parameters (weights, means, covariances; transitions and regime for HMMs).");
        command.Arguments.Add(id);
        client.AddTo(command);
        command.SetAction(parse => ClientOptions.Run(context, async ct =>
        {
            using var server = client.Connect(parse);
            var state = await server.GetAsync($"/v1/models/{ServerClient.Path(parse.GetValue(id)!)}/state", ct).ConfigureAwait(false);
            if (parse.GetValue(client.Json))
            {
                await context.Out.WriteLineAsync(state.GetRawText()).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var o = context.Out;
            var kind = state.GetProperty("kind").GetString();
            await o.WriteLineAsync($"{state.GetProperty("id").GetString()}: {kind}, d={state.GetProperty("dimension").GetInt32()}, K={state.GetProperty("components").GetInt32()}, {state.GetProperty("observations").GetInt64():N0} observations").ConfigureAwait(false);
            if (state.GetProperty("warmingUp").GetBoolean())
            {
                await o.WriteLineAsync("warming up: no parameters yet").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            static string Vector(JsonElement v) => "[" + string.Join(", ", v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number ? x.GetDouble().ToString("G6", CultureInfo.InvariantCulture) : "null")) + "]";
            var means = state.GetProperty("means");
            for (var k = 0; k < means.GetArrayLength(); k++)
            {
                var weight = state.TryGetProperty("weights", out var w) ? w[k].GetDouble() : double.NaN;
                await o.WriteLineAsync($"  component {k}: weight {weight.ToString("F4", CultureInfo.InvariantCulture)}  mean {Vector(means[k])}").ConfigureAwait(false);
                await o.WriteLineAsync($"    covariance {string.Join(" ", state.GetProperty("covariances")[k].EnumerateArray().Select(Vector))}").ConfigureAwait(false);
            }

            if (kind == "hmm")
            {
                await o.WriteLineAsync("  transitions:").ConfigureAwait(false);
                foreach (var row in state.GetProperty("transitions").EnumerateArray())
                {
                    await o.WriteLineAsync($"    {Vector(row)}").ConfigureAwait(false);
                }

                if (state.TryGetProperty("regime", out var regime))
                {
                    await o.WriteLineAsync($"  regime {regime.GetInt32()} (p = {Vector(state.GetProperty("regimeProbabilities"))})").ConfigureAwait(false);
                }
            }

            return ExitCodes.Success;
        }));
        return command;
    }
}
