namespace EmStreaming.Server.Hosting;

/// <summary>How <see cref="EmStreamingServer.RunAsync(ServerLaunchOptions, CancellationToken)"/> starts the server (what <c>emstream serve</c> passes).</summary>
public sealed record ServerLaunchOptions
{
    /// <summary>Addresses to listen on (<c>--urls</c>); null = configuration, default <see cref="ServerOptions.DefaultUrls"/>.</summary>
    public string? Urls { get; init; }

    /// <summary>Directory of the embedded SQLite file (<c>--data-dir</c>); null = configuration, default <c>data</c> under the working directory.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Start the built-in demo feeds (<c>--demo</c>).</summary>
    public bool Demo { get; init; }

    /// <summary>
    /// The settings file; null = <c>EMSTREAM_CONFIG</c>, else <c>appsettings.json</c> in the working directory, else
    /// the one copied next to the program at build time.
    /// </summary>
    public string? ConfigFile { get; init; }

    /// <summary>Further <c>--Section:Key=value</c> arguments, read as configuration with the highest precedence.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Where start-up problems are written (default: standard error).</summary>
    public TextWriter? Error { get; init; }

    /// <summary>Where the "open this URL" line is written once listening (default: standard output).</summary>
    public TextWriter? Output { get; init; }
}
