namespace EmStreaming.Testing;

/// <summary>
/// Azurite (npm azurite@3, installed by tests/setup.sh into .tools/azurite) on 127.0.0.1 with three free ports, a temp
/// workspace and telemetry off. Killed with its workspace on disposal. A missing Azurite is an error, never a skip.
/// </summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    /// <summary>Azurite's fixed development account (public, documented by Microsoft; not a secret).</summary>
    public const string AccountName = "devstoreaccount1";

    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Environment variable naming another Azurite executable than the repository's .tools/azurite.</summary>
    public const string ExecutableVariable = "EMSTREAMING_AZURITE";

    /// <summary>When set, the file Azurite writes its debug log (every request) to.</summary>
    public const string DebugLogVariable = "EMSTREAMING_AZURITE_DEBUG_LOG";

    private readonly LocalServerProcess _process;

    private AzuriteServer(LocalServerProcess process, int blobPort, int queuePort, int tablePort)
    {
        _process = process;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
    }

    public int BlobPort { get; }

    public int QueuePort { get; }

    public int TablePort { get; }

    public int ProcessId => _process.ProcessId;

    /// <summary>A connection string for all three services of this Azurite (what <c>AzureStorage:ConnectionString</c> takes).</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{AccountName};" +
        $"QueueEndpoint=http://127.0.0.1:{QueuePort}/{AccountName};" +
        $"TableEndpoint=http://127.0.0.1:{TablePort}/{AccountName};";

    /// <summary>The Azurite executable: <see cref="ExecutableVariable"/> if set, else .tools/azurite of this repository.</summary>
    public static string Executable() => Executable(Environment.GetEnvironmentVariable(ExecutableVariable));

    /// <summary>
    /// The Azurite executable for a given value of <see cref="ExecutableVariable"/> (tests pass a value here instead of
    /// setting the process-wide variable, which would race with fixtures starting Azurite on other threads).
    /// </summary>
    public static string Executable(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured)
                ? configured
                : throw new InvalidOperationException($"{ExecutableVariable}={configured} does not exist");
        }

        var path = Path.Combine(LocalServerProcess.RepositoryRoot(), ".tools", "azurite", "node_modules", ".bin", "azurite");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException(
                $"Azurite is not installed: {path} is missing. Run `bash tests/setup.sh` (it installs npm azurite@3 there), " +
                $"or set {ExecutableVariable} to an azurite executable.");
    }

    /// <summary>
    /// Starts Azurite and returns once blob, queue and table all answer HTTP. <paramref name="inMemory"/> keeps data in
    /// memory only (faster; lost when the process ends); otherwise data is written under the temp workspace.
    /// </summary>
    public static async Task<AzuriteServer> StartAsync(bool inMemory = false, CancellationToken cancellationToken = default)
    {
        var executable = Executable();
        return await LocalServerProcess.StartOnFreePortsAsync(3, ports =>
        {
            var workspace = LocalServerProcess.NewWorkspace("emstream-azurite");
            List<string> arguments =
            [
                "--blobHost", "127.0.0.1", "--blobPort", Port(ports[0]),
                "--queueHost", "127.0.0.1", "--queuePort", Port(ports[1]),
                "--tableHost", "127.0.0.1", "--tablePort", Port(ports[2]),
                "--disableTelemetry",
                // The pinned SDKs may send a service version newer than this Azurite release knows.
                "--skipApiVersionCheck",
                "--silent",
            ];
            // Azurite refuses --location together with --inMemoryPersistence; the workspace is its working folder either way.
            arguments.AddRange(inMemory ? ["--inMemoryPersistence"] : ["--location", workspace]);
            // A measuring aid (benchmarks): Azurite's debug log names every request it served; it costs Azurite CPU itself.
            if (Environment.GetEnvironmentVariable(DebugLogVariable) is { Length: > 0 } debugLog)
            {
                arguments.AddRange(["--debug", debugLog]);
            }

            var process = LocalServerProcess.Start(executable, arguments, workspace);
            return (process, new AzuriteServer(process, ports[0], ports[1], ports[2]));
        }, (server, c) => server.AnswersAsync(c), TimeSpan.FromSeconds(60), "Azurite", "EADDRINUSE", cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static string Port(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        foreach (var port in (int[])[BlobPort, QueuePort, TablePort])
        {
            // Any HTTP answer (403 without a signature) means the service is up.
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/{AccountName}?comp=list"), cancellationToken)
                .ConfigureAwait(false);
        }

        return true;
    }
}
