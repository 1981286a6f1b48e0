using System.CommandLine;
using EmStreaming.Server;
using EmStreaming.Server.Hosting;

namespace EmStreaming.Cli.Client;

/// <summary><c>emstream serve [--urls URL] [--data-dir DIR] [--demo] [--config FILE]</c>: runs the server (embedded silo) in this process.</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var urls = new Option<string?>("--urls") { Description = $"Addresses to listen on, ';'-separated (default {ServerOptions.DefaultUrls})." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory of the embedded SQLite file (default ./data)." };
        var demo = new Option<bool>("--demo") { Description = "Start the built-in demo feeds: simulated sensors (GMM) and markets (HMM)." };
        var config = new Option<string?>("--config") { Description = "Settings file (default: $EMSTREAM_CONFIG, ./appsettings.json, or the one installed with emstream)." };
        var command = new Command("serve", "Run the EmStreaming server: HTTP API, live dashboard and the embedded silo.");
        command.Options.Add(urls);
        command.Options.Add(dataDir);
        command.Options.Add(demo);
        command.Options.Add(config);
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            var options = new ServerLaunchOptions
            {
                Urls = parse.GetValue(urls),
                DataDirectory = parse.GetValue(dataDir),
                Demo = parse.GetValue(demo),
                ConfigFile = parse.GetValue(config),
                Args = [.. parse.UnmatchedTokens],
                Output = context.Out,
                Error = context.Error,
            };
            var code = Task.Run(() => EmStreamingServer.RunAsync(options, context.Cancellation)).GetAwaiter().GetResult();
            return code switch
            {
                EmStreamingServer.ExitSuccess => ExitCodes.Success,
                EmStreamingServer.ExitConfigurationError => ExitCodes.UsageError,
                _ => ExitCodes.ServerError,
            };
        });
        return command;
    }
}
