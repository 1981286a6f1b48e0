using System.Globalization;

namespace EmStreaming.Testing;

/// <summary>
/// One real <c>emstream serve</c> process of a cluster on the Azure Storage account of <see cref="AzuriteServer"/>:
/// its own free HTTP, silo and gateway ports and data folder, every setting on the command line as
/// <c>--Section:Key=value</c>, exactly as deploy/local-cluster.sh starts a silo.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly LocalServerProcess _process;

    private SiloProcess(LocalServerProcess process, string url)
    {
        _process = process;
        Url = url;
    }

    /// <summary>The silo's HTTP address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url { get; }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.ProcessId;

    public string OutputTail => _process.OutputTail;

    /// <summary>
    /// The settings of a cluster silo on <paramref name="connectionString"/>: Blob state, Azure Queue streams, no demo, no
    /// rate limit, warnings only; membership in Azure Tables of the same account, or in the Redis server at
    /// <paramref name="redisConnectionString"/> when one is given. The queues, containers and registry table are named after
    /// <paramref name="clusterId"/>, so clusters on one account share nothing. <paramref name="fastFailover"/> shortens
    /// Orleans' membership probes (1 s probe timeout, 2 missed probes, 1 vote, 2 s table refresh: the same for both
    /// membership providers) so a killed silo is declared dead within seconds, and the queue visibility timeout to its
    /// 30 s minimum, so what a killed silo had read but not delivered comes back soon.
    /// </summary>
    /// <param name="connectionString">The Azure Storage account (Azurite) of state and streams.</param>
    /// <param name="clusterId">Orleans' ClusterId and ServiceId; lowercase letters and digits (it names containers and a table).</param>
    /// <param name="fastFailover">Shortened membership probes and queue visibility timeout.</param>
    /// <param name="redisConnectionString">A StackExchange.Redis configuration string: Redis membership; null: Azure Table membership.</param>
    public static Dictionary<string, string> ClusterSettings(string connectionString, string clusterId, bool fastFailover, string? redisConnectionString = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Orleans:Clustering"] = redisConnectionString is null ? "AzureStorage" : "Redis",
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = clusterId,
            ["Orleans:Dashboard"] = "false",
            ["Storage:Provider"] = "AzureStorage",
            ["Streams:Provider"] = "AzureQueue",
            ["Streams:AzureQueue:QueuePrefix"] = clusterId,
            ["Storage:Azure:ContainerName"] = clusterId + "-grains",
            ["Storage:Azure:HistoryContainerName"] = clusterId + "-history",
            ["Storage:Azure:RegistryTableName"] = clusterId + "models",
            ["AzureStorage:ConnectionString"] = connectionString,
            ["RateLimiting:Enabled"] = "false",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (redisConnectionString is not null)
        {
            settings["Orleans:Redis:ConnectionString"] = redisConnectionString;
        }

        if (fastFailover)
        {
            settings["Orleans:Membership:ProbeTimeout"] = "00:00:01";
            settings["Orleans:Membership:NumMissedProbesLimit"] = "2";
            settings["Orleans:Membership:NumVotesForDeathDeclaration"] = "1";
            settings["Orleans:Membership:TableRefreshTimeout"] = "00:00:02";
            settings["Streams:AzureQueue:VisibilityTimeout"] = "00:00:30";
        }

        return settings;
    }

    /// <summary>The emstream.dll built in <paramref name="configuration"/> (the test or tool project builds it first).</summary>
    public static string Emstream(string configuration)
    {
        var path = Path.Combine(LocalServerProcess.RepositoryRoot(), "src", "EmStreaming.Cli", "bin", configuration, "net10.0", "emstream.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"build the CLI first: {path} is missing", path);
    }

    /// <summary>What deploy/ (the Dockerfile, local-cluster.sh) sets for a silo beyond its settings: a 64 MB gen0 budget.</summary>
    public static readonly IReadOnlyDictionary<string, string> DeployEnvironment = new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x4000000" };

    /// <summary>Starts the silo on fresh free ports; returns once it is started (not yet ready: see <see cref="WaitReadyAsync"/>).</summary>
    public static SiloProcess Start(string emstream, IReadOnlyDictionary<string, string> settings, string dataDirectory) =>
        Start(emstream, settings, dataDirectory, LocalServerProcess.FreePorts(3));

    /// <summary>
    /// Starts the silo on fresh free ports and returns once <c>/readyz</c> answers 200. A silo that could not listen (another
    /// program took one of its ports first: <c>emstream serve</c> exits with "cannot listen") is started again on new ports.
    /// </summary>
    public static Task<SiloProcess> StartAsync(string emstream, IReadOnlyDictionary<string, string> settings, string dataDirectory, TimeSpan timeout) =>
        LocalServerProcess.StartOnFreePortsAsync(3, ports =>
        {
            var silo = Start(emstream, settings, dataDirectory, ports);
            return (silo._process, silo);
        }, (silo, cancellationToken) => silo.IsReadyAsync(cancellationToken), timeout, "silo", "error: cannot listen", CancellationToken.None);

    private static SiloProcess Start(string emstream, IReadOnlyDictionary<string, string> settings, string dataDirectory, int[] ports)
    {
        var url = $"http://127.0.0.1:{ports[0]}";
        Directory.CreateDirectory(dataDirectory);
        List<string> arguments =
        [
            emstream, "serve", "--urls", url, "--data-dir", dataDirectory,
            $"--Orleans:SiloPort={ports[1].ToString(CultureInfo.InvariantCulture)}",
            $"--Orleans:GatewayPort={ports[2].ToString(CultureInfo.InvariantCulture)}",
        ];
        arguments.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        return new SiloProcess(LocalServerProcess.Start("dotnet", arguments, workspace: null, DeployEnvironment), url);
    }

    /// <summary>Waits until <c>/readyz</c> answers 200; fails with the silo's output if it exits or <paramref name="timeout"/> passes.</summary>
    public Task WaitReadyAsync(TimeSpan timeout) => _process.WaitUntilReadyAsync(IsReadyAsync, timeout, $"silo {Url}");

    private async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(Url + "/readyz"), cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    /// <summary>SIGKILL: the silo stops mid-whatever, as a crashed machine would.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
