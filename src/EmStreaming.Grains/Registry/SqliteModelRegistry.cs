using System.Globalization;
using System.Text.Json;
using EmStreaming.Providers.Sqlite;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Grains.Registry;

/// <summary>
/// Definitions and idempotency answers in the silo's SQLite file (tables <c>em_models</c>, <c>em_answers</c>,
/// <c>em_meta</c>). Generations come from a persisted counter, so a deleted and re-created model never accepts its
/// predecessor's pending log entries.
/// </summary>
/// <remarks>
/// Definitions are cached in memory: every append and query looks its model up, and a SQLite read plus a JSON parse per
/// call was the largest per-batch cost under load. This process is the only writer of the file (the embedded silo), so
/// the cache is updated by <see cref="PutAsync"/> and <see cref="DeleteAsync"/>; a miss fills it only if no write
/// happened meanwhile (<see cref="_epoch"/>), so a read racing a delete cannot resurrect the entry.
/// </remarks>
internal sealed class SqliteModelRegistry : IModelRegistry
{
    private readonly string _connectionString;
    private readonly bool _fullSync;
    private readonly TimeProvider _timeProvider;
    // Writes of the registry by this process take turns; other writers of the file (the providers) are covered by busy_timeout.
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly Lock _cacheLock = new();
    private readonly Dictionary<string, RegistryEntry> _cache = new(StringComparer.Ordinal);
    private long _epoch;

    public SqliteModelRegistry(string databasePath, bool fullSync, TimeProvider timeProvider)
    {
        var fullPath = Path.GetFullPath(databasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = fullPath, Pooling = true, DefaultTimeout = 30 }.ToString();
        _fullSync = fullSync;
        _timeProvider = timeProvider;
        try
        {
            CreateTables();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26)
        {
            // SQLITE_CORRUPT / SQLITE_NOTADB: say which file, so the operator can move it aside (the server exits with code 2).
            throw new CorruptDataFileException(fullPath, e);
        }
    }

    private void CreateTables()
    {
        using var c = Open();
        using var create = c.CreateCommand();
        create.CommandText = """
            CREATE TABLE IF NOT EXISTS em_models (id TEXT PRIMARY KEY, definition TEXT NOT NULL, generation INTEGER NOT NULL, created_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS em_answers (id TEXT NOT NULL, key TEXT NOT NULL, request_hash INTEGER NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (id, key));
            CREATE TABLE IF NOT EXISTS em_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO em_meta (name, value) VALUES ('generation', 0);
            """;
        create.ExecuteNonQuery();
    }

