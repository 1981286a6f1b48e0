using EmStreaming.Providers.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace EmStreaming.Providers.Storage;

/// <summary>
/// Orleans grain storage in the shared SQLite file (WAL). Writes and clears are group-committed: every write waiting when the
/// writer wakes goes into one IMMEDIATE transaction (one fsync), each with its own ETag check, so a thousand grains writing at
/// once cost a few commits. A write completes after its commit; a stale ETag fails that write alone with
/// <see cref="InconsistentStateException"/> and stores nothing. Each row carries a checksum of its payload.
/// </summary>
internal sealed class SqliteGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private const int MaxGroup = 512;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS grain_state (
            grain_id TEXT NOT NULL, state_name TEXT NOT NULL, etag TEXT NOT NULL, data BLOB NOT NULL,
            checksum INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
            PRIMARY KEY (grain_id, state_name)) WITHOUT ROWID;
        """;

    private readonly string _name;
    private readonly SqliteDatabase _database;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly object _openLock = new();
    private SqliteGroupWriter<Context>? _writer;
    private bool _disposed;

    public SqliteGrainStorage(
        string name, SqliteDatabase database, IGrainStorageSerializer serializer, IActivatorProvider activators, TimeProvider timeProvider, ILogger<SqliteGrainStorage> logger)
    {
        _activators = activators;
        _name = name;
        _database = database;
        _serializer = serializer;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Opens the file at silo start, so a corrupt file stops the start-up with <see cref="CorruptDataFileException"/>.</summary>
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(SqliteGrainStorage)}-{_name}", ServiceLifecycleStage.RuntimeInitialize, _ => { EnsureOpen(); return Task.CompletedTask; });

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        EnsureOpen();
        var (etag, data, checksum) = _database.Read(connection => ReadRow(connection, grainId, stateName));
        GrainStateRecords.Load(grainState, _serializer, _activators, _name, grainId, stateName, etag, data, checksum);
        return Task.CompletedTask;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var data = _serializer.Serialize(grainState.State).ToArray();
        var write = new Write(this, grainId, stateName, grainState.ETag, data);
        await Enqueue(write).ConfigureAwait(false);
        grainState.ETag = write.NewETag;
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await Enqueue(new Write(this, grainId, stateName, grainState.ETag, data: null)).ConfigureAwait(false);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = GrainStateRecords.Fresh<T>(_activators);
    }

    public async ValueTask DisposeAsync()
    {
        SqliteGroupWriter<Context>? writer;
        lock (_openLock)
        {
            _disposed = true;
            writer = _writer;
        }

        if (writer is not null)
        {
            await writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task Enqueue(Write write)
    {
        if (!EnsureOpen().TryEnqueue(write))
        {
            throw new ObjectDisposedException(nameof(SqliteGrainStorage));
        }

        return write.Completion.Task;
    }

    private SqliteGroupWriter<Context> EnsureOpen()
    {
        lock (_openLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_writer is null)
            {
                var connection = _database.Open();
                try
                {
                    _database.Guard(() =>
                    {
                        SqliteDatabase.Execute(connection, Schema);
                        return 0;
                    });
                    _writer = new SqliteGroupWriter<Context>(_database, connection, new Context(connection), MaxGroup, $"grain storage '{_name}'", _logger);
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            }

            return _writer;
        }
    }

    private static (string? ETag, byte[]? Data, long Checksum) ReadRow(SqliteConnection connection, GrainId grainId, string stateName)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT etag, data, checksum FROM grain_state WHERE grain_id = $id AND state_name = $name";
        command.Parameters.AddWithValue("$id", grainId.ToString());
        command.Parameters.AddWithValue("$name", stateName);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), (byte[])reader.GetValue(1), reader.GetInt64(2)) : (null, null, 0);
    }

    internal sealed class Context : ISqliteWriteContext, IDisposable
    {
        public Context(SqliteConnection connection)
        {
            Current = connection.CreateCommand();
            Current.CommandText = "SELECT etag FROM grain_state WHERE grain_id = $id AND state_name = $name";
            CurrentId = Current.Parameters.Add("$id", SqliteType.Text);
            CurrentName = Current.Parameters.Add("$name", SqliteType.Text);

            Upsert = connection.CreateCommand();
            Upsert.CommandText = """
                INSERT INTO grain_state (grain_id, state_name, etag, data, checksum, updated_ms) VALUES ($id, $name, $etag, $data, $checksum, $ts)
                ON CONFLICT (grain_id, state_name) DO UPDATE SET etag = excluded.etag, data = excluded.data, checksum = excluded.checksum, updated_ms = excluded.updated_ms
                """;
            UpsertId = Upsert.Parameters.Add("$id", SqliteType.Text);
            UpsertName = Upsert.Parameters.Add("$name", SqliteType.Text);
            UpsertETag = Upsert.Parameters.Add("$etag", SqliteType.Text);
            UpsertData = Upsert.Parameters.Add("$data", SqliteType.Blob);
            UpsertChecksum = Upsert.Parameters.Add("$checksum", SqliteType.Integer);
            UpsertTime = Upsert.Parameters.Add("$ts", SqliteType.Integer);

            Delete = connection.CreateCommand();
            Delete.CommandText = "DELETE FROM grain_state WHERE grain_id = $id AND state_name = $name";
            DeleteId = Delete.Parameters.Add("$id", SqliteType.Text);
            DeleteName = Delete.Parameters.Add("$name", SqliteType.Text);
        }

        public SqliteCommand Current { get; }
        public SqliteParameter CurrentId { get; }
        public SqliteParameter CurrentName { get; }
        public SqliteCommand Upsert { get; }
        public SqliteParameter UpsertId { get; }
        public SqliteParameter UpsertName { get; }
        public SqliteParameter UpsertETag { get; }
        public SqliteParameter UpsertData { get; }
        public SqliteParameter UpsertChecksum { get; }
        public SqliteParameter UpsertTime { get; }
        public SqliteCommand Delete { get; }
        public SqliteParameter DeleteId { get; }
        public SqliteParameter DeleteName { get; }

        public void BeginGroup()
        {
        }

        public void GroupCommitted()
        {
        }

        public void GroupRolledBack()
        {
        }

        public void Dispose()
        {
            Current.Dispose();
            Upsert.Dispose();
            Delete.Dispose();
        }
    }

    /// <summary>A write (data) or a clear (no data), checked against the ETag inside the group's transaction.</summary>
    private sealed class Write(SqliteGrainStorage owner, GrainId grainId, string stateName, string? expectedETag, byte[]? data) : SqliteWrite<Context>
    {
        private Exception? _refusal;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? NewETag { get; private set; }

        public override void Execute(Context context, SqliteTransaction transaction)
        {
            _refusal = null;
            var id = grainId.ToString();
            context.Current.Transaction = transaction;
            context.CurrentId.Value = id;
            context.CurrentName.Value = stateName;
            var current = context.Current.ExecuteScalar() as string;
            if (current != expectedETag)
            {
                _refusal = GrainStateRecords.Conflict(owner._name, grainId, stateName, expectedETag, current);
                return;
            }

            if (data is null)
            {
                context.Delete.Transaction = transaction;
                context.DeleteId.Value = id;
                context.DeleteName.Value = stateName;
                context.Delete.ExecuteNonQuery();
                return;
            }

            NewETag = GrainStateRecords.NewETag();
            context.Upsert.Transaction = transaction;
            context.UpsertId.Value = id;
            context.UpsertName.Value = stateName;
            context.UpsertETag.Value = NewETag;
            context.UpsertData.Value = data;
            context.UpsertChecksum.Value = GrainStateRecords.Checksum(data);
            context.UpsertTime.Value = SqliteDatabase.ToUnixMs(owner._timeProvider.GetUtcNow());
            context.Upsert.ExecuteNonQuery();
        }

        public override void Committed()
        {
            if (_refusal is not null)
            {
                Completion.TrySetException(_refusal);
            }
            else
            {
                Completion.TrySetResult();
            }
        }

        public override void Failed(Exception error) => Completion.TrySetException(error);
    }
}
