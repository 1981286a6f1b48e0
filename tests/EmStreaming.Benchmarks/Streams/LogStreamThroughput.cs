using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EmStreaming.Benchmarks.Load;
using EmStreaming.Providers.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace EmStreaming.Benchmarks.Streams;

/// <summary>
/// Events per second through the log stream provider in a real in-process silo: concurrent producers append
/// 100×4-double batches (each append waits for its commit, fsync by default) to 1,000 streams; a trivial consumer grain per
/// stream counts them and reports its position to <see cref="IStreamPersistenceTracker"/> every 50 batches, so the log is
/// checkpointed and trimmed as in production. Prints appended and delivered batches/s, observations/s, the acknowledgement
/// and append→delivery latency percentiles, and the process CPU time per delivered batch.
/// <code>dotnet run -c Release --project tests/EmStreaming.Benchmarks -- log-streams [--seconds 20] [--grains 1000] [--producers 256] [--queues 8] [--no-fsync] [--in-memory]</code>
/// </summary>
internal static class LogStreamThroughput
{
    public const string Namespace = "bench-models";
    private const string Provider = "bench";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output)
    {
        int seconds = 20, grains = 1_000, producers = 256, queues = 8, rows = 100, dimension = 4, warmup = 3;
        var fullSync = true;
        var inMemory = false;
        for (var i = 0; i < args.Count; i++)
        {
            int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--seconds": seconds = Next(); break;
                case "--grains": grains = Next(); break;
                case "--producers": producers = Next(); break;
                case "--queues": queues = Next(); break;
                case "--warmup": warmup = Next(); break;
                case "--no-fsync": fullSync = false; break;
                case "--in-memory": inMemory = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        var directory = Path.Combine(Path.GetTempPath(), "emstreaming-log-streams-bench", Guid.NewGuid().ToString("N"));
        var counters = new BenchCounters();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = directory,
            ["Storage:FullSync"] = fullSync ? "true" : "false",
            ["Streams:Backend"] = inMemory ? "InMemory" : "Sqlite",
            ["Streams:Queues"] = queues.ToString(CultureInfo.InvariantCulture),
        });
        var configuration = builder.Configuration;
        builder.Services.AddSingleton(counters);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreePort(), FreePort(), serviceId: "log-streams-bench", clusterId: "log-streams-bench");
            silo.AddEmStreamingLogStreams(Provider, configuration);
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var heapBefore = SettledHeap();
            var provider = host.Services.GetRequiredService<IClusterClient>().GetStreamProvider(Provider);
            var streams = Enumerable.Range(0, grains).Select(g => provider.GetStream<BenchBatch>(StreamId.Create(Namespace, $"m{g}"))).ToArray();
            var values = new double[rows * dimension];
            new Random(42).NextDoubles(values);
            var ack = new LatencyRecorder(1);
            long appended = 0;
            using var stop = new CancellationTokenSource();
            var tasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                long sequence = 0;
                for (var g = p % grains; !stop.IsCancellationRequested; g = (g + producers) % grains)
                {
                    var started = Stopwatch.GetTimestamp();
                    await streams[g].OnNextAsync(new BenchBatch($"p{p}", ++sequence, started, values));
                    ack.Record(started);
                    Interlocked.Increment(ref appended);
                }
            })).ToArray();

            await Task.Delay(TimeSpan.FromSeconds(warmup));
            ack.Recording = true;
            counters.Latency.Recording = true;
            var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            var appended0 = Interlocked.Read(ref appended);
            var delivered0 = counters.Delivered;
            var clock = Stopwatch.StartNew();
            for (var s = 1; s <= seconds; s++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s,3}s  appended {(Interlocked.Read(ref appended) - appended0) / clock.Elapsed.TotalSeconds,9:F0} batches/s  delivered {(counters.Delivered - delivered0) / clock.Elapsed.TotalSeconds,9:F0} batches/s"));
            }

            var elapsed = clock.Elapsed.TotalSeconds;
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpu0).TotalMilliseconds * 1000;
            var deliveredBatches = counters.Delivered - delivered0;
            var appendedBatches = Interlocked.Read(ref appended) - appended0;
            stop.Cancel();
            await Task.WhenAll(tasks);
            var drained = Stopwatch.StartNew();
            while (counters.Delivered < Interlocked.Read(ref appended) && drained.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(50);
            }

            // Idle again: what the silo keeps per stream (grain activation, Orleans' per-stream agent state, our tracker).
            await Task.Delay(TimeSpan.FromSeconds(1));
            var heapAfter = SettledHeap();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                log stream provider ({(inMemory ? "in-memory" : fullSync ? "SQLite, fsync" : "SQLite, no fsync")}), {grains} grains, {producers} producers, {queues} queues, {rows}x{dimension} batches, {seconds} s:
                  appended  {appendedBatches / elapsed:F0} batches/s = {appendedBatches * rows / elapsed:F0} observations/s
                  delivered {deliveredBatches / elapsed:F0} batches/s = {deliveredBatches * rows / elapsed:F0} observations/s
                  append acknowledged p50 {ack.Percentile(0.5):F1} ms  p99 {ack.Percentile(0.99):F1} ms
                  append -> delivered p50 {counters.Latency.Percentile(0.5):F1} ms  p99 {counters.Latency.Percentile(0.99):F1} ms
                  process CPU {cpu / Math.Max(1, deliveredBatches):F0} µs per delivered batch ({Environment.ProcessorCount} cores)
                  GC heap when idle again: {(heapAfter - heapBefore) / 1024.0 / grains:F1} KB per stream above the started silo ({heapBefore / 1048576.0:F1} MB -> {heapAfter / 1048576.0:F1} MB)
                """));
        }
        finally
        {
            await host.StopAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        return 0;
    }

    private static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static void NextDoubles(this Random random, double[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = random.NextDouble();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The benchmark's event: a producer id and sequence (as the real records carry), a send time, and the rows.</summary>
[GenerateSerializer, Immutable, Alias("bench.batch")]
public sealed record BenchBatch([property: Id(0)] string Producer, [property: Id(1)] long Sequence, [property: Id(2)] long SentTimestamp, [property: Id(3)] double[] Values);

/// <summary>Counts deliveries across the silo's consumer grains (a DI singleton, not static state).</summary>
public sealed class BenchCounters
{
    private long _delivered;

    internal LatencyRecorder Latency { get; } = new(1);

    public long Delivered => Interlocked.Read(ref _delivered);

    public void OnDelivered(long sentTimestamp)
    {
        Interlocked.Increment(ref _delivered);
        Latency.Record(sentTimestamp);
    }
}

public interface IBenchConsumerGrain : IGrainWithStringKey;

/// <summary>A trivial consumer: counts, and reports its position every 50 batches as a grain does after a state write.</summary>
[ImplicitStreamSubscription(LogStreamThroughput.Namespace)]
public sealed class BenchConsumerGrain(BenchCounters counters, IStreamPersistenceTracker persistence) : Grain, IBenchConsumerGrain, IStreamSubscriptionObserver, IAsyncObserver<BenchBatch>
{
    private int _sinceReport;

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) => handleFactory.Create<BenchBatch>().ResumeAsync(this);

    public Task OnNextAsync(BenchBatch item, StreamSequenceToken? token = null)
    {
        counters.OnDelivered(item.SentTimestamp);
        if (++_sinceReport == 50 && token is not null)
        {
            _sinceReport = 0;
            persistence.Persisted(StreamId.Create(LogStreamThroughput.Namespace, this.GetPrimaryKeyString()), token);
        }

        return Task.CompletedTask;
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
}
