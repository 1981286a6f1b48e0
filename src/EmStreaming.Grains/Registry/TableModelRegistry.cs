using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace EmStreaming.Grains.Registry;

/// <summary>
/// Definitions and idempotency answers in one Azure Table, shared by every silo of a cluster (<c>Storage:Provider=AzureStorage</c>).
/// Rows: a definition in partition <c>def:{id}</c> (one partition per model, since a partition's target is 2,000
/// entities/s and every append looks its definition up; ids are Table-safe by the model id rule), the generation counter
/// in <c>meta/generation</c>, answers in partition <c>ans:{id}</c> (row key = base64url of the idempotency key). Listing
/// is a range over the <c>def:</c> partitions, which the service returns in key order.
/// </summary>
/// <remarks>
/// Several silos write at once, so every change is optimistic: a definition is added (409 if another silo added it
/// first) or replaced with its ETag (412 if it changed meanwhile), the generation counter is incremented with its ETag,
/// and a lost race reads again. Nothing is cached: a silo must see a definition another silo just changed (the grain
/// reloads through whichever silo it lives on), so each lookup is one point read.
/// </remarks>
internal sealed class TableModelRegistry : IModelRegistry
{
    private const string DefinitionPrefix = "def:";
    private const string DefinitionRow = "";
    private const string MetaPartition = "meta";
    private const string GenerationRow = "generation";
    private const string AnswerPartitionPrefix = "ans:";
    private const int MaxTransaction = 100;

    private readonly TableClient _table;
    private readonly TimeProvider _timeProvider;
    private readonly Lazy<Task> _created;

    public TableModelRegistry(TableClient table, TimeProvider timeProvider)
    {
        _table = table;
        _timeProvider = timeProvider;
        _created = new Lazy<Task>(() => _table.CreateIfNotExistsAsync());
    }

    public async ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        var row = await _table.GetEntityIfExistsAsync<TableEntity>(DefinitionPrefix + id, DefinitionRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? ReadEntry(row.Value!) : null;
    }

    public async ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var row = await _table.GetEntityIfExistsAsync<TableEntity>(DefinitionPrefix + id, DefinitionRow, cancellationToken: cancellationToken).ConfigureAwait(false);
            var existing = row.HasValue ? ReadEntry(row.Value!) : null;
            if (existing is not null && (onlyIfAbsent || existing.Definition == definition))
            {
                return (PutModelOutcome.Unchanged, existing);
            }

            var generation = existing is not null && RegistryRules.SameShape(existing.Definition, definition)
                ? existing.Generation
                : await NextGenerationAsync(cancellationToken).ConfigureAwait(false);
            var entry = new RegistryEntry(id, definition, generation, existing?.CreatedAt ?? _timeProvider.GetUtcNow());
            var entity = new TableEntity(DefinitionPrefix + id, DefinitionRow)
            {
                ["Definition"] = JsonSerializer.Serialize(definition, RegistryRules.Json),
                ["Generation"] = generation,
                ["CreatedMs"] = entry.CreatedAt.ToUnixTimeMilliseconds(),
            };
            try
            {
                if (existing is null)
                {
                    await _table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _table.UpdateEntityAsync(entity, row.Value!.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412 or 404)
            {
                // Another silo created, changed or deleted it meanwhile: decide again on what is stored now.
                continue;
            }

            return (existing is null ? PutModelOutcome.Created : PutModelOutcome.Replaced, entry);
        }
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        var answers = new List<TableTransactionAction>();
        await foreach (var answer in _table.QueryAsync<TableEntity>(
            e => e.PartitionKey == AnswerPartitionPrefix + id, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            answers.Add(new TableTransactionAction(TableTransactionActionType.Delete, answer, ETag.All));
        }

        // One entity group transaction per 100 rows of the model's answer partition.
        foreach (var chunk in answers.Chunk(MaxTransaction))
        {
            await _table.SubmitTransactionAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        var deleted = await _table.DeleteEntityAsync(DefinitionPrefix + id, DefinitionRow, ETag.All, cancellationToken).ConfigureAwait(false);
        return deleted.Status != 404;
    }

    public async ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        // Ids are ASCII: every id starting with the prefix sorts at or after it and before the prefix's last char + 1;
        // ':' + 1 is ';', so the def: partitions end before "def;".
        var from = DefinitionPrefix + (after ?? string.Empty);
        var filter = TableClient.CreateQueryFilter($"PartitionKey gt {from} and PartitionKey lt {"def;"}");
        if (!string.IsNullOrEmpty(prefix))
        {
            var end = prefix[..^1] + (char)(prefix[^1] + 1);
            filter += " and " + TableClient.CreateQueryFilter($"PartitionKey ge {DefinitionPrefix + prefix} and PartitionKey lt {DefinitionPrefix + end}");
        }

        var list = new List<RegistryEntry>(Math.Min(limit, 1000));
        await foreach (var row in _table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit, 1000), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            list.Add(ReadEntry(row));
            if (list.Count == limit)
            {
                break;
            }
        }

        return list;
    }

