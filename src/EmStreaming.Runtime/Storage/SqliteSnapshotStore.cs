using EmStreaming.Runtime.Sqlite;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Runtime.Storage;

/// <summary>Snapshot store in the shared SQLite file. Writes run in an IMMEDIATE transaction so the ETag check and the insert are atomic.</summary>
internal sealed class SqliteSnapshotStore : ISnapshotStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS snapshots (
            grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, version INTEGER NOT NULL, etag TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL, checkpoint TEXT NOT NULL, tag TEXT, data BLOB NOT NULL,
            PRIMARY KEY (grain_type, grain_key, version)) WITHOUT ROWID;
        """;

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SqliteConnection _connection;
    private bool _disposed;

    public SqliteSnapshotStore(SqliteOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = new SqliteDatabase(options);
        _timeProvider = timeProvider;
        _connection = _database.Open();
        SqliteDatabase.Execute(_connection, Schema);
    }

    public ValueTask<GrainSnapshot?> ReadAsync(GrainId id, CancellationToken cancellationToken = default) =>
        QueryOneAsync(id, "ORDER BY version DESC LIMIT 1", null, cancellationToken);

    public ValueTask<GrainSnapshot?> ReadVersionAsync(GrainId id, long version, CancellationToken cancellationToken = default) =>
        QueryOneAsync(id, "AND version = $arg", version, cancellationToken);

    public ValueTask<GrainSnapshot?> ReadAtAsync(GrainId id, DateTimeOffset time, CancellationToken cancellationToken = default) =>
        QueryOneAsync(id, "AND timestamp_ms <= $arg ORDER BY version DESC LIMIT 1", SqliteDatabase.ToUnixMs(time), cancellationToken);

    public async ValueTask<GrainSnapshot> WriteAsync(GrainId id, SnapshotWrite write, string? expectedETag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        Validate(id);
        var checkpoint = SnapshotETag.Copy(write.Checkpoint);
        var tag = write.ValidatedTag;
        var retention = write.Retention ?? SnapshotRetention.Default;
        var data = write.Data.ToArray();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _timeProvider.GetUtcNow();
            using var transaction = _connection.BeginTransaction(deferred: false);
            var (version, etag) = Current(id, transaction);
            if (etag != expectedETag)
            {
                throw new InconsistentStateException(id, expectedETag, etag);
            }

            var snapshot = new GrainSnapshot(id, version + 1, SnapshotETag.New(), now, data, checkpoint, tag);
            using (var insert = Command("""
                INSERT INTO snapshots (grain_type, grain_key, version, etag, timestamp_ms, checkpoint, tag, data)
                VALUES ($type, $key, $version, $etag, $ts, $checkpoint, $tag, $data)
                """, id, transaction))
            {
                insert.Parameters.AddWithValue("$version", snapshot.Version);
                insert.Parameters.AddWithValue("$etag", snapshot.ETag);
                insert.Parameters.AddWithValue("$ts", SqliteDatabase.ToUnixMs(now));
                insert.Parameters.AddWithValue("$checkpoint", SnapshotETag.Encode(checkpoint));
                insert.Parameters.AddWithValue("$tag", (object?)tag ?? DBNull.Value);
                insert.Parameters.AddWithValue("$data", data);
                insert.ExecuteNonQuery();
            }

            using (var prune = Command("""
                DELETE FROM snapshots WHERE grain_type = $type AND grain_key = $key AND version < $version
                  AND (version <= $version - $max OR timestamp_ms < $cutoff)
                """, id, transaction))
            {
                prune.Parameters.AddWithValue("$version", snapshot.Version);
                prune.Parameters.AddWithValue("$max", retention.MaxVersions);
                prune.Parameters.AddWithValue("$cutoff", SqliteDatabase.ToUnixMs(now - retention.MaxAge));
                prune.ExecuteNonQuery();
            }

            transaction.Commit();
            return snapshot;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask<IReadOnlyList<SnapshotHistoryEntry>> ListHistoryAsync(GrainId id, CancellationToken cancellationToken = default)
    {
        Validate(id);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command(
                "SELECT version, timestamp_ms, length(data), tag FROM snapshots WHERE grain_type = $type AND grain_key = $key ORDER BY version", id, null);
            using var reader = command.ExecuteReader();
            var history = new List<SnapshotHistoryEntry>();
            while (reader.Read())
            {
                history.Add(new SnapshotHistoryEntry(
                    reader.GetInt64(0), SqliteDatabase.FromUnixMs(reader.GetInt64(1)), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }

            return history;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DeleteAsync(GrainId id, string? expectedETag, CancellationToken cancellationToken = default)
    {
        Validate(id);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _connection.BeginTransaction(deferred: false);
            var (_, etag) = Current(id, transaction);
            if (etag != expectedETag)
            {
                throw new InconsistentStateException(id, expectedETag, etag);
            }

            using var delete = Command("DELETE FROM snapshots WHERE grain_type = $type AND grain_key = $key", id, transaction);
            delete.ExecuteNonQuery();
            transaction.Commit();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_disposed)
            {
                _disposed = true;
                _connection.Dispose();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static void Validate(GrainId id)
    {
        // default(GrainId) carries nulls: reject it before it reaches SQL.
        GrainKey.Validate(id.Type, "grain type");
        GrainKey.Validate(id.Key, "grain key");
    }

    private async ValueTask<GrainSnapshot?> QueryOneAsync(GrainId id, string condition, long? argument, CancellationToken cancellationToken)
    {
        Validate(id);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = Command(
                $"SELECT version, etag, timestamp_ms, checkpoint, data, tag FROM snapshots WHERE grain_type = $type AND grain_key = $key {condition}", id, null);
            if (argument is { } value)
            {
                command.Parameters.AddWithValue("$arg", value);
            }

            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            return new GrainSnapshot(
                id, reader.GetInt64(0), reader.GetString(1), SqliteDatabase.FromUnixMs(reader.GetInt64(2)),
                (byte[])reader.GetValue(4), SnapshotETag.Decode(reader.GetString(3)), reader.IsDBNull(5) ? null : reader.GetString(5));
        }
        finally
        {
            _gate.Release();
        }
    }

    private (long Version, string? ETag) Current(GrainId id, SqliteTransaction transaction)
    {
        using var command = Command(
            "SELECT version, etag FROM snapshots WHERE grain_type = $type AND grain_key = $key ORDER BY version DESC LIMIT 1", id, transaction);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetString(1)) : (0, null);
    }

    private SqliteCommand Command(string sql, GrainId id, SqliteTransaction? transaction)
    {
        var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$type", id.Type);
        command.Parameters.AddWithValue("$key", id.Key);
        return command;
    }
}
