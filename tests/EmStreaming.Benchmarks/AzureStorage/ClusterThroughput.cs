using Azure.Storage.Queues;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EmStreaming.Testing;

namespace EmStreaming.Benchmarks.AzureStorage;

/// <summary>
/// End-to-end throughput of a three-silo cluster on Azurite (issue 10): Azurite, then three real <c>emstream serve</c>
/// processes (Azure Table membership, Blob state, Azure Queue streams), M GMM models, P concurrent HTTP producers posting
/// batches round-robin to the silos for S seconds. Reported: batches and observations acknowledged per second, then applied
/// per second (from the first post until every model's count reached what was acknowledged), request latency, and, from the
/// same Azurite right before, the plain-SDK steady ceiling (put + get + delete) for the same message size. Rates and CPU are
/// taken after a warm-up (the silos' JIT and connection set-up are not steady state; the ceiling's phase is steady too), and
/// the CPU the silos and Azurite spent per message is printed beside Azurite's CPU per message in the ceiling's steady phase,
/// which says which process binds on a shared machine better than rates do.
/// Usage: <c>azure-cluster [--models M] [--producers P] [--seconds S] [--warmup W] [--rows R] [--dimension D] [--keys] [--pin] [--definition JSON-members] [--set Section:Key=value]…</c>
/// (<c>--definition '"refit":{"everyObservations":null}'</c> adds members to every model's definition; <c>--keys</c> sends an Idempotency-Key with every batch; the registry then stores an answer per batch; <c>--set</c>
/// passes a setting to every silo, e.g. <c>--set Streams:AzureQueue:PollPeriod=00:00:00.500</c>; <c>--pin</c> gives Azurite a core of
/// its own for both the ceiling and the cluster, see <see cref="CpuPinning"/>).
/// </summary>
internal static class ClusterThroughput
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var models = 30;
        var producers = 24;
        var seconds = 20.0;
        var warmup = 5.0;
        var rows = 100;
        var dimension = 4;
        var keys = false;
        var pin = false;
        string? definitionExtra = null;
        var extra = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--models": models = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--producers": producers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rows": rows = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--dimension": dimension = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--keys": keys = true; break;
                case "--pin": pin = true; break;
                case "--definition": definitionExtra = Next(); break;
                case "--set":
                    var setting = Next().Split('=', 2);
                    extra[setting[0]] = setting.Length == 2 ? setting[1] : throw new ArgumentException("--set needs Section:Key=value");
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        var emstream = SiloProcess.Emstream("Release");
        await using var azurite = await AzuriteServer.StartAsync(inMemory: false).ConfigureAwait(false);
        output.WriteLine($"azure-cluster: {models} models (d={dimension}), {producers} producers, batches of {rows} rows, {seconds:0.#} s after {warmup:0.#} s warm-up, keys={keys}; " +
            $"{Environment.ProcessorCount} cores, load average before: {AzuriteCeiling.LoadAverage()}");
        if (pin)
        {
            // Before the ceiling, so the ceiling and the cluster run with the same cores.
            output.WriteLine(CpuPinning.Pin(azurite.ProcessId));
        }

        // The ceiling for this message size (one request = one stream record = one queue message of rows/100 batches of
        // 100 rows), from the same Azurite, just before the cluster runs on it.
        var batchesPerMessage = Math.Max(1, rows / 100);
        var ceilingArgs = new[]
        {
            "--connection-string", azurite.ConnectionString, "--azurite-pid", azurite.ProcessId.ToString(CultureInfo.InvariantCulture),
            "--batches", batchesPerMessage.ToString(CultureInfo.InvariantCulture), "--seconds", "8",
        };
        await AzuriteCeiling.RunAsync(ceilingArgs, output).ConfigureAwait(false);

        var data = LocalServerProcess.NewWorkspace("emstream-cluster-bench");
        var settings = SiloProcess.ClusterSettings(azurite.ConnectionString, "bench" + Guid.NewGuid().ToString("N")[..8], fastFailover: false);
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
            output.WriteLine($"silo setting: {key}={value}");
        }

        var silos = Enumerable.Range(0, 3).Select(i => SiloProcess.Start(emstream, settings, Path.Combine(data, $"silo-{i}"))).ToArray();
        try
        {
            await Task.WhenAll(silos.Select(s => s.WaitReadyAsync(TimeSpan.FromSeconds(180)))).ConfigureAwait(false);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var ids = Enumerable.Range(0, models).Select(m => $"bench:m{m:D3}").ToArray();
            for (var m = 0; m < models; m++)
            {
                using var put = await http.PutAsync(new Uri($"{silos[m % 3].Url}/v1/models/{ids[m]}"),
                    Json($$"""{"kind":"gmm","dimension":{{dimension}},"components":4{{(definitionExtra is null ? "" : "," + definitionExtra)}}}""")).ConfigureAwait(false);
                put.EnsureSuccessStatusCode();
            }

            var bodies = Enumerable.Range(0, 16).Select(b => Body(b, rows, dimension)).ToArray();
            var acknowledged = new long[models];
            var latencies = new List<double>[producers];
            long next = -1;
            long failed = 0;
            var measuring = false;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(warmup + seconds));
            var clock = Stopwatch.StartNew();
            var tasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                latencies[p] = [];
                while (!stop.IsCancellationRequested)
                {
                    var b = Interlocked.Increment(ref next);
                    var model = (int)(b % models);
                    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{silos[b % 3].Url}/v1/models/{ids[model]}/observations"))
                    {
                        Content = Json(bodies[b % bodies.Length]),
                    };
                    if (keys)
                    {
                        request.Headers.Add("Idempotency-Key", $"b{b}");
                    }

                    var started = Stopwatch.GetTimestamp();
                    using var response = await http.SendAsync(request).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        if (Volatile.Read(ref measuring))
                        {
                            latencies[p].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        }

                        Interlocked.Add(ref acknowledged[model], rows);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
            })).ToArray();

            // The measured window starts after the warm-up: acknowledged, applied and CPU so far are subtracted.
            await Task.Delay(TimeSpan.FromSeconds(warmup)).ConfigureAwait(false);
            Volatile.Write(ref measuring, true);
            var startSeconds = clock.Elapsed.TotalSeconds;
            var acknowledgedAtStart = acknowledged.Select((_, m) => Interlocked.Read(ref acknowledged[m])).Sum();
            var cpuAtStart = Cpu(silos, azurite);
            var appliedAtStart = await AppliedAsync(http, silos, ids, acknowledged).ConfigureAwait(false);
            var appliedStartSeconds = clock.Elapsed.TotalSeconds;
            // The silos created their queues at start; listed once, so sampling adds no listing of its own to Azurite's load.
            var queueService = new QueueServiceClient(azurite.ConnectionString);
            var clusterQueues = new List<QueueClient>();
            await foreach (var queue in queueService.GetQueuesAsync(prefix: settings["Streams:AzureQueue:QueuePrefix"]).ConfigureAwait(false))
            {
                clusterQueues.Add(queueService.GetQueueClient(queue.Name));
            }

            await using var held = new QueueLengthSampler(_ => Task.FromResult<IReadOnlyList<QueueClient>>(clusterQueues));
            var messageChars = await PeekMessageCharsAsync(clusterQueues, stop.Token).ConfigureAwait(false);
            await Task.WhenAll(tasks).ConfigureAwait(false);
            var sendSeconds = clock.Elapsed.TotalSeconds;
            var cpuAtEnd = Cpu(silos, azurite);
            var heldSummary = await held.StopAsync().ConfigureAwait(false);
            var loadDuring = AzuriteCeiling.LoadAverage();
            var total = acknowledged.Sum();

            // Applied: poll until every model's count reaches what was acknowledged.
            while (await AppliedAsync(http, silos, ids, acknowledged).ConfigureAwait(false) != total && clock.Elapsed.TotalSeconds < sendSeconds + 300)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }

            var appliedSeconds = clock.Elapsed.TotalSeconds - appliedStartSeconds;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var measuredSeconds = sendSeconds - startSeconds;
            var sent = total - acknowledgedAtStart;
            var messages = sent / rows;
            var batches = sent / 100.0;
            var appliedRows = total - appliedAtStart;
            output.WriteLine($"acknowledged (after warm-up): {messages:N0} requests (= queue messages) in {measuredSeconds:0.0} s = {messages / measuredSeconds:N0} messages/s = {batches / measuredSeconds:N0} batches of 100/s = {sent / measuredSeconds:N0} observations/s ({failed} failed requests in all)");
            output.WriteLine($"applied end to end: {appliedRows / rows:N0} messages from the end of the warm-up until all were applied, {appliedSeconds:0.0} s = {appliedRows / rows / appliedSeconds:N0} messages/s = {appliedRows / 100.0 / appliedSeconds:N0} batches of 100/s = {appliedRows / appliedSeconds:N0} observations/s");
            if (messages > 0)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"CPU per acknowledged message (measured window): silos {(cpuAtEnd.Silos - cpuAtStart.Silos).TotalMilliseconds / messages:0.00} ms (three processes together), Azurite {(cpuAtEnd.Azurite - cpuAtStart.Azurite).TotalMilliseconds / messages:0.00} ms, this load client {(cpuAtEnd.Client - cpuAtStart.Client).TotalMilliseconds / messages:0.00} ms"));
            }

            var states = new List<long>();
            await foreach (var blob in new Azure.Storage.Blobs.BlobContainerClient(azurite.ConnectionString, settings["Storage:Azure:ContainerName"]).GetBlobsAsync().ConfigureAwait(false))
            {
                states.Add(blob.Properties.ContentLength ?? 0);
            }

            output.WriteLine($"grain state blobs: {states.Count}, mean {(states.Count == 0 ? 0 : states.Average()):N0} bytes (written at most once per Streams:AzureQueue:CommitInterval per model while deliveries are small)");
            output.WriteLine($"cluster queues during the measured window: {heldSummary} (visible and in flight)");
            output.WriteLine($"request latency ms: p50 {Percentile(all, 0.50):0.0}, p99 {Percentile(all, 0.99):0.0}");
            var ceilingChars = AzuriteCeiling.MessageChars(batchesPerMessage);
            output.WriteLine(messageChars is { } chars
                ? $"cluster queue message: {chars:N0} chars (peeked), ceiling measured with {ceilingChars:N0}" +
                  (Math.Abs(chars - ceilingChars) > 0.02 * ceilingChars ? " — more than 2 % apart: the ceiling above is not for this message size" : "")
                : "cluster queue message: none visible to peek during the run");
            output.WriteLine($"load average during: {loadDuring}, after: {AzuriteCeiling.LoadAverage()}");
            return 0;
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The length of a message in the cluster's queues (peeked: it stays where it is), or null if none was visible.</summary>
    private static async Task<int?> PeekMessageCharsAsync(IReadOnlyList<QueueClient> queues, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (var queue in queues)
            {
                var peeked = await queue.PeekMessagesAsync(1, cancellationToken).ConfigureAwait(false);
                if (peeked.Value is [var message, ..])
                {
                    return message.Body.ToMemory().Length;
                }
            }

            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>Rows applied so far over all models, each capped at what was acknowledged for it.</summary>
    private static async Task<long> AppliedAsync(HttpClient http, SiloProcess[] silos, string[] ids, long[] acknowledged)
    {
        var counts = await Task.WhenAll(ids.Select(async (id, m) =>
        {
            using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri($"{silos[m % silos.Length].Url}/v1/models/{id}")).ConfigureAwait(false));
            return Math.Min(Interlocked.Read(ref acknowledged[m]), status.RootElement.GetProperty("status").GetProperty("observations").GetInt64());
        })).ConfigureAwait(false);
        return counts.Sum();
    }

    private static (TimeSpan Silos, TimeSpan Azurite, TimeSpan Client) Cpu(SiloProcess[] silos, AzuriteServer azurite)
    {
        var total = TimeSpan.Zero;
        foreach (var silo in silos)
        {
            total += AzuriteCeiling.CpuTime(silo.ProcessId);
        }

        return (total, AzuriteCeiling.CpuTime(azurite.ProcessId), AzuriteCeiling.CpuTime(Environment.ProcessId));
    }

    /// <summary>An observations request body of <paramref name="rows"/> rows, values written with up to 3 decimals (also the JSON number benchmark's input).</summary>
    internal static string Body(int seed, int rows, int dimension)
    {
        var random = new Random(seed);
        var body = new StringBuilder("{\"rows\":[");
        for (var r = 0; r < rows; r++)
        {
            body.Append(r == 0 ? "[" : ",[");
            for (var d = 0; d < dimension; d++)
            {
                body.Append(d == 0 ? "" : ",").Append((random.NextDouble() * 10 + (r % 4) * 20).ToString("0.###", CultureInfo.InvariantCulture));
            }

            body.Append(']');
        }

        return body.Append("]}").ToString();
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
