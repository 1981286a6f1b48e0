using EmStreaming.Runtime.Sqlite;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Runtime.Storage;

/// <summary>
/// Snapshot store in the shared SQLite file. Writes are group-committed by one writer loop in an IMMEDIATE transaction, so each
/// ETag check and its insert are atomic and concurrent writers share one fsync.
/// </summary>
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
    private const int MaxGroup = 512;

    private readonly SqliteConnection _connection;
    private readonly Channel<WriteRequest> _writes = Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writerLoop;
    private bool _disposed;

    public SqliteSnapshotStore(SqliteOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = new SqliteDatabase(options);
        _timeProvider = timeProvider;
        _connection = _database.Open();
        SqliteDatabase.Execute(_connection, Schema);
        _writerLoop = Task.Run(WriterLoopAsync);
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
        cancellationToken.ThrowIfCancellationRequested();
        var request = new WriteRequest(id, write.Data.ToArray(), SnapshotETag.Copy(write.Checkpoint), write.ValidatedTag, write.Retention ?? SnapshotRetention.Default, expectedETag);
        if (!_writes.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(SqliteSnapshotStore));
        }

        // Once queued the write is committed or fails as a whole; cancellation only stops waiting before that.
        return await request.Completion.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Group commit: every write waiting when the loop wakes goes into one IMMEDIATE transaction (one fsync), each with its
    /// own ETag check, so a thousand grains snapshotting at once cost a few commits instead of a thousand. A write whose ETag
    /// does not match fails alone; a SQLite error fails the whole group (nothing of it is stored).
    /// </summary>
    private async Task WriterLoopAsync()
    {
        var reader = _writes.Reader;
        var group = new List<WriteRequest>(MaxGroup);
        var results = new List<(WriteRequest Request, GrainSnapshot? Snapshot, Exception? Error)>(MaxGroup);
        var fileGate = SqliteWriteGate.For(_database.Path);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await fileGate.WaitAsync().ConfigureAwait(false);
            await _gate.WaitAsync().ConfigureAwait(false);
            group.Clear();
            results.Clear();
            while (group.Count < MaxGroup && reader.TryRead(out var request))
            {
                group.Add(request);
            }

            try
            {
                if (_disposed)
                {
                    throw new ObjectDisposedException(nameof(SqliteSnapshotStore));
                }

                var now = _timeProvider.GetUtcNow();
                using var transaction = _connection.BeginTransaction(deferred: false);
                foreach (var request in group)
                {
                    var (version, etag) = Current(request.Id, transaction);
                    if (etag != request.ExpectedETag)
                    {
                        results.Add((request, null, new InconsistentStateException(request.Id, request.ExpectedETag, etag)));
                        continue;
                    }

                    var snapshot = new GrainSnapshot(request.Id, version + 1, SnapshotETag.New(), now, request.Data, request.Checkpoint, request.Tag);
                    Insert(snapshot, request.Data, request.Retention, now, transaction);
                    results.Add((request, snapshot, null));
                }

                transaction.Commit();
            }
            catch (Exception ex)
            {
                foreach (var request in group)
                {
                    request.Completion.TrySetException(ex);
                }

                continue;
            }
            finally
            {
                _gate.Release();
                fileGate.Release();
            }

            foreach (var (request, snapshot, error) in results)
            {
                if (error is not null)
                {
                    request.Completion.TrySetException(error);
                }
                else
                {
                    request.Completion.TrySetResult(snapshot!);
                }
            }
        }
    }

    private void Insert(GrainSnapshot snapshot, byte[] data, SnapshotRetention retention, DateTimeOffset now, SqliteTransaction transaction)
    {
        using (var insert = Command("""
            INSERT INTO snapshots (grain_type, grain_key, version, etag, timestamp_ms, checkpoint, tag, data)
            VALUES ($type, $key, $version, $etag, $ts, $checkpoint, $tag, $data)
            """, snapshot.Id, transaction))
        {
            insert.Parameters.AddWithValue("$version", snapshot.Version);
            insert.Parameters.AddWithValue("$etag", snapshot.ETag);
            insert.Parameters.AddWithValue("$ts", SqliteDatabase.ToUnixMs(now));
            insert.Parameters.AddWithValue("$checkpoint", SnapshotETag.Encode(snapshot.Checkpoint));
            insert.Parameters.AddWithValue("$tag", (object?)snapshot.Tag ?? DBNull.Value);
            insert.Parameters.AddWithValue("$data", data);
            insert.ExecuteNonQuery();
        }

        using var prune = Command("""
            DELETE FROM snapshots WHERE grain_type = $type AND grain_key = $key AND version < $version
              AND (version <= $version - $max OR timestamp_ms < $cutoff)
            """, snapshot.Id, transaction);
        prune.Parameters.AddWithValue("$version", snapshot.Version);
        prune.Parameters.AddWithValue("$max", retention.MaxVersions);
        prune.Parameters.AddWithValue("$cutoff", SqliteDatabase.ToUnixMs(now - retention.MaxAge));
        prune.ExecuteNonQuery();
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
        var fileGate = SqliteWriteGate.For(_database.Path);
        await fileGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DeleteUnderFileGateAsync(id, expectedETag, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            fileGate.Release();
        }
    }

    private async ValueTask DeleteUnderFileGateAsync(GrainId id, string? expectedETag, CancellationToken cancellationToken)
    {
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
        // Writes already queued are committed before the connection closes.
        _writes.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
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

    private sealed class WriteRequest(GrainId id, byte[] data, IReadOnlyDictionary<string, long> checkpoint, string? tag, SnapshotRetention retention, string? expectedETag)
    {
        public GrainId Id { get; } = id;
        public byte[] Data { get; } = data;
        public IReadOnlyDictionary<string, long> Checkpoint { get; } = checkpoint;
        public string? Tag { get; } = tag;
        public SnapshotRetention Retention { get; } = retention;
        public string? ExpectedETag { get; } = expectedETag;
        public TaskCompletionSource<GrainSnapshot> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
