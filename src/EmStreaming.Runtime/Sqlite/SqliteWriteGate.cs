using System.Collections.Concurrent;

namespace EmStreaming.Runtime.Sqlite;

/// <summary>
/// One write turn at a time per database file, handed over in arrival order. SQLite allows one writer; connections that
/// find the lock taken poll for it (busy handler), and under load the stream log's writer, committing back to back, kept
/// re-taking it while the snapshot writer slept: snapshot turns waited for seconds. Writers of this process queue here
/// instead (an awaited <see cref="SemaphoreSlim"/> passes the slot to the oldest waiter on release), so the log and the
/// snapshots alternate group commits; the busy timeout remains for other processes.
/// </summary>
internal static class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>The gate of a database file (by full path).</summary>
    public static SemaphoreSlim For(string databasePath) => Gates.GetOrAdd(Path.GetFullPath(databasePath), static _ => new SemaphoreSlim(1, 1));
}