    public ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(id, out var cached))
            {
                return ValueTask.FromResult<RegistryEntry?>(cached);
            }
        }

        return LoadAsync(id, cancellationToken);
    }

    private async ValueTask<RegistryEntry?> LoadAsync(string id, CancellationToken cancellationToken)
    {
        var epoch = Interlocked.Read(ref _epoch);
        var entry = await ReadAsync(id, cancellationToken).ConfigureAwait(false);
        if (entry is not null)
        {
            lock (_cacheLock)
            {
                if (_epoch == epoch)
                {
                    _cache[id] = entry;
                }
            }
        }

        return entry;
    }

    private async ValueTask<RegistryEntry?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        await using var c = Open();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, definition, generation, created_ms FROM em_models WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", id);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadEntry(reader) : null;
    }

    public async ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var existing = await ReadAsync(id, cancellationToken).ConfigureAwait(false);
            if (existing is not null && (onlyIfAbsent || existing.Definition == definition))
            {
                return (PutModelOutcome.Unchanged, existing);
            }

            await using var c = Open();
            await using var tx = c.BeginTransaction();
            var generation = existing is not null && RegistryRules.SameShape(existing.Definition, definition) ? existing.Generation : NextGeneration(c, tx);
            var entry = new RegistryEntry(id, definition, generation, existing?.CreatedAt ?? _timeProvider.GetUtcNow());
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR REPLACE INTO em_models (id, definition, generation, created_ms) VALUES ($id, $d, $g, $t)";
            cmd.Parameters.AddWithValue("$id", id);
            cmd.Parameters.AddWithValue("$d", JsonSerializer.Serialize(definition, RegistryRules.Json));
            cmd.Parameters.AddWithValue("$g", generation);
            cmd.Parameters.AddWithValue("$t", entry.CreatedAt.ToUnixTimeMilliseconds());
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            tx.Commit();
            lock (_cacheLock)
            {
                _epoch++;
                _cache[id] = entry;
            }

            return (existing is null ? PutModelOutcome.Created : PutModelOutcome.Replaced, entry);
        }
        finally
        {
            _write.Release();
        }
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var c = Open();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "DELETE FROM em_answers WHERE id = $id; DELETE FROM em_models WHERE id = $id; SELECT changes();";
            cmd.Parameters.AddWithValue("$id", id);
            var deleted = Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) > 0;
            lock (_cacheLock)
            {
                _epoch++;
                _cache.Remove(id);
            }

            return deleted;
        }
        finally
        {
            _write.Release();
        }
    }

    public async ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        await using var c = Open();
        await using var cmd = c.CreateCommand();
        // Prefix by range, not LIKE: ids may contain '_' (a LIKE wildcard) and the range uses the primary key.
        cmd.CommandText = "SELECT id, definition, generation, created_ms FROM em_models WHERE id > $after AND id >= $prefix AND ($prefix = '' OR substr(id, 1, length($prefix)) = $prefix) ORDER BY id LIMIT $limit";
        cmd.Parameters.AddWithValue("$after", after ?? string.Empty);
        cmd.Parameters.AddWithValue("$prefix", prefix ?? string.Empty);
        cmd.Parameters.AddWithValue("$limit", limit);
        var list = new List<RegistryEntry>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(ReadEntry(reader));
        }

        return list;
    }

    private const string ReservationPrefix = "reserved:";

    public async ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken)
    {
        await using var c = Open();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT request_hash, answer FROM em_answers WHERE id = $id AND key = $key";
        cmd.Parameters.AddWithValue("$id", id);
        cmd.Parameters.AddWithValue("$key", key);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? ReadAnswer(ReadFingerprint(reader), reader.GetString(1))
            : null;
    }

    public async ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A reservation is a row whose answer is empty or ReservationPrefix + its record identity; the insert is ignored when
            // the key has a row (the file's other writers too).
            await using var c = Open();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT OR IGNORE INTO em_answers (id, key, request_hash, answer) VALUES ($id, $key, $h, $a); SELECT changes();";
            cmd.Parameters.AddWithValue("$id", id);
            cmd.Parameters.AddWithValue("$key", key);
            cmd.Parameters.AddWithValue("$h", reservation.Request.ToBytes());
            cmd.Parameters.AddWithValue(
                "$a", reservation.ProducerId is { } producer ? string.Create(CultureInfo.InvariantCulture, $"{ReservationPrefix}{reservation.Sequence}:{producer}") : string.Empty);
            if (Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) == 1)
            {
                return null;
            }
        }
        finally
        {
            _write.Release();
        }

        return await GetAnswerAsync(id, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The request_hash column: a 16-byte BLOB (<see cref="RequestFingerprint"/>), or the 64-bit INTEGER hash rows written
    /// before fingerprints hold (the column's INTEGER affinity stores a BLOB as it is, so no migration is needed).
    /// </summary>
    private static RequestFingerprint ReadFingerprint(SqliteDataReader reader) => reader.GetValue(0) is byte[] bytes
        ? RequestFingerprint.FromBytes(bytes)
        : RequestFingerprint.FromLegacy(unchecked((ulong)reader.GetInt64(0)));

    /// <summary>An answer row: JSON of the result; a reservation is empty (no identity) or <c>reserved:{sequence}:{producer id}</c>.</summary>
    private static StoredAnswer ReadAnswer(RequestFingerprint requestHash, string answer)
    {
        if (answer.Length == 0)
        {
            return new StoredAnswer(requestHash, null);
        }

        if (answer.StartsWith(ReservationPrefix, StringComparison.Ordinal))
        {
            var colon = answer.IndexOf(':', ReservationPrefix.Length);
            return new StoredAnswer(
                requestHash, null, answer[(colon + 1)..], long.Parse(answer.AsSpan(ReservationPrefix.Length, colon - ReservationPrefix.Length), CultureInfo.InvariantCulture));
        }

        return new StoredAnswer(requestHash, JsonSerializer.Deserialize<AppendResult>(answer, RegistryRules.Json)!);
    }

    public async ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SaveAnswerUnderGateAsync(id, key, answer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _write.Release();
        }
    }

    private async ValueTask SaveAnswerUnderGateAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken)
    {
        await using var c = Open();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT OR REPLACE INTO em_answers (id, key, request_hash, answer) VALUES ($id, $key, $h, $a)";
        cmd.Parameters.AddWithValue("$id", id);
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$h", answer.Request.ToBytes());
        cmd.Parameters.AddWithValue("$a", JsonSerializer.Serialize(answer.Result, RegistryRules.Json));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static long NextGeneration(SqliteConnection c, SqliteTransaction tx)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE em_meta SET value = value + 1 WHERE name = 'generation'; SELECT value FROM em_meta WHERE name = 'generation';";
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    private static RegistryEntry ReadEntry(SqliteDataReader reader) => new(
        reader.GetString(0),
        JsonSerializer.Deserialize<ModelDefinition>(reader.GetString(1), RegistryRules.Json)!,
        reader.GetInt64(2),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));

    /// <summary>WAL (readers never block the writer), a 30 s busy timeout for the file's other writers, fsync per commit unless disabled.</summary>
    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var pragma = c.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA busy_timeout=30000; PRAGMA synchronous={(_fullSync ? "FULL" : "NORMAL")};";
        pragma.ExecuteNonQuery();
        return c;
    }
}
