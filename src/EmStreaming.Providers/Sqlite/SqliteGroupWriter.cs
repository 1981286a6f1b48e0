using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace EmStreaming.Providers.Sqlite;

/// <summary>One write queued for a <see cref="SqliteGroupWriter{TContext}"/>.</summary>
internal abstract class SqliteWrite<TContext>
{
    /// <summary>Runs inside the group's transaction. An exception fails the whole group (nothing of it is durable); a per-write
    /// refusal that must not fail the others (an ETag conflict) is remembered by the write and reported in <see cref="Committed"/>.</summary>
    public abstract void Execute(TContext context, SqliteTransaction transaction);

    /// <summary>The group committed (called outside the write gate, in queue order).</summary>
    public abstract void Committed();

    /// <summary>The group failed; nothing of it was stored.</summary>
    public abstract void Failed(Exception error);
}

/// <summary>The writer's per-connection state (prepared commands) and its hooks around a group.</summary>
internal interface ISqliteWriteContext
{
    /// <summary>Before the first write of a group, inside the write gate.</summary>
    void BeginGroup();

    /// <summary>After the commit, inside the write gate, before the writes are completed.</summary>
    void GroupCommitted();

    /// <summary>After a failed group, inside the write gate: undo in-memory changes made by <see cref="SqliteWrite{TContext}.Execute"/>.</summary>
    void GroupRolledBack();
}

/// <summary>
/// Group commit over one connection: one loop drains every waiting write into one IMMEDIATE transaction, so concurrent
/// writers share one fsync. Writers of the same file take turns through <see cref="SqliteDatabase.WriteGate"/>.
/// A write completes only after its transaction committed. The loop never dies on a failed group: the group's writes fail
/// and the next group is tried.
/// </summary>
internal sealed class SqliteGroupWriter<TContext> : IAsyncDisposable
    where TContext : ISqliteWriteContext
{
    private readonly SqliteDatabase _database;
    private readonly SqliteConnection _connection;
    private readonly TContext _context;
    private readonly int _maxGroup;
    private readonly ILogger _logger;
    private readonly string _owner;
    private readonly Channel<SqliteWrite<TContext>> _writes = Channel.CreateUnbounded<SqliteWrite<TContext>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    /// <param name="database">The file.</param>
    /// <param name="connection">The writer's own connection, owned (disposed) by the writer from now on.</param>
    /// <param name="context">Prepared commands over <paramref name="connection"/>.</param>
    /// <param name="maxGroup">Most writes per transaction.</param>
    /// <param name="owner">Names the writer in logs.</param>
    /// <param name="logger">Where failed groups are logged.</param>
    public SqliteGroupWriter(SqliteDatabase database, SqliteConnection connection, TContext context, int maxGroup, string owner, ILogger logger)
    {
        _database = database;
        _connection = connection;
        _context = context;
        _maxGroup = maxGroup;
        _owner = owner;
        _logger = logger;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Queues a write; false when the writer is closed.</summary>
    public bool TryEnqueue(SqliteWrite<TContext> write) => _writes.Writer.TryWrite(write);

    /// <summary>Commits what is queued, then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        finally
        {
            (_context as IDisposable)?.Dispose();
            _connection.Dispose();
        }
    }

    private async Task LoopAsync()
    {
        var reader = _writes.Reader;
        var group = new List<SqliteWrite<TContext>>(_maxGroup);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            await _database.WriteGate.WaitAsync().ConfigureAwait(false);
            Exception? failure = null;
            try
            {
                // Drain after taking the gate: what arrived while waiting joins this group.
                while (group.Count < _maxGroup && reader.TryRead(out var write))
                {
                    group.Add(write);
                }

                try
                {
                    _context.BeginGroup();
                    using var transaction = _connection.BeginTransaction(deferred: false);
                    foreach (var write in group)
                    {
                        write.Execute(_context, transaction);
                    }

                    transaction.Commit();
                    _context.GroupCommitted();
                }
                catch (Exception ex)
                {
                    _context.GroupRolledBack();
                    failure = _database.Translate(ex);
                    _logger.LogError(ex, "Group commit of {Count} writes to {Owner} in {Path} failed", group.Count, _owner, _database.Path);
                }
            }
            finally
            {
                _database.WriteGate.Release();
            }

            foreach (var write in group)
            {
                if (failure is null)
                {
                    write.Committed();
                }
                else
                {
                    write.Failed(failure);
                }
            }
        }
    }
}
