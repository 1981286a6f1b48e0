using System.Globalization;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using EmStreaming.Testing;

namespace EmStreaming.Benchmarks.AzureStorage;

/// <summary>
/// Azurite's own CPU per storage operation, plain Azure SDK, one client, for each operation the three-silo cluster makes per
/// queue message: the queue put, get and delete the ceiling counts, and what the cluster adds (an empty poll, a Table read of
/// the model's definition, a Put Blob of the grain state). CPU time is Azurite's process (user + system), so the figures
/// hold on a loaded machine better than rates do.
/// Usage: <c>azurite-op-costs [--count N] [--state-bytes B]</c> (defaults 300 and 168,850, the mean state blob of the cluster run).
/// </summary>
internal static class AzuriteOperationCosts
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var count = 300;
        var stateBytes = 168_850;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--count": count = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--state-bytes": stateBytes = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }

            i++;
        }

        await using var azurite = await AzuriteServer.StartAsync(inMemory: false).ConfigureAwait(false);
        output.WriteLine($"azurite-op-costs: {count} of each, one client, Azurite (disk persistence) pid {azurite.ProcessId}; load average before: {AzuriteCeiling.LoadAverage()}");
        output.WriteLine("| operation | Azurite CPU ms/op | client wall ms/op |");
        output.WriteLine("|---|---:|---:|");
        var random = new Random(1);
        var payload = new byte[AzuriteCeiling.PayloadBytes(10)];
        random.NextBytes(payload);
        var text = Convert.ToBase64String(payload);
        var state = new byte[stateBytes];
        random.NextBytes(state);

        var queue = new QueueServiceClient(azurite.ConnectionString).GetQueueClient("costs");
        await queue.CreateAsync().ConfigureAwait(false);
        var empty = new QueueServiceClient(azurite.ConnectionString).GetQueueClient("costs-empty");
        await empty.CreateAsync().ConfigureAwait(false);
        var blobs = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("costs");
        await blobs.CreateAsync().ConfigureAwait(false);
        var table = new TableServiceClient(azurite.ConnectionString).GetTableClient("costs");
        await table.CreateAsync().ConfigureAwait(false);
        await table.UpsertEntityAsync(new TableEntity("def-model", "definition") { ["Definition"] = new string('x', 300), ["Generation"] = 1L }).ConfigureAwait(false);

        // Warm-up of every path, so the first call's set-up is not counted.
        await queue.SendMessageAsync(text).ConfigureAwait(false);
        var warm = (await queue.ReceiveMessagesAsync(1).ConfigureAwait(false)).Value;
        await queue.DeleteMessageAsync(warm[0].MessageId, warm[0].PopReceipt).ConfigureAwait(false);
        await blobs.GetBlobClient("warm").UploadAsync(BinaryData.FromBytes(state), overwrite: true).ConfigureAwait(false);
        await table.GetEntityIfExistsAsync<TableEntity>("def-model", "definition").ConfigureAwait(false);

        await Row(output, azurite, $"queue put ({text.Length:N0} chars)", count, _ => queue.SendMessageAsync(text)).ConfigureAwait(false);
        var received = new List<Azure.Storage.Queues.Models.QueueMessage>();
        var gets = (count + 31) / 32;
        await Row(output, azurite, "queue get of 32 messages, per message", gets, async _ =>
        {
            received.AddRange((await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5)).ConfigureAwait(false)).Value);
        }, perOperation: 32).ConfigureAwait(false);
        await Row(output, azurite, "queue delete", received.Count, i => queue.DeleteMessageAsync(received[i].MessageId, received[i].PopReceipt)).ConfigureAwait(false);
        await Row(output, azurite, "queue get on an empty queue (an idle poll)", count, _ => empty.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5))).ConfigureAwait(false);
        await Row(output, azurite, "table read of one entity (the definition)", count, _ => table.GetEntityIfExistsAsync<TableEntity>("def-model", "definition")).ConfigureAwait(false);
        await Row(output, azurite, $"blob put, {stateBytes:N0} bytes (a grain state)", count, i => blobs.GetBlobClient($"state-{i % 30}").UploadAsync(BinaryData.FromBytes(state), overwrite: true)).ConfigureAwait(false);
        output.WriteLine($"load average after: {AzuriteCeiling.LoadAverage()}");
        return 0;
    }

    private static async Task Row(TextWriter output, AzuriteServer azurite, string what, int count, Func<int, Task> operation, int perOperation = 1)
    {
        var cpu = AzuriteCeiling.CpuTime(azurite.ProcessId);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await operation(i).ConfigureAwait(false);
        }

        var ops = (double)count * perOperation;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {(AzuriteCeiling.CpuTime(azurite.ProcessId) - cpu).TotalMilliseconds / ops:0.00} | {clock.Elapsed.TotalMilliseconds / ops:0.00} |"));
    }
}