    public async ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        var row = await _table.GetEntityIfExistsAsync<TableEntity>(AnswerPartitionPrefix + id, AnswerRow(key), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!row.HasValue)
        {
            return null;
        }

        var entity = row.Value!;
        return new StoredAnswer(
            ReadFingerprint(entity),
            entity.GetString("Answer") is { Length: > 0 } answer ? JsonSerializer.Deserialize<AppendResult>(answer, RegistryRules.Json)! : null,
            entity.GetString("Producer"),
            entity.GetInt64("Sequence") ?? 0);
    }

    /// <summary>
    /// <c>RequestFingerprint</c> (16 bytes, <see cref="RequestFingerprint"/>), or the 64-bit <c>RequestHash</c> of a row written
    /// before fingerprints (a build from before them reads a new row's missing hash as 0: a 409 for a retry, never a false match).
    /// </summary>
    private static RequestFingerprint ReadFingerprint(TableEntity entity) => entity.GetBinary("RequestFingerprint") is { } bytes
        ? RequestFingerprint.FromBytes(bytes)
        : RequestFingerprint.FromLegacy(unchecked((ulong)(entity.GetInt64("RequestHash") ?? 0)));

    public async ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A reservation is a row without an answer, with the record identity its request appends under; adding fails (409)
            // when the key has a row, whichever silo wrote it.
            var row = new TableEntity(AnswerPartitionPrefix + id, AnswerRow(key)) { ["RequestFingerprint"] = reservation.Request.ToBytes() };
            if (reservation.ProducerId is { } producer)
            {
                row["Producer"] = producer;
                row["Sequence"] = reservation.Sequence;
            }

            await _table.AddEntityAsync(row, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            return await GetAnswerAsync(id, key, cancellationToken).ConfigureAwait(false)
                ?? await ReserveAnswerAsync(id, key, reservation, cancellationToken).ConfigureAwait(false); // deleted meanwhile
        }
    }

    public async ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        await _table.UpsertEntityAsync(new TableEntity(AnswerPartitionPrefix + id, AnswerRow(key))
        {
            ["RequestFingerprint"] = answer.Request.ToBytes(),
            ["Answer"] = JsonSerializer.Serialize(answer.Result, RegistryRules.Json),
        }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> NextGenerationAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var row = await _table.GetEntityIfExistsAsync<TableEntity>(MetaPartition, GenerationRow, cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                if (!row.HasValue)
                {
                    await _table.AddEntityAsync(new TableEntity(MetaPartition, GenerationRow) { ["Value"] = 1L }, cancellationToken).ConfigureAwait(false);
                    return 1;
                }

                var next = (row.Value!.GetInt64("Value") ?? 0) + 1;
                await _table.UpdateEntityAsync(new TableEntity(MetaPartition, GenerationRow) { ["Value"] = next }, row.Value.ETag, TableUpdateMode.Replace, cancellationToken)
                    .ConfigureAwait(false);
                return next;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Another silo took this number: read the counter again.
            }
        }
    }

    /// <summary>Idempotency keys may hold characters Table keys forbid ('/', '#', '?', '\'): base64url of the UTF-8 bytes.</summary>
    private static string AnswerRow(string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private async Task EnsureTableAsync(CancellationToken cancellationToken) => await _created.Value.WaitAsync(cancellationToken).ConfigureAwait(false);

    private static RegistryEntry ReadEntry(TableEntity row) => new(
        row.PartitionKey[DefinitionPrefix.Length..],
        JsonSerializer.Deserialize<ModelDefinition>(row.GetString("Definition"), RegistryRules.Json)!,
        row.GetInt64("Generation") ?? 0,
        DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64("CreatedMs") ?? 0));
}
