using System.Globalization;
using EmStreaming.Providers.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace EmStreaming.Providers.Streams;

/// <summary>
/// The durable log in the shared SQLite file (WAL). One writer loop owns all writes and commits every waiting append in one
/// transaction (group commit), so many producers share one fsync; an append completes after its commit. Entries committed in
/// this session and not yet read are also kept in memory per queue, so the receiver reads them without querying SQLite;
/// replays of entries from before the open (after a restart) come from SQLite.
/// </summary>
internal sealed class SqliteStreamLog : IStreamLog
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS orleans_stream_meta (log TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (log, name)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS orleans_stream_log (
            log TEXT NOT NULL, queue INTEGER NOT NULL, position INTEGER NOT NULL, namespace BLOB NOT NULL, key BLOB NOT NULL,
            timestamp_ms INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (log, queue, position)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS orleans_stream_checkpoints (log TEXT NOT NULL, queue INTEGER NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (log, queue)) WITHOUT ROWID;
        """;

    private readonly string _log;
    private readonly LogStreamOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly SqliteDatabase _database;
    private readonly QueueFlow[] _flows;
    private readonly long[] _assigned;    // writer loop only (after open)
    private readonly long[] _committed;   // read with Volatile
    private readonly long[] _checkpoints; // writer loop only (after open)
    private readonly long[] _durableCheckpoints; // read with Volatile
    private readonly Queue<LogEntry>[] _tails;
    private readonly AppendBells _bells;
    private readonly SqliteGroupWriter<Context> _writer;
    private int _disposed;

    public SqliteStreamLog(string provider, SqliteDatabase database, LogStreamOptions options, TimeProvider timeProvider, ILogger logger)
    {
        _log = provider;
        _options = options.Clone();
        _timeProvider = timeProvider;
        _database = database;
        var count = _options.Queues;
        _flows = new QueueFlow[count];
        _assigned = new long[count];
        _committed = new long[count];
        _checkpoints = new long[count];
        _durableCheckpoints = new long[count];
        _tails = new Queue<LogEntry>[count];
        _bells = new AppendBells(count);
        var connection = database.Open();
        try
        {
            database.Guard(() => Initialise(connection, count));
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        for (var i = 0; i < count; i++)
        {
            _flows[i] = new QueueFlow(provider, i, _options.QueueCapacity, _assigned[i]);
            _tails[i] = new Queue<LogEntry>();
        }

        _writer = new SqliteGroupWriter<Context>(database, connection, new Context(this, connection), _options.MaxGroupCommitSize, $"stream log '{provider}'", logger);
    }

    public int QueueCount => _flows.Length;

    public async ValueTask<long> AppendAsync(int queue, StreamId stream, byte[] payload, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var flow = Flow(queue);
        await flow.ReserveAsync(_options.AppendTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        var append = new Append(this, queue, stream, payload);
        if (!_writer.TryEnqueue(append))
        {
            flow.ReleaseUnused();
            throw new ObjectDisposedException(nameof(SqliteStreamLog));
        }

        // Once queued, the append is committed or fails as a whole; cancellation only applies while waiting for room.
        return await append.Completion.Task.ConfigureAwait(false);
    }

    public IReadOnlyList<LogEntry> Read(int queue, long afterPosition, int maxCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Flow(queue);
        if (Volatile.Read(ref _committed[queue]) <= afterPosition)
        {
            return [];
        }

        return ReadTail(queue, afterPosition, maxCount) ?? _database.Read(connection => Query(connection, queue, afterPosition, maxCount));
    }

    public Task<bool> WaitForEntriesAsync(int queue, long afterPosition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var flow = Flow(queue);
        var bell = _bells.Current(queue);
        return Volatile.Read(ref _committed[queue]) > afterPosition ? Task.FromResult(true)
            : flow.HasRoom ? AppendBells.WaitAsync(bell, timeout, cancellationToken)
            : Task.FromResult(false);
    }

    public IReadOnlyList<LogEntry> ReadStream(int queue, StreamId stream, long afterPosition)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Flow(queue);
        // Committed entries are all in SQLite (the in-memory tail only saves the receiver a query).
        return _database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT position, timestamp_ms, payload FROM orleans_stream_log
                WHERE log = $log AND queue = $q AND position > $after AND namespace = $ns AND key = $key ORDER BY position
                """;
            command.Parameters.AddWithValue("$log", _log);
            command.Parameters.AddWithValue("$q", queue);
            command.Parameters.AddWithValue("$after", afterPosition);
            command.Parameters.AddWithValue("$ns", stream.Namespace.ToArray());
            command.Parameters.AddWithValue("$key", stream.Key.ToArray());
            using var reader = command.ExecuteReader();
            var items = new List<LogEntry>();
            while (reader.Read())
            {
                items.Add(new LogEntry(stream, reader.GetInt64(0), SqliteDatabase.FromUnixMs(reader.GetInt64(1)), (byte[])reader.GetValue(2)));
            }

            return items;
        });
    }

    public void Acknowledge(int queue, long position) => Flow(queue).Acknowledge(position);

    public long GetCheckpoint(int queue)
    {
        Flow(queue);
        return Volatile.Read(ref _durableCheckpoints[queue]);
    }

    public async ValueTask CommitCheckpointAsync(int queue, long position, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Flow(queue);
        var checkpoint = new Checkpoint(queue, position);
        if (!_writer.TryEnqueue(checkpoint))
        {
            throw new ObjectDisposedException(nameof(SqliteStreamLog));
        }

        await checkpoint.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public long Count(int queue)
    {
        Flow(queue);
        return _database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM orleans_stream_log WHERE log = $log AND queue = $q";
            command.Parameters.AddWithValue("$log", _log);
            command.Parameters.AddWithValue("$q", queue);
            return (long)command.ExecuteScalar()!;
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private QueueFlow Flow(int queue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, _flows.Length);
        return _flows[queue];
    }

    private int Initialise(SqliteConnection connection, int count)
    {
        using var transaction = connection.BeginTransaction();
        SqliteDatabase.Execute(connection, Schema, transaction);
        var countText = count.ToString(CultureInfo.InvariantCulture);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT value FROM orleans_stream_meta WHERE log = $log AND name = 'queue_count'";
            command.Parameters.AddWithValue("$log", _log);
            var stored = command.ExecuteScalar() as string;
            if (stored is null)
            {
                command.CommandText = "INSERT INTO orleans_stream_meta (log, name, value) VALUES ($log, 'queue_count', $c)";
                command.Parameters.AddWithValue("$c", countText);
                command.ExecuteNonQuery();
            }
            else if (stored != countText)
            {
                throw new InvalidOperationException(
                    $"The stream log '{_log}' in '{_database.Path}' was created with {stored} queues but Streams:Queues is {count}. " +
                    "Positions and stream placement are per queue, so the count cannot change for an existing log.");
            }
        }

        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            // Positions must never go backwards, even when every entry of a queue has been trimmed.
            command.CommandText = """
                SELECT q, MAX(pos) FROM (
                    SELECT queue AS q, MAX(position) AS pos FROM orleans_stream_log WHERE log = $log GROUP BY queue
                    UNION ALL SELECT queue, position FROM orleans_stream_checkpoints WHERE log = $log) GROUP BY q
                """;
            command.Parameters.AddWithValue("$log", _log);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var q = reader.GetInt32(0);
                if (q < count)
                {
                    _assigned[q] = reader.GetInt64(1);
                    _committed[q] = _assigned[q];
                }
            }
        }

        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT queue, position FROM orleans_stream_checkpoints WHERE log = $log";
            command.Parameters.AddWithValue("$log", _log);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var q = reader.GetInt32(0);
                if (q < count)
                {
                    _checkpoints[q] = reader.GetInt64(1);
                    _durableCheckpoints[q] = _checkpoints[q];
                }
            }
        }

        transaction.Commit();
        return 0;
    }

    private List<LogEntry>? ReadTail(int queue, long afterPosition, int maxCount)
    {
        var tail = _tails[queue];
        lock (tail)
        {
            while (tail.Count > 0 && tail.Peek().Position <= afterPosition)
            {
                tail.Dequeue();
            }

            if (tail.Count == 0 || tail.Peek().Position != afterPosition + 1)
            {
                return null;
            }

            var items = new List<LogEntry>(Math.Min(maxCount, tail.Count));
            foreach (var item in tail)
            {
                if (items.Count == maxCount)
                {
                    break;
                }

                items.Add(item);
            }

            return items;
        }
    }

    private List<LogEntry> Query(SqliteConnection connection, int queue, long afterPosition, int maxCount)
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT position, namespace, key, timestamp_ms, payload FROM orleans_stream_log
            WHERE log = $log AND queue = $q AND position > $after ORDER BY position LIMIT $n
            """;
        command.Parameters.AddWithValue("$log", _log);
        command.Parameters.AddWithValue("$q", queue);
        command.Parameters.AddWithValue("$after", afterPosition);
        command.Parameters.AddWithValue("$n", maxCount);
        using var reader = command.ExecuteReader();
        var items = new List<LogEntry>();
        while (reader.Read())
        {
            var stream = StreamId.Create((byte[])reader.GetValue(1), (byte[])reader.GetValue(2));
            items.Add(new LogEntry(stream, reader.GetInt64(0), SqliteDatabase.FromUnixMs(reader.GetInt64(3)), (byte[])reader.GetValue(4)));
        }

        return items;
    }

    /// <summary>The writer's prepared commands and the in-memory bookkeeping done around each group.</summary>
    internal sealed class Context : ISqliteWriteContext, IDisposable
    {
        private readonly SqliteStreamLog _log;
        private readonly long[] _savedAssigned;
        private readonly long[] _savedCheckpoints;
        private readonly List<Write> _group = [];

        public Context(SqliteStreamLog log, SqliteConnection connection)
        {
            _log = log;
            _savedAssigned = new long[log._assigned.Length];
            _savedCheckpoints = new long[log._checkpoints.Length];
            Insert = connection.CreateCommand();
            Insert.CommandText = "INSERT INTO orleans_stream_log (log, queue, position, namespace, key, timestamp_ms, payload) VALUES ($log, $q, $pos, $ns, $key, $ts, $payload)";
            Insert.Parameters.AddWithValue("$log", log._log);
            InsertQueue = Insert.Parameters.Add("$q", SqliteType.Integer);
            InsertPosition = Insert.Parameters.Add("$pos", SqliteType.Integer);
            InsertNamespace = Insert.Parameters.Add("$ns", SqliteType.Blob);
            InsertKey = Insert.Parameters.Add("$key", SqliteType.Blob);
            InsertTimestamp = Insert.Parameters.Add("$ts", SqliteType.Integer);
            InsertPayload = Insert.Parameters.Add("$payload", SqliteType.Blob);
            Trim = connection.CreateCommand();
            Trim.CommandText = """
                DELETE FROM orleans_stream_log WHERE log = $log AND queue = $q AND position <= $pos;
                INSERT INTO orleans_stream_checkpoints (log, queue, position) VALUES ($log, $q, $pos)
                  ON CONFLICT (log, queue) DO UPDATE SET position = excluded.position;
                """;
            Trim.Parameters.AddWithValue("$log", log._log);
            TrimQueue = Trim.Parameters.Add("$q", SqliteType.Integer);
            TrimPosition = Trim.Parameters.Add("$pos", SqliteType.Integer);
        }

        public SqliteStreamLog Log => _log;
        public DateTimeOffset Timestamp { get; private set; }
        public SqliteCommand Insert { get; }
        public SqliteParameter InsertQueue { get; }
        public SqliteParameter InsertPosition { get; }
        public SqliteParameter InsertNamespace { get; }
        public SqliteParameter InsertKey { get; }
        public SqliteParameter InsertTimestamp { get; }
        public SqliteParameter InsertPayload { get; }
        public SqliteCommand Trim { get; }
        public SqliteParameter TrimQueue { get; }
        public SqliteParameter TrimPosition { get; }

        public void Executed(Write write) => _group.Add(write);

        public void BeginGroup()
        {
            _group.Clear();
            Array.Copy(_log._assigned, _savedAssigned, _savedAssigned.Length);
            Array.Copy(_log._checkpoints, _savedCheckpoints, _savedCheckpoints.Length);
            // Millisecond precision, as stored, so a replayed entry carries the same timestamp as the first delivery.
            Timestamp = SqliteDatabase.FromUnixMs(SqliteDatabase.ToUnixMs(_log._timeProvider.GetUtcNow()));
            InsertTimestamp.Value = SqliteDatabase.ToUnixMs(Timestamp);
        }

        public void GroupCommitted()
        {
            foreach (var write in _group)
            {
                var tail = _log._tails[write.Queue];
                lock (tail)
                {
                    if (write is Append append)
                    {
                        tail.Enqueue(new LogEntry(append.Stream, append.Position, Timestamp, append.Payload));
                    }
                    else
                    {
                        // Trimmed entries must not be served from memory either.
                        while (tail.Count > 0 && tail.Peek().Position <= _log._checkpoints[write.Queue])
                        {
                            tail.Dequeue();
                        }

                        Volatile.Write(ref _log._durableCheckpoints[write.Queue], _log._checkpoints[write.Queue]);
                    }
                }
            }

            for (var q = 0; q < _savedAssigned.Length; q++)
            {
                if (_log._assigned[q] != _savedAssigned[q])
                {
                    Volatile.Write(ref _log._committed[q], _log._assigned[q]);
                    _log._bells.Ring(q);
                }
            }

            _group.Clear();
        }

        public void GroupRolledBack()
        {
            // Nothing of the group is durable: give positions back so they stay dense (each append gives back its slot in Failed).
            Array.Copy(_savedAssigned, _log._assigned, _savedAssigned.Length);
            Array.Copy(_savedCheckpoints, _log._checkpoints, _savedCheckpoints.Length);
            _group.Clear();
        }

        public void Dispose()
        {
            Insert.Dispose();
            Trim.Dispose();
        }
    }

    internal abstract class Write(int queue) : SqliteWrite<Context>
    {
        public int Queue { get; } = queue;

        public TaskCompletionSource<long> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Failed(Exception error) => Completion.TrySetException(error);
    }

    internal sealed class Append(SqliteStreamLog owner, int queue, StreamId stream, byte[] payload) : Write(queue)
    {
        public StreamId Stream { get; } = stream;
        public byte[] Payload { get; } = payload;
        public long Position { get; private set; }

        public override void Execute(Context context, SqliteTransaction transaction)
        {
            context.Executed(this);
            Position = ++context.Log._assigned[Queue];
            context.Insert.Transaction = transaction;
            context.InsertQueue.Value = Queue;
            context.InsertPosition.Value = Position;
            context.InsertNamespace.Value = Stream.Namespace.ToArray();
            context.InsertKey.Value = Stream.Key.ToArray();
            context.InsertPayload.Value = Payload;
            context.Insert.ExecuteNonQuery();
        }

        public override void Committed() => Completion.TrySetResult(Position);

        public override void Failed(Exception error)
        {
            owner._flows[Queue].ReleaseUnused();
            base.Failed(error);
        }
    }

    internal sealed class Checkpoint(int queue, long position) : Write(queue)
    {
        public override void Execute(Context context, SqliteTransaction transaction)
        {
            context.Executed(this);
            var log = context.Log;
            var target = Math.Min(position, log._assigned[Queue]);
            if (target <= log._checkpoints[Queue])
            {
                return;
            }

            log._checkpoints[Queue] = target;
            context.Trim.Transaction = transaction;
            context.TrimQueue.Value = Queue;
            context.TrimPosition.Value = target;
            context.Trim.ExecuteNonQuery();
        }

        public override void Committed() => Completion.TrySetResult(position);
    }
}
