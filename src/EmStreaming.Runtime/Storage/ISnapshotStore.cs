namespace EmStreaming.Runtime.Storage;

/// <summary>
/// Versioned grain state storage with ETag optimistic concurrency, like Orleans grain storage, plus history:
/// every successful write adds a version; retention prunes old ones; the latest is always kept.
/// </summary>
public interface ISnapshotStore : IAsyncDisposable
{
    /// <summary>The latest snapshot, or null when the grain has none.</summary>
    ValueTask<GrainSnapshot?> ReadAsync(GrainId id, CancellationToken cancellationToken = default);

    /// <summary>A given version, or null when it does not exist (never written, pruned or deleted).</summary>
    ValueTask<GrainSnapshot?> ReadVersionAsync(GrainId id, long version, CancellationToken cancellationToken = default);

    /// <summary>The latest version written at or before <paramref name="time"/>, or null.</summary>
    ValueTask<GrainSnapshot?> ReadAtAsync(GrainId id, DateTimeOffset time, CancellationToken cancellationToken = default);

    /// <summary>Writes a new version if the current ETag equals <paramref name="expectedETag"/> (null: the grain must have no snapshot), then applies retention.</summary>
    /// <returns>The stored snapshot with its new version and ETag.</returns>
    /// <exception cref="InconsistentStateException">The stored ETag differs from <paramref name="expectedETag"/>; nothing was written.</exception>
    ValueTask<GrainSnapshot> WriteAsync(GrainId id, SnapshotWrite write, string? expectedETag, CancellationToken cancellationToken = default);

    /// <summary>The versions kept for a grain, oldest first.</summary>
    ValueTask<IReadOnlyList<SnapshotHistoryEntry>> ListHistoryAsync(GrainId id, CancellationToken cancellationToken = default);

    /// <summary>Deletes every version of a grain if the current ETag equals <paramref name="expectedETag"/>.</summary>
    /// <exception cref="InconsistentStateException">The stored ETag differs; nothing was deleted.</exception>
    ValueTask DeleteAsync(GrainId id, string? expectedETag, CancellationToken cancellationToken = default);
}
