using System.Diagnostics;
using System.Globalization;
using EmStreaming.Contracts;
using EmStreaming.Grains;
using EmStreaming.Grains.Models;
using EmStreaming.Numerics;
using EmStreaming.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Benchmarks.Load;

/// <summary>
/// End-to-end load (issues 5, 9): N GMM models on the embedded Orleans silo (<c>UseEmStreamingSilo</c>: the SQLite log stream
/// provider and grain storage, default snapshot and
/// refit policies), concurrent producers appending batches through <see cref="IModelService"/>. Reports observations/s
/// applied, append → visible-in-query latency, GC heap per model beyond its refit window, and the machine's CPU load.
/// </summary>
/// <remarks>
/// Visible-in-query = the grain published a view (what <see cref="IModelService.GetStateAsync"/> returns) whose observation
/// count reaches the end of the batch; the moment is taken from an injected <see cref="IModelGrainObserver"/>, called right
/// after the view is stored. Latency runs from just before <see cref="IModelService.AppendAsync"/> is called.
/// </remarks>
internal static class LoadGenerator
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var o = LoadOptions.Parse(args);
        var directory = o.DataDirectory ?? Path.Combine(Path.GetTempPath(), "emstreaming-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        output.WriteLine($"load: {o.Models} models, K={o.Components}, d={o.Dimension}, batches of {o.Batch} (mini-batch {o.MiniBatch ?? ModelDefinition.DefaultBatchSize}), {o.Producers} producers, " +
            $"{(o.Rate > 0 ? $"paced at {o.Rate:N0} obs/s" : "unpaced")}, {o.WarmupSeconds} s warm-up + {o.Seconds} s measured, fsync={o.FullSync}, data in {directory}" +
            string.Concat(o.Settings.Select(s => $", {s.Key}={s.Value}")));
        output.WriteLine($"machine: {Environment.ProcessorCount} cores, load average before: {LoadAverage()}");

        var pool = DataPool(o, batches: 64);
        var ids = Enumerable.Range(0, o.Models).Select(i => $"load-{i:D5}").ToArray();
        var index = ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
        var recorder = new LatencyRecorder(o.Models);
        var acknowledged = new LatencyRecorder(0);
        var applied = new long[o.Models];
        var observer = new PublishedObserver((key, observations) =>
        {
            if (index.TryGetValue(key, out var m))
            {
                Volatile.Write(ref applied[m], observations);
                recorder.Published(m, observations);
            }
        });

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = directory,
            ["Storage:FullSync"] = o.FullSync.ToString(CultureInfo.InvariantCulture),
            ["Orleans:SiloPort"] = LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
        });
        builder.Configuration.AddInMemoryCollection(o.Settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<IModelGrainObserver>(observer);
        builder.UseOrleans(silo => silo.UseEmStreamingSilo(builder.Configuration));
        using var host = builder.Build();
        await host.StartAsync().ConfigureAwait(false);
        var service = host.Services.GetRequiredService<IModelService>();
        try
        {
            // The silo's fixed structures (grain directory cache, stream queues and cache, storage writers) are allocated on first
            // use: one throwaway model brings them in before the baseline, so "per model" counts what each model adds.
            await WarmSiloAsync(service, o).ConfigureAwait(false);
            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            // Every policy at its default (mini-batch 64, refit every 50,000 rows over a 5,000-row window, snapshot every 10,000
            // rows and every 30 s, 100 kept) unless --mini-batch overrides the mini-batch.
            var definition = new ModelDefinition { Kind = ModelKind.Gmm, Dimension = o.Dimension, Components = o.Components, BatchSize = o.MiniBatch ?? ModelDefinition.DefaultBatchSize, Seed = 1 };
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) => await service.PutModelAsync(id, definition, ct).ConfigureAwait(false)).ConfigureAwait(false);

            var appended = new long[o.Models];
            using var stop = new CancellationTokenSource();
            var producers = Enumerable.Range(0, o.Producers).Select(p => Task.Run(() => ProduceAsync(p, o, ids, pool, appended, recorder, acknowledged, service, stop.Token))).ToArray();

            // Warm-up: at least WarmupSeconds and until every model has had its first fit (a batch EM per model, a long turn
            // each), so the measured window is steady-state ingestion.
            var warmStarted = Stopwatch.GetTimestamp();
            var warming = o.Models;
            while (warming > 0 || Stopwatch.GetElapsedTime(warmStarted).TotalSeconds < o.WarmupSeconds)
            {
                await Task.Delay(500).ConfigureAwait(false);
                warming = 0;
                foreach (var id in ids)
                {
                    warming += (await service.GetStateAsync(id).ConfigureAwait(false)).WarmingUp ? 1 : 0;
                }
            }

            output.WriteLine($"warm-up: every model ready after {Stopwatch.GetElapsedTime(warmStarted).TotalSeconds:F1} s");

            var cpuBefore = ReadCpu();
            var processBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var appliedBefore = applied.Sum();
            var started = Stopwatch.GetTimestamp();
            recorder.Recording = true;
            acknowledged.Recording = true;
            await Task.Delay(TimeSpan.FromSeconds(o.Seconds)).ConfigureAwait(false);
            var appliedAfter = applied.Sum();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            recorder.Recording = false;
            acknowledged.Recording = false;
            var processCpu = (Process.GetCurrentProcess().TotalProcessorTime - processBefore).TotalSeconds;
            var cpuAfter = ReadCpu();
            var loadDuring = LoadAverage();

            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(producers).ConfigureAwait(false);
            var drainStarted = Stopwatch.GetTimestamp();
            while (Enumerable.Range(0, o.Models).Any(m => Volatile.Read(ref applied[m]) < Volatile.Read(ref appended[m])))
            {
                await Task.Delay(10).ConfigureAwait(false);
            }

            var drain = Stopwatch.GetElapsedTime(drainStarted).TotalSeconds;
            var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
            var window = definition.Refit.Window;
            var windowBytes = appended.Sum(a => Math.Min(window, a) * o.Dimension * 8L);
            var perModel = (heapAfter - heapBefore) / (double)o.Models;

            var rate = (appliedAfter - appliedBefore) / elapsed;
            var machineBusy = cpuAfter.Busy - cpuBefore.Busy;
            var machineTotal = cpuAfter.Total - cpuBefore.Total;
            output.WriteLine($"applied end to end: {appliedAfter - appliedBefore:N0} observations in {elapsed:F1} s = {rate:N0} observations/s ({rate / o.Batch:N0} batches/s)");
            output.WriteLine($"append -> visible latency ({recorder.Count:N0} batches): p50 {recorder.Percentile(0.50):F1} ms, p90 {recorder.Percentile(0.90):F1} ms, p99 {recorder.Percentile(0.99):F1} ms, max {recorder.Percentile(1.0):F1} ms");
            output.WriteLine($"append -> durable (AppendAsync returned): p50 {acknowledged.Percentile(0.50):F1} ms, p90 {acknowledged.Percentile(0.90):F1} ms, p99 {acknowledged.Percentile(0.99):F1} ms, max {acknowledged.Percentile(1.0):F1} ms");
            output.WriteLine($"memory: GC heap {heapBefore / 1e6:F1} MB before models, {heapAfter / 1e6:F1} MB after ({perModel / 1024:F1} KB per model; windows {windowBytes / (double)o.Models / 1024:F1} KB per model; beyond the window {(perModel - (windowBytes / (double)o.Models)) / 1024:F1} KB per model)");
            output.WriteLine($"cpu: machine {100.0 * machineBusy / Math.Max(1, machineTotal):F0}% busy over {Environment.ProcessorCount} cores (this process {100.0 * processCpu / (elapsed * Environment.ProcessorCount):F0}% of the machine); load average at the end {loadDuring}");
            output.WriteLine($"drain after the producers stopped: {drain:F2} s");
            var stopStarted = Stopwatch.GetTimestamp();
            await host.StopAsync().ConfigureAwait(false);
            output.WriteLine($"host stop (every model persists a snapshot): {Stopwatch.GetElapsedTime(stopStarted).TotalSeconds:F1} s");
            return 0;
        }
        finally
        {
            if (o.DataDirectory is null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static async Task WarmSiloAsync(IModelService service, LoadOptions o)
    {
        const string id = "load-baseline";
        await service.PutModelAsync(id, new ModelDefinition { Kind = ModelKind.Gmm, Dimension = o.Dimension, Components = o.Components, Seed = 1 }).ConfigureAwait(false);
        await service.AppendAsync(id, new DataMatrix(new double[o.Dimension * 10], 10, o.Dimension)).ConfigureAwait(false);
        while ((await service.GetStateAsync(id).ConfigureAwait(false)).Observations < 10)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }

        await service.DeleteModelAsync(id).ConfigureAwait(false);
    }

    private static async Task ProduceAsync(
        int producer, LoadOptions o, string[] ids, DataMatrix[] pool, long[] appended, LatencyRecorder recorder, LatencyRecorder acknowledged, IModelService service,
        CancellationToken stop)
    {
        var mine = Enumerable.Range(0, ids.Length).Where(m => m % o.Producers == producer).ToArray();
        if (mine.Length == 0)
        {
            return;
        }

        // Pacing: this producer's share of the rate, one batch every `interval` seconds, on a fixed schedule (no drift).
        var interval = o.Rate > 0 ? o.Producers * o.Batch / o.Rate : 0;
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        var turn = producer;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var m in mine)
                {
                    if (interval > 0)
                    {
                        var ahead = (sent * interval) - Stopwatch.GetElapsedTime(start).TotalSeconds;
                        if (ahead < -10 * interval)
                        {
                            // Fell behind (warm-up fits, a stall): restart the schedule instead of bursting to catch up, so the
                            // offered rate stays the configured one.
                            start = Stopwatch.GetTimestamp();
                            sent = 0;
                            ahead = 0;
                        }

                        if (ahead > 0.001)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(ahead), stop).ConfigureAwait(false);
                        }
                    }

                    var end = appended[m] + o.Batch;
                    var started = Stopwatch.GetTimestamp();
                    recorder.Sent(m, end, started);
                    await service.AppendAsync(ids[m], pool[turn++ % pool.Length], cancellationToken: CancellationToken.None).ConfigureAwait(false);
                    acknowledged.Record(started);
                    Volatile.Write(ref appended[m], end);
                    sent++;
                    if (stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Batches drawn from a fixed K-component mixture (well separated means, unit variance), seeded.</summary>
    private static DataMatrix[] DataPool(LoadOptions o, int batches)
    {
        var random = new Random(20260522);
        var centres = new double[o.Components * o.Dimension];
        for (var i = 0; i < centres.Length; i++)
        {
            centres[i] = (random.NextDouble() * 16) - 8;
        }

        var pool = new DataMatrix[batches];
        for (var b = 0; b < batches; b++)
        {
            var values = new double[o.Batch * o.Dimension];
            for (var r = 0; r < o.Batch; r++)
            {
                var k = random.Next(o.Components);
                for (var j = 0; j < o.Dimension; j++)
                {
                    var gaussian = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
                    values[(r * o.Dimension) + j] = centres[(k * o.Dimension) + j] + gaussian;
                }
            }

            pool[b] = new DataMatrix(values, o.Batch, o.Dimension);
        }

        return pool;
    }

    /// <summary>The grain observer of the run: sees every published view.</summary>
    private sealed class PublishedObserver(Action<string, long> published) : IModelGrainObserver
    {
        void IModelGrainObserver.Published(string modelId, long observations) => published(modelId, observations);
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static (long Busy, long Total) ReadCpu()
    {
        if (!File.Exists("/proc/stat"))
        {
            return (0, 0);
        }

        // First line: cpu user nice system idle iowait irq softirq steal ...
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        var total = fields.Take(8).Sum();
        var idle = fields[3] + fields[4];
        return (total - idle, total);
    }
}
