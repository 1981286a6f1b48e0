using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace EmStreaming.Providers.Sqlite;

/// <summary>
/// One SQLite file: opens connections with the pragmas every provider relies on, and owns the file's write gate.
/// One instance per file per service provider (see <see cref="SqliteDatabaseProvider"/>), so there is no process-wide state.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;

    private readonly string _connectionString;
    private readonly bool _fullSync;
    private readonly long _busyTimeoutMs;

    public SqliteDatabase(SqliteStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (SqliteStorageOptionsValidator.Check(options) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        Path = options.DatabasePath;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _fullSync = options.FullSync;
        _busyTimeoutMs = (long)options.BusyTimeout.TotalMilliseconds;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout expires.
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>
    /// One write turn at a time for this file, handed over in arrival order. SQLite allows one writer; connections that find
    /// the lock taken poll for it (busy handler), and under load the stream log's writer, committing back to back, kept
    /// re-taking it while the state writer slept. Writers of this process queue here instead (an awaited
    /// <see cref="SemaphoreSlim"/> passes the slot to the oldest waiter), so the writers alternate group commits; the busy
    /// timeout remains for other processes.
    /// </summary>
    public SemaphoreSlim WriteGate { get; } = new(1, 1);

    /// <summary>Runs <c>PRAGMA quick_check</c>.</summary>
    /// <exception cref="CorruptDataFileException">The file is damaged; the message carries SQLite's first findings.</exception>
    public void CheckIntegrity()
    {
        using var connection = Open();
        var findings = Guard(() =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA quick_check(5)";
            using var reader = command.ExecuteReader();
            var lines = new List<string>();
            while (reader.Read())
            {
                lines.Add(reader.GetString(0));
            }

            return lines;
        });
        if (findings is not ["ok"])
        {
            throw new CorruptDataFileException(Path, new InvalidDataException($"integrity check: {string.Join("; ", findings)}"));
        }
    }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // WAL: readers never block the single writer. synchronous is per connection, so set it on every open.
            // busy_timeout: SQLite's own busy handler waits for the write lock in short steps; without it
            // Microsoft.Data.Sqlite sleeps 150 ms per SQLITE_BUSY, which was the p99 of the load test.
            command.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(_fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout={_busyTimeoutMs};";
            command.ExecuteNonQuery();
            return connection;
        }
        catch (Exception ex)
        {
            connection.Dispose();
            throw Translate(ex);
        }
    }

    private readonly ConcurrentBag<SqliteConnection> _readers = [];
    private volatile bool _disposed;

    /// <summary>Runs a read on a pooled connection of this file (readers never block the writer in WAL mode).</summary>
    /// <exception cref="CorruptDataFileException">SQLite found the file damaged.</exception>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = _readers.TryTake(out var pooled) ? pooled : Open();
        try
        {
            return Guard(() => read(connection));
        }
        finally
        {
            if (_disposed)
            {
                connection.Dispose();
            }
            else
            {
                _readers.Add(connection);
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_readers.TryTake(out var connection))
        {
            connection.Dispose();
        }
    }

    /// <summary>Runs <paramref name="action"/> and turns SQLite's corruption errors into <see cref="CorruptDataFileException"/> naming the file.</summary>
    public T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException ex) when (IsCorruption(ex))
        {
            throw new CorruptDataFileException(Path, ex);
        }
    }

    public Exception Translate(Exception ex) => ex is SqliteException sqlite && IsCorruption(sqlite) ? new CorruptDataFileException(Path, ex) : ex;

    private static bool IsCorruption(SqliteException ex) => ex.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase;

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static long ToUnixMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}

/// <summary>
/// Hands out the one <see cref="SqliteDatabase"/> per file path, so the stream log, the grain storage and the snapshot
/// history of one silo share a write gate. A DI singleton: two silos in one process (tests) do not share anything.
/// </summary>
internal sealed class SqliteDatabaseProvider : IDisposable
{
    private readonly Dictionary<string, SqliteDatabase> _databases = new(StringComparer.Ordinal);

    public SqliteDatabase Get(SqliteStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_databases)
        {
            var path = options.DatabasePath;
            if (!_databases.TryGetValue(path, out var database))
            {
                database = new SqliteDatabase(options);
                if (options.CheckIntegrityOnStart)
                {
                    database.CheckIntegrity();
                }

                _databases[path] = database;
            }

            return database;
        }
    }

    public void Dispose()
    {
        lock (_databases)
        {
            foreach (var database in _databases.Values)
            {
                database.Dispose();
            }

            _databases.Clear();
        }
    }
}
