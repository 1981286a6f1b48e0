using System.CommandLine;
using EmStreaming.Client;
using Microsoft.Extensions.Options;

namespace EmStreaming.Cli.Client;

/// <summary>The flags every client command shares: --server, --api-key, --json.</summary>
internal sealed class ClientOptions
{
    public const string DefaultServer = "http://127.0.0.1:5080";
    public const string ServerVariable = "EMSTREAM_SERVER";
    public const string ApiKeyVariable = "EMSTREAM_API_KEY";

    public Option<string?> Server { get; } = new("--server") { Description = $"Server URL (default: ${ServerVariable} or {DefaultServer})." };

    public Option<string?> ApiKey { get; } = new("--api-key") { Description = $"API key (default: ${ApiKeyVariable}); sent as X-Api-Key." };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON for scripts instead of a readable summary." };

    public void AddTo(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(ApiKey);
        command.Options.Add(Json);
    }

    /// <summary>The EmStreaming.Client for --server and --api-key (or their environment variables); a bad URL is a usage error, found before any I/O.</summary>
    public IEmStreamingClient Connect(ParseResult parse)
    {
        var address = parse.GetValue(Server) ?? Environment.GetEnvironmentVariable(ServerVariable) ?? DefaultServer;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliException($"--server: '{address}' is not an http(s) URL such as {DefaultServer}");
        }

        var key = parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable);
        try
        {
            return EmStreamingClientFactory.Create(new EmStreamingClientOptions { BaseAddress = uri, ApiKey = string.IsNullOrEmpty(key) ? null : key });
        }
        catch (OptionsValidationException e)
        {
            throw new CliException(string.Join("; ", e.Failures).Replace(nameof(EmStreamingClientOptions.ApiKey), "--api-key", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Checks a model id by the server's own rule (<see cref="EmStreaming.Grains.Observations.ModelInput"/>) before any I/O: a
    /// hostile id is a usage error naming <paramref name="what"/> and the character at fault as the user typed it, not the
    /// server's complaint about the '%' of its URL escape.
    /// </summary>
    public static void CheckModelId(string? id, string what)
    {
        if (EmStreaming.Grains.Observations.ModelInput.FindIdProblem(id, $"{what}: a model id") is { } problem)
        {
            throw new CliException(problem);
        }
    }

    /// <summary>A --prefix is checked by the same rule as an id (as the server does), before any request: exit 2, not the server's 400 as exit 3.</summary>
    public static void CheckPrefix(string prefix)
    {
        if (EmStreaming.Grains.Observations.ModelInput.FindIdProblem(prefix, "--prefix: a prefix") is { } problem)
        {
            throw new CliException(problem);
        }
    }

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
        catch (EmStreamingException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.ServerError;
        }
    }
}
