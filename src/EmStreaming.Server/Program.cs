using EmStreaming.Server;

// `dotnet run --project src/EmStreaming.Server -- --urls http://127.0.0.1:5080 --Demo:Enabled=true`; the usual
// entry is `emstream serve`, which calls the same EmStreamingServer.RunAsync.
return await EmStreamingServer.RunAsync(args).ConfigureAwait(false);

/// <summary>Entry point marker for WebApplicationFactory.</summary>
public partial class Program;
