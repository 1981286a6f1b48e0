using EmStreaming.Runtime.Sqlite;
using EmStreaming.Runtime.Streams;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Runtime.DeadLetters;

/// <summary>Dead letters in the shared SQLite file, bounded to the newest <c>capacity</c> rows; a replayed stream item that fails again is recorded once.</summary>
internal sealed class SqliteDeadLetterStore : IDeadLetterStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT, grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, timestamp_ms INTEGER NOT NULL,
            message_type TEXT NOT NULL, reason TEXT NOT NULL, exception_type TEXT, stream_namespace TEXT, stream_key TEXT,
            position INTEGER, payload BLOB,
            UNIQUE (grain_type, grain_key, stream_namespace, stream_key, position));
        """;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _capacity;
    private bool _disposed;

    public SqliteDeadLetterStore(SqliteOptions options, int capacity)
    {
        _capacity = capacity;
        _connection = new SqliteDatabase(options).Open();
        SqliteDatabase.Execute(_connection, Schema);
    }

    public async ValueTask AddAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = """
                INSERT OR IGNORE INTO dead_letters (grain_type, grain_key, timestamp_ms, message_type, reason, exception_type, stream_namespace, stream_key, position, payload)
                VALUES ($type, $key, $ts, $mt, $reason, $et, $ns, $sk, $pos, $payload);
                DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - $cap;
                """;
            command.Parameters.AddWithValue("$type", letter.Grain.Type);
            command.Parameters.AddWithValue("$key", letter.Grain.Key);
            command.Parameters.AddWithValue("$ts", SqliteDatabase.ToUnixMs(letter.Timestamp));
            command.Parameters.AddWithValue("$mt", letter.MessageType);
            command.Parameters.AddWithValue("$reason", letter.Reason);
            command.Parameters.AddWithValue("$et", (object?)letter.ExceptionType ?? DBNull.Value);
            command.Parameters.AddWithValue("$ns", (object?)letter.Stream?.Namespace ?? DBNull.Value);
            command.Parameters.AddWithValue("$sk", (object?)letter.Stream?.Key ?? DBNull.Value);
            command.Parameters.AddWithValue("$pos", (object?)letter.Position ?? DBNull.Value);
            command.Parameters.AddWithValue("$payload", letter.Payload.IsEmpty ? DBNull.Value : letter.Payload.ToArray());
            command.Parameters.AddWithValue("$cap", _capacity);
            command.ExecuteNonQuery();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask<IReadOnlyList<DeadLetter>> ListAsync(GrainId? grain, int max, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = $"""
                SELECT id, grain_type, grain_key, timestamp_ms, message_type, reason, exception_type, stream_namespace, stream_key, position, payload
                FROM dead_letters {(grain is null ? "" : "WHERE grain_type = $type AND grain_key = $key")} ORDER BY id DESC LIMIT $max
                """;
            if (grain is { } g)
            {
                command.Parameters.AddWithValue("$type", g.Type);
                command.Parameters.AddWithValue("$key", g.Key);
            }

            command.Parameters.AddWithValue("$max", max);
            using var reader = command.ExecuteReader();
            var result = new List<DeadLetter>();
            while (reader.Read())
            {
                StreamId? stream = reader.IsDBNull(7) ? null : new StreamId(reader.GetString(7), reader.GetString(8));
                result.Add(new DeadLetter(
                    reader.GetInt64(0), new GrainId(reader.GetString(1), reader.GetString(2)), SqliteDatabase.FromUnixMs(reader.GetInt64(3)),
                    reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), stream,
                    reader.IsDBNull(9) ? null : reader.GetInt64(9), reader.IsDBNull(10) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(10)));
            }

            return result;
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
}
