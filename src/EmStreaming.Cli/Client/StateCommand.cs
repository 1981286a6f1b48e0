using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EmStreaming.Client;

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
            var model = parse.GetValue(id);
            ClientOptions.CheckModelId(model, "id");
            var server = client.Connect(parse);
            var state = await server.GetStateAsync(model!, ct).ConfigureAwait(false);
            if (parse.GetValue(client.Json))
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(state, EmStreamingJson.Options)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var o = context.Out;
            await o.WriteLineAsync($"{state.Id}: {state.Kind}, d={state.Dimension}, K={state.Components}, {state.Observations:N0} observations").ConfigureAwait(false);
            if (state.WarmingUp || state.Means is null)
            {
                await o.WriteLineAsync("warming up: no parameters yet").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            static string Vector(IEnumerable<double> v) => "[" + string.Join(", ", v.Select(x => double.IsFinite(x) ? x.ToString("G6", CultureInfo.InvariantCulture) : "null")) + "]";
            for (var k = 0; k < state.Means.Length; k++)
            {
                var weight = state.Weights is { } w ? w[k] : double.NaN;
                await o.WriteLineAsync($"  component {k}: weight {weight.ToString("F4", CultureInfo.InvariantCulture)}  mean {Vector(state.Means[k])}").ConfigureAwait(false);
                if (state.Covariances is { } c)
                {
                    await o.WriteLineAsync($"    covariance {string.Join(" ", c[k].Select(Vector))}").ConfigureAwait(false);
                }
            }

            if (state.Kind == "hmm" && state.Transitions is { } transitions)
            {
                await o.WriteLineAsync("  transitions:").ConfigureAwait(false);
                foreach (var row in transitions)
                {
                    await o.WriteLineAsync($"    {Vector(row)}").ConfigureAwait(false);
                }

                if (state.Regime is { } regime)
                {
                    await o.WriteLineAsync($"  regime {regime} (p = {Vector(state.RegimeProbabilities ?? [])})").ConfigureAwait(false);
                }
            }

            return ExitCodes.Success;
        }));
        return command;
    }
}
