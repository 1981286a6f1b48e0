using System.CommandLine;

namespace EmStreaming.Cli.Client;

/// <summary>The flags every client command shares: --server, --api-key, --json.</summary>
internal sealed class ClientOptions
{
    public Option<string?> Server { get; } = new("--server") { Description = $"Server URL (default: ${ServerClient.ServerVariable} or {ServerClient.DefaultServer})." };

    public Option<string?> ApiKey { get; } = new("--api-key") { Description = $"API key (default: ${ServerClient.ApiKeyVariable}); sent as X-Api-Key." };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON for scripts instead of a readable summary." };

    public void AddTo(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(ApiKey);
        command.Options.Add(Json);
    }

    public ServerClient Connect(ParseResult parse, TimeSpan? timeout = null) => new(parse.GetValue(Server), parse.GetValue(ApiKey), timeout);

    /// <summary>
    /// Runs a client command: server problems print one line and exit with <see cref="ExitCodes.ServerError"/>;
    /// bad arguments stay <see cref="CliException"/> (usage error) for the caller.
    /// </summary>
    public static int Run(CliContext context, Func<CancellationToken, Task<int>> work)
    {
        try
        {
            // System.CommandLine's synchronous action is what Program invokes; the work itself is asynchronous.
            return Task.Run(() => work(context.Cancellation)).GetAwaiter().GetResult();
        }
        catch (ServerException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.ServerError;
        }
    }
}
