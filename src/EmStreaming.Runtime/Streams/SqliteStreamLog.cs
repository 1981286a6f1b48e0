using System.Threading.Channels;
using EmStreaming.Runtime.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Runtime.Streams;

/// <summary>
/// Durable stream log in SQLite (WAL). One writer loop owns all writes: it drains the queue of pending appends and commits
/// them in one transaction (group commit), so many concurrent producers share one fsync. An append completes after its commit.
/// </summary>
internal sealed class SqliteStreamLog : IStreamLog
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS stream_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS stream_log (
            partition INTEGER NOT NULL, position INTEGER NOT NULL, namespace TEXT NOT NULL, key TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (partition, position)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS stream_checkpoints (partition INTEGER PRIMARY KEY, position INTEGER NOT NULL);
        """;

    private readonly StreamOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly SqliteDatabase _database;
    private readonly SqliteConnection _writer;
    private readonly Channel<WriteRequest> _requests = Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PartitionFlow[] _flows;
    private readonly long[] _assigned;   // writer loop only
    private readonly long[] _committed;  // read with Volatile
    private readonly long[] _checkpoints; // writer loop only after open

    // Entries committed in this session and not yet read past, per partition: the agent reads them from memory instead of
    // querying SQLite. Bounded by the partition capacity, since unacknowledged entries hold a producer slot. Replays of entries
    // from before the open go to SQLite.
    private readonly Queue<StreamItem>[] _tails;
    private readonly Task _writerLoop;
    private int _disposed;

    public SqliteStreamLog(SqliteOptions sqliteOptions, StreamOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Clone();
        _timeProvider = timeProvider;
        _logger = logger;
        _database = new SqliteDatabase(sqliteOptions);
        _writer = _database.Open();
        var count = _options.PartitionCount;
        _flows = new PartitionFlow[count];
        _assigned = new long[count];
        _committed = new long[count];
        _checkpoints = new long[count];
        _tails = new Queue<StreamItem>[count];
        try
        {
            Initialise(count);
        }
        catch
        {
            _writer.Dispose();
            throw;
        }

        for (var i = 0; i < count; i++)
        {
            _flows[i] = new PartitionFlow(i, _options.PartitionCapacity, _assigned[i]);
            _tails[i] = new Queue<StreamItem>();
        }

        _writerLoop = Task.Run(WriterLoopAsync);
    }

    public int PartitionCount => _flows.Length;

    public int GetPartition(string streamKey) => StreamPartitioner.GetPartition(streamKey, _flows.Length);

    public async ValueTask<StreamPosition> AppendAsync(StreamId stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        GrainKey.Validate(stream.Namespace, "stream namespace");
        GrainKey.Validate(stream.Key, "stream key");
        var partition = GetPartition(stream.Key);
        var flow = _flows[partition];
        await flow.ReserveAsync(_options.AppendTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        var request = new WriteRequest(stream, partition, payload.ToArray(), 0);
        if (!_requests.Writer.TryWrite(request))
        {
            flow.ReleaseUnused();
            throw new ObjectDisposedException(nameof(SqliteStreamLog));
        }

        var position = await request.Completion.Task.ConfigureAwait(false);
        return new StreamPosition(partition, position);
    }

    public async ValueTask<IReadOnlyList<StreamItem>> ReadAsync(int partition, long afterPosition, int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        var flow = GetFlow(partition);
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var signal = flow.WaitSignalAsync();
            if (Volatile.Read(ref _committed[partition]) > afterPosition)
            {
                var items = ReadTail(partition, afterPosition, maxCount) ?? Query(partition, afterPosition, maxCount);
                if (items.Count > 0)
                {
                    return items;
                }
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Acknowledge(int partition, long position) => GetFlow(partition).Acknowledge(position);

    public ValueTask<long> GetCheckpointAsync(int partition, CancellationToken cancellationToken = default)
    {
        GetFlow(partition);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT position FROM stream_checkpoints WHERE partition = $p";
        command.Parameters.AddWithValue("$p", partition);
        return ValueTask.FromResult(command.ExecuteScalar() is long value ? value : 0L);
    }

    public async ValueTask CommitCheckpointAsync(int partition, long position, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        GetFlow(partition);
        var request = new WriteRequest(default, partition, null, position);
        if (!_requests.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(SqliteStreamLog));
        }

        await request.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<long> CountAsync(int partition, CancellationToken cancellationToken = default)
    {
        GetFlow(partition);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM stream_log WHERE partition = $p";
        command.Parameters.AddWithValue("$p", partition);
        return ValueTask.FromResult((long)command.ExecuteScalar()!);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _requests.Writer.TryComplete();
        try
        {
            await _writerLoop.ConfigureAwait(false);
        }
        finally
        {
            foreach (var flow in _flows)
            {
                flow.Signal();
            }

            _writer.Dispose();
        }
    }

    private void Initialise(int count)
    {
        using var transaction = _writer.BeginTransaction();
        SqliteDatabase.Execute(_writer, Schema, transaction);
        using (var command = _writer.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT value FROM stream_meta WHERE name = 'partition_count'";
            var stored = command.ExecuteScalar() as string;
            if (stored is null)
            {
                command.CommandText = "INSERT INTO stream_meta (name, value) VALUES ('partition_count', $c)";
                command.Parameters.AddWithValue("$c", count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                command.ExecuteNonQuery();
            }
            else if (stored != count.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException(
                    $"The stream log in '{_database.Path}' was created with {stored} partitions but StreamOptions.PartitionCount is {count}. Positions are per partition, so the count cannot change for an existing log.");
            }
        }

        using (var command = _writer.CreateCommand())
        {
            command.Transaction = transaction;
            // Positions must never go backwards, even when every entry of a partition has been trimmed.
            command.CommandText = """
                SELECT p, MAX(pos) FROM (
                    SELECT partition AS p, MAX(position) AS pos FROM stream_log GROUP BY partition
                    UNION ALL SELECT partition, position FROM stream_checkpoints) GROUP BY p
                """;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var p = reader.GetInt32(0);
                if (p < count)
                {
                    _assigned[p] = reader.GetInt64(1);
                    _committed[p] = _assigned[p];
                }
            }
        }

        using (var command = _writer.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT partition, position FROM stream_checkpoints";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var p = reader.GetInt32(0);
                if (p < count)
                {
                    _checkpoints[p] = reader.GetInt64(1);
                }
            }
        }

        transaction.Commit();
    }

    private List<StreamItem>? ReadTail(int partition, long afterPosition, int maxCount)
    {
        var tail = _tails[partition];
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

            var items = new List<StreamItem>(Math.Min(maxCount, tail.Count));
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

    private List<StreamItem> Query(int partition, long afterPosition, int maxCount)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT position, namespace, key, timestamp_ms, payload FROM stream_log
            WHERE partition = $p AND position > $after ORDER BY position LIMIT $n
            """;
        command.Parameters.AddWithValue("$p", partition);
        command.Parameters.AddWithValue("$after", afterPosition);
        command.Parameters.AddWithValue("$n", maxCount);
        using var reader = command.ExecuteReader();
        var items = new List<StreamItem>();
        while (reader.Read())
        {
            var stream = new StreamId(reader.GetString(1), reader.GetString(2));
            items.Add(new StreamItem(stream, partition, reader.GetInt64(0), SqliteDatabase.FromUnixMs(reader.GetInt64(3)), (byte[])reader.GetValue(4)));
        }

        return items;
    }

    private async Task WriterLoopAsync()
    {
        var reader = _requests.Reader;
        var group = new List<WriteRequest>(_options.MaxGroupCommitSize);
        using var insert = _writer.CreateCommand();
        insert.CommandText = "INSERT INTO stream_log (partition, position, namespace, key, timestamp_ms, payload) VALUES ($p, $pos, $ns, $key, $ts, $payload)";
        var pPartition = insert.Parameters.Add("$p", SqliteType.Integer);
        var pPosition = insert.Parameters.Add("$pos", SqliteType.Integer);
        var pNamespace = insert.Parameters.Add("$ns", SqliteType.Text);
        var pKey = insert.Parameters.Add("$key", SqliteType.Text);
        var pTimestamp = insert.Parameters.Add("$ts", SqliteType.Integer);
        var pPayload = insert.Parameters.Add("$payload", SqliteType.Blob);
        using var checkpoint = _writer.CreateCommand();
        checkpoint.CommandText = """
            INSERT INTO stream_checkpoints (partition, position) VALUES ($p, $pos)
                ON CONFLICT (partition) DO UPDATE SET position = excluded.position;
            DELETE FROM stream_log WHERE partition = $p AND position <= $pos;
            """;
        var cPartition = checkpoint.Parameters.Add("$p", SqliteType.Integer);
        var cPosition = checkpoint.Parameters.Add("$pos", SqliteType.Integer);
        var touched = new bool[_flows.Length];
        // Positions and checkpoints as they were before the group, restored if its commit fails (reused across groups).
        var saved = new long[_flows.Length];
        var savedCheckpoints = new long[_flows.Length];

        var gate = SqliteWriteGate.For(_database.Path);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Take the file's write turn first, then drain: whatever arrived while another writer held it joins this group.
            await gate.WaitAsync().ConfigureAwait(false);
            group.Clear();
            while (group.Count < _options.MaxGroupCommitSize && reader.TryRead(out var request))
            {
                group.Add(request);
            }

            Array.Copy(_assigned, saved, saved.Length);
            Array.Copy(_checkpoints, savedCheckpoints, savedCheckpoints.Length);
            var timestamp = SqliteDatabase.ToUnixMs(_timeProvider.GetUtcNow());
            try
            {
                using var transaction = _writer.BeginTransaction();
                insert.Transaction = transaction;
                checkpoint.Transaction = transaction;
                foreach (var request in group)
                {
                    if (request.Payload is null)
                    {
                        var target = Math.Min(request.CheckpointPosition, _assigned[request.Partition]);
                        if (target > _checkpoints[request.Partition])
                        {
                            _checkpoints[request.Partition] = target;
                            cPartition.Value = request.Partition;
                            cPosition.Value = target;
                            checkpoint.ExecuteNonQuery();
                        }

                        continue;
                    }

                    request.Position = ++_assigned[request.Partition];
                    touched[request.Partition] = true;
                    pPartition.Value = request.Partition;
                    pPosition.Value = request.Position;
                    pNamespace.Value = request.Stream.Namespace;
                    pKey.Value = request.Stream.Key;
                    pTimestamp.Value = timestamp;
                    pPayload.Value = request.Payload;
                    insert.ExecuteNonQuery();
                }

                transaction.Commit();
            }
            catch (Exception ex)
            {
                gate.Release();

                // Nothing of the group is durable: give positions back so they stay dense, and fail every request.
                Array.Copy(saved, _assigned, saved.Length);
                Array.Copy(savedCheckpoints, _checkpoints, savedCheckpoints.Length);
                Array.Clear(touched);
                _logger.LogError(ex, "Stream log group commit of {Count} requests failed", group.Count);
                foreach (var request in group)
                {
                    if (request.Payload is not null)
                    {
                        _flows[request.Partition].ReleaseUnused();
                    }

                    request.Completion.TrySetException(ex);
                }

                continue;
            }

            gate.Release();
            var committedAt = SqliteDatabase.FromUnixMs(timestamp);
            foreach (var request in group)
            {
                if (request.Payload is null)
                {
                    // Trimmed entries must not be served from memory either.
                    var trimmed = _tails[request.Partition];
                    lock (trimmed)
                    {
                        while (trimmed.Count > 0 && trimmed.Peek().Position <= _checkpoints[request.Partition])
                        {
                            trimmed.Dequeue();
                        }
                    }
                }
                else
                {
                    var tail = _tails[request.Partition];
                    lock (tail)
                    {
                        tail.Enqueue(new StreamItem(request.Stream, request.Partition, request.Position, committedAt, request.Payload));
                    }
                }
            }

            for (var p = 0; p < touched.Length; p++)
            {
                if (touched[p])
                {
                    touched[p] = false;
                    Volatile.Write(ref _committed[p], _assigned[p]);
                    _flows[p].Signal();
                }
            }

            foreach (var request in group)
            {
                request.Completion.TrySetResult(request.Position);
            }
        }
    }

    private PartitionFlow GetFlow(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _flows.Length);
        return _flows[partition];
    }

    private sealed class WriteRequest(StreamId stream, int partition, byte[]? payload, long checkpointPosition)
    {
        public StreamId Stream { get; } = stream;
        public int Partition { get; } = partition;
        public byte[]? Payload { get; } = payload;
        public long CheckpointPosition { get; } = checkpointPosition;
        public long Position { get; set; }
        public TaskCompletionSource<long> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
