using EmStreaming.Providers.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Providers.History;

/// <summary>
/// Snapshot history in the shared SQLite file. Appends and deletes are group-committed (one IMMEDIATE transaction per group,
/// numbering and retention inside it); listing reads the metadata columns only, never the bodies (stored last in the row,
/// so SQLite does not touch their overflow pages).
/// </summary>
internal sealed class SqliteSnapshotHistory : ISnapshotHistory, IAsyncDisposable
{
    private const int MaxGroup = 256;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS snapshot_history (
            grain_key TEXT NOT NULL, version INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL, observations INTEGER NOT NULL,
            reason TEXT, size INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (grain_key, version)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS snapshot_history_time ON snapshot_history (grain_key, timestamp_ms);
        """;

    private const string MetadataColumns = "version, timestamp_ms, observations, reason, size";

    private readonly SqliteDatabase _database;
    private readonly SnapshotHistoryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly SqliteGroupWriter<Context> _writer;

    public SqliteSnapshotHistory(SqliteDatabase database, SnapshotHistoryOptions options, TimeProvider timeProvider, ILogger<SqliteSnapshotHistory> logger)
    {
        if (SnapshotHistoryOptionsValidator.Check(options) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _database = database;
        _options = new SnapshotHistoryOptions { MaxVersions = options.MaxVersions, MaxAge = options.MaxAge };
        _timeProvider = timeProvider;
        var connection = database.Open();
        try
        {
            database.Guard(() =>
            {
                SqliteDatabase.Execute(connection, Schema);
                return 0;
            });
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        _writer = new SqliteGroupWriter<Context>(database, connection, new Context(connection), MaxGroup, "snapshot history", logger);
    }

    public async ValueTask<SnapshotVersion> AppendAsync(string grainKey, SnapshotAppend snapshot, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.Validate(grainKey, snapshot);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new Write(this, grainKey, snapshot with { Data = snapshot.Data.ToArray() });
        Enqueue(write);
        await write.Completion.Task.ConfigureAwait(false);
        return write.Stored;
    }

    public ValueTask<IReadOnlyList<SnapshotVersion>> ListAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        return ValueTask.FromResult(_database.Read<IReadOnlyList<SnapshotVersion>>(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {MetadataColumns} FROM snapshot_history WHERE grain_key = $key ORDER BY version";
            command.Parameters.AddWithValue("$key", grainKey);
            using var reader = command.ExecuteReader();
            var list = new List<SnapshotVersion>();
            while (reader.Read())
            {
                list.Add(ReadMetadata(reader));
            }

            return list;
        }));
    }

    public ValueTask<StoredSnapshot?> ReadVersionAsync(string grainKey, long version, CancellationToken cancellationToken = default) =>
        ReadOneAsync(grainKey, "AND version = $arg", version);

    public ValueTask<StoredSnapshot?> ReadAtAsync(string grainKey, DateTimeOffset time, CancellationToken cancellationToken = default) =>
        ReadOneAsync(grainKey, "AND timestamp_ms <= $arg ORDER BY version DESC LIMIT 1", SqliteDatabase.ToUnixMs(time));

    public async ValueTask DeleteAllAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new Write(this, grainKey, snapshot: null);
        Enqueue(write);
        await write.Completion.Task.ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    private void Enqueue(Write write)
    {
        if (!_writer.TryEnqueue(write))
        {
            throw new ObjectDisposedException(nameof(SqliteSnapshotHistory));
        }
    }

    private ValueTask<StoredSnapshot?> ReadOneAsync(string grainKey, string condition, long argument)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        return ValueTask.FromResult(_database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {MetadataColumns}, data FROM snapshot_history WHERE grain_key = $key {condition}";
            command.Parameters.AddWithValue("$key", grainKey);
            command.Parameters.AddWithValue("$arg", argument);
            using var reader = command.ExecuteReader();
            return reader.Read() ? new StoredSnapshot(ReadMetadata(reader), (byte[])reader.GetValue(5)) : null;
        }));
    }

    private static SnapshotVersion ReadMetadata(SqliteDataReader reader) => new(
        reader.GetInt64(0), SqliteDatabase.FromUnixMs(reader.GetInt64(1)), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4));

    internal sealed class Context(SqliteConnection connection) : ISqliteWriteContext
    {
        public SqliteConnection Connection { get; } = connection;

        public void BeginGroup()
        {
        }

        public void GroupCommitted()
        {
        }

        public void GroupRolledBack()
        {
        }
    }

    /// <summary>An append (snapshot) or a delete of the grain's history (no snapshot).</summary>
    private sealed class Write(SqliteSnapshotHistory owner, string grainKey, SnapshotAppend? snapshot) : SqliteWrite<Context>
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SnapshotVersion Stored { get; private set; }

        public override void Execute(Context context, SqliteTransaction transaction)
        {
            if (snapshot is null)
            {
                Run(context, transaction, "DELETE FROM snapshot_history WHERE grain_key = $key", null);
                return;
            }

            using var last = Command(context, transaction, "SELECT MAX(version) FROM snapshot_history WHERE grain_key = $key");
            var version = (last.ExecuteScalar() as long? ?? 0) + 1;
            var now = SnapshotTime.Truncate(owner._timeProvider.GetUtcNow());
            Stored = new SnapshotVersion(version, now, snapshot.Observations, snapshot.Reason, snapshot.Data.Length);
            Run(context, transaction, """
                INSERT INTO snapshot_history (grain_key, version, timestamp_ms, observations, reason, size, data)
                VALUES ($key, $version, $ts, $observations, $reason, $size, $data)
                """, command =>
            {
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$ts", SqliteDatabase.ToUnixMs(now));
                command.Parameters.AddWithValue("$observations", snapshot.Observations);
                command.Parameters.AddWithValue("$reason", (object?)snapshot.Reason ?? DBNull.Value);
                command.Parameters.AddWithValue("$size", snapshot.Data.Length);
                command.Parameters.AddWithValue("$data", snapshot.Data.ToArray());
            });
            Run(context, transaction, """
                DELETE FROM snapshot_history WHERE grain_key = $key AND version < $version
                  AND (version <= $version - $max OR timestamp_ms < $cutoff)
                """, command =>
            {
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$max", snapshot.RetainedVersions(owner._options));
                command.Parameters.AddWithValue("$cutoff", SqliteDatabase.ToUnixMs(now - owner._options.MaxAge));
            });
        }

        public override void Committed() => Completion.TrySetResult();

        public override void Failed(Exception error) => Completion.TrySetException(error);

        private SqliteCommand Command(Context context, SqliteTransaction transaction, string sql)
        {
            var command = context.Connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$key", grainKey);
            return command;
        }

        private void Run(Context context, SqliteTransaction transaction, string sql, Action<SqliteCommand>? bind)
        {
            using var command = Command(context, transaction, sql);
            bind?.Invoke(command);
            command.ExecuteNonQuery();
        }
    }
}
