using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using EmStreaming.Testing;

namespace EmStreaming.Benchmarks.AzureStorage;

/// <summary>
/// What the storage account itself allows, with the plain Azure SDK and no Orleans (issue 10): queue put, get (32 per
/// call, as Orleans' Azure Queue receiver reads) and delete operations per second, then a steady phase where producers
/// put while consumers get and delete, for queue messages that carry 1, 5 or 10 observation batches. The steady
/// phase's messages/s times batches per message is the ceiling the three-silo cluster is compared against.
/// </summary>
/// <remarks>
/// A batch of 100 rows × 4 doubles is 3,200 bytes of values (<see cref="BytesPerBatch"/>), packed 8 bytes per value in
/// the stream record; the record's and Orleans' batch container's framing add <see cref="FramingBytes"/> per message
/// (peeked from the cluster's queues by <c>azure-cluster</c>, which prints both sizes), and Orleans' Azure Queue adapter
/// sends a message as the base64 text of those bytes, so a message of n batches is about 4/3 × (n × 3,200 + 190) characters
/// (10 batches: 42,920, under the 64 KiB limit; 20 batches did not fit in the prototype). Before the values were packed
/// (2026-11-28) Orleans wrote them value by value and a batch took 3,400 bytes (10 batches: 45,336 characters).
/// Usage: <c>azurite-ceiling [--seconds S] [--concurrency C] [--queues Q] [--batches 1,5,10] [--connection-string CS [--azurite-pid P]] [--pin] [--hold S]</c>;
/// without a connection string it starts Azurite from .tools/azurite (disk persistence, as deploy/local-cluster.sh does),
/// and with <c>--pin</c> gives it a core of its own (<see cref="CpuPinning"/>). <c>--hold S</c>: the steady phase's consumers
/// delete a message S seconds after reading it instead of at once, so the queues hold as many messages as a consumer that
/// deletes after a periodic state write keeps in flight.
/// The steady phase also reports the CPU Azurite's process spent per message (when its process id is known), the figure
/// the cluster's own Azurite CPU per message is compared with.
/// </remarks>
internal static class AzuriteCeiling
{
    public const int BytesPerBatch = 3_200;
    public const int FramingBytes = 190;

    /// <summary>Serialized bytes of a message of <paramref name="batches"/> batches: the packed values and the framing.</summary>
    public static int PayloadBytes(int batches) => (batches * BytesPerBatch) + FramingBytes;

    /// <summary>Characters of such a message: base64 of its bytes, as Orleans' Azure Queue adapter sends it.</summary>
    public static int MessageChars(int batches) => 4 * ((PayloadBytes(batches) + 2) / 3);

