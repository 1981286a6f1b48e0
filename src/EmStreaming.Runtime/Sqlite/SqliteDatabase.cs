using Microsoft.Data.Sqlite;

namespace EmStreaming.Runtime.Sqlite;

/// <summary>Opens connections to the shared SQLite file with the pragmas every component relies on.</summary>
internal sealed class SqliteDatabase
{
    private readonly string _connectionString;
    private readonly bool _fullSync;
    private readonly long _busyTimeoutMs;

    public SqliteDatabase(SqliteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
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

    public string Path { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        // WAL: readers never block the single writer. synchronous is per connection, so set it on every open.
        // busy_timeout: SQLite's own busy handler waits for the write lock in steps of 1–100 ms. Without it, Microsoft.Data.Sqlite
        // retries SQLITE_BUSY after sleeping 150 ms, and the log writer, the snapshot writer and the registry (three connections
        // sharing the write lock) turned every collision into a 150 ms stall: the p99 of the load test.
        command.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(_fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout={_busyTimeoutMs};";
        command.ExecuteNonQuery();
        return connection;
    }

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