    private const int MaxMessagesPerGet = 32;
    private const int SteadyBacklog = 64;

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var seconds = 8.0;
        var concurrency = 8;
        var queues = 8;
        int[] batchesPerMessage = [1, 5, 10];
        string? connectionString = null;
        int? azuritePid = null;
        var pin = false;
        var hold = TimeSpan.Zero;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--pin")
            {
                pin = true;
                continue;
            }

            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--concurrency": concurrency = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--queues": queues = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batches": batchesPerMessage = [.. value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))]; break;
                case "--connection-string": connectionString = value; break;
                case "--hold": hold = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)); break;
                case "--azurite-pid": azuritePid = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }

            i++;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        if (pin && connectionString is not null)
        {
            throw new ArgumentException("--pin pins the Azurite this command starts; without --connection-string");
        }

        AzuriteServer? azurite = null;
        if (connectionString is null)
        {
            azurite = await AzuriteServer.StartAsync(inMemory: false).ConfigureAwait(false);
            connectionString = azurite.ConnectionString;
            azuritePid = azurite.ProcessId;
            output.WriteLine($"azurite-ceiling: started Azurite (disk persistence) pid {azurite.ProcessId}, queue port {azurite.QueuePort}");
            if (pin)
            {
                output.WriteLine(CpuPinning.Pin(azurite.ProcessId));
            }
        }

        try
        {
            output.WriteLine($"azurite-ceiling: {concurrency} concurrent clients over {queues} queues, {seconds:0.#} s per phase, " +
                $"{BytesPerBatch} bytes per batch + {FramingBytes} per message before base64; {Environment.ProcessorCount} cores, load average before: {LoadAverage()}");
            output.WriteLine("| batches/message | message chars | put ops/s | get calls/s (msgs/s) | delete ops/s | steady msgs/s (put+get+delete) | steady batches/s | Azurite CPU ms/msg (steady) | messages held (steady) |");
            output.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            var service = new QueueServiceClient(connectionString);
            foreach (var n in batchesPerMessage)
            {
                var row = await MeasureAsync(service, n, TimeSpan.FromSeconds(seconds), concurrency, queues, azuritePid, hold).ConfigureAwait(false);
                output.WriteLine(row);
            }

            output.WriteLine($"load average after: {LoadAverage()}");
            return 0;
        }
        finally
        {
            if (azurite is not null)
            {
                await azurite.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<string> MeasureAsync(QueueServiceClient service, int batches, TimeSpan phase, int concurrency, int queueCount, int? azuritePid, TimeSpan hold)
    {
        var payload = new byte[PayloadBytes(batches)];
        new Random(batches).NextBytes(payload);
        var text = Convert.ToBase64String(payload);
        var queues = new QueueClient[queueCount];
        for (var q = 0; q < queueCount; q++)
        {
            queues[q] = service.GetQueueClient($"ceiling-{batches}-{q}-{Guid.NewGuid():N}"[..40]);
            await queues[q].CreateAsync().ConfigureAwait(false);
        }

        // put: every client sends for the whole phase.
        var puts = await ForPhaseAsync(phase, concurrency, async (client, _) =>
        {
            await queues[client % queueCount].SendMessageAsync(text).ConfigureAwait(false);
            return 1;
        }).ConfigureAwait(false);

        // get: 32 messages per call with a long visibility timeout, keeping the receipts for the delete phase.
        var received = new ConcurrentQueue<(QueueClient Queue, QueueMessage Message)>();
        long getCalls = 0;
        var gets = await ForPhaseAsync(phase, concurrency, async (client, _) =>
        {
            var queue = queues[client % queueCount];
            QueueMessage[] messages = await queue.ReceiveMessagesAsync(MaxMessagesPerGet, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
            Interlocked.Increment(ref getCalls);
            foreach (var m in messages)
            {
                received.Enqueue((queue, m));
            }

            return messages.Length;
        }).ConfigureAwait(false);

        // delete: what the get phase received.
        var deletes = await ForPhaseAsync(phase, concurrency, async (_, _) =>
        {
            if (!received.TryDequeue(out var item))
            {
                return -1;
            }

            await item.Queue.DeleteMessageAsync(item.Message.MessageId, item.Message.PopReceipt).ConfigureAwait(false);
            return 1;
        }).ConfigureAwait(false);

        foreach (var queue in queues)
        {
            await queue.DeleteAsync().ConfigureAwait(false);
        }

        // steady, on fresh queues: half the clients put, half get 32 and delete each, as the cluster's producers and
        // pulling agents do. Producers hold back while a queue has more than SteadyBacklog messages not yet read, so the
        // figure is a rate Azurite sustains, not a backlog growing without end. With --hold a consumer deletes what it
        // read that long after reading it, as a consumer that deletes once a periodic state write covers a message does.
        var fresh = new QueueClient[queueCount];
        var backlog = new long[queueCount];
        for (var q = 0; q < queueCount; q++)
        {
            fresh[q] = service.GetQueueClient($"steady-{batches}-{q}-{Guid.NewGuid():N}"[..40]);
            await fresh[q].CreateAsync().ConfigureAwait(false);
        }

        var producers = concurrency / 2;
        var heldDeletes = new ConcurrentBag<Task>();
        await using var held = new QueueLengthSampler(_ => Task.FromResult<IReadOnlyList<QueueClient>>(fresh));
        var cpuBefore = CpuTime(azuritePid);
        var steady = await ForPhaseAsync(phase, concurrency, async (client, _) =>
        {
            // Producer i and consumer i share queue i mod Q, so every queue written is also read.
            var q = (client < producers ? client : client - producers) % queueCount;
            var queue = fresh[q];
            if (client < producers)
            {
                if (Interlocked.Read(ref backlog[q]) >= SteadyBacklog)
                {
                    await Task.Delay(5).ConfigureAwait(false);
                    return 0;
                }

                Interlocked.Increment(ref backlog[q]);
                await queue.SendMessageAsync(text).ConfigureAwait(false);
                return 0;
            }

            QueueMessage[] messages = await queue.ReceiveMessagesAsync(MaxMessagesPerGet, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
            Interlocked.Add(ref backlog[q], -messages.Length);
            if (messages.Length == 0)
            {
                await Task.Delay(5).ConfigureAwait(false);
            }

            var delete = DeleteAsync(queue, messages, hold);
            if (hold > TimeSpan.Zero)
            {
                heldDeletes.Add(delete);
            }
            else
            {
                await delete.ConfigureAwait(false);
            }

            return messages.Length;
        }).ConfigureAwait(false);
        await Task.WhenAll(heldDeletes).ConfigureAwait(false);
        var cpuMs = (CpuTime(azuritePid) - cpuBefore).TotalMilliseconds;
        var heldSummary = await held.StopAsync().ConfigureAwait(false);

        foreach (var queue in fresh)
        {
            await queue.DeleteAsync().ConfigureAwait(false);
        }

        var seconds = phase.TotalSeconds;
        return string.Create(CultureInfo.InvariantCulture,
            $"| {batches} | {text.Length:N0} | {puts.Count / puts.Seconds:N0} | {getCalls / gets.Seconds:N0} ({gets.Count / gets.Seconds:N0}) | " +
            $"{deletes.Count / deletes.Seconds:N0} | {steady.Count / steady.Seconds:N0} | {steady.Count * batches / steady.Seconds:N0} | " +
            $"{(azuritePid is null || steady.Count == 0 ? "n/a" : (cpuMs / steady.Count).ToString("0.00", CultureInfo.InvariantCulture))} | {heldSummary} |");
    }

    private static async Task DeleteAsync(QueueClient queue, QueueMessage[] messages, TimeSpan after)
    {
        if (after > TimeSpan.Zero)
        {
            await Task.Delay(after).ConfigureAwait(false);
        }

        await Task.WhenAll(messages.Select(m => queue.DeleteMessageAsync(m.MessageId, m.PopReceipt))).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="concurrency"/> clients, each calling <paramref name="operation"/> in a loop until the phase
    /// ends or it returns -1 (nothing left); counts what the calls returned and the seconds actually spent.
    /// </summary>
    private static async Task<(long Count, double Seconds)> ForPhaseAsync(TimeSpan phase, int concurrency, Func<int, CancellationToken, Task<int>> operation)
    {
        using var stop = new CancellationTokenSource(phase);
        long count = 0;
        var clock = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, concurrency).Select(client => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var done = await operation(client, stop.Token).ConfigureAwait(false);
                if (done < 0)
                {
                    return;
                }

                Interlocked.Add(ref count, done);
            }
        })).ToArray();
        await Task.WhenAll(clients).ConfigureAwait(false);
        return (count, clock.Elapsed.TotalSeconds);
    }

    /// <summary>User + system CPU time the process has used so far (zero when it is unknown or gone).</summary>
    internal static TimeSpan CpuTime(int? processId)
    {
        if (processId is not { } pid)
        {
            return TimeSpan.Zero;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages, as <c>uptime</c> prints them.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
