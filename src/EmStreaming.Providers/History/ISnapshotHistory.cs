namespace EmStreaming.Providers.History;

/// <summary>
/// The versioned snapshot history of grains (models): append a version with its metadata, list the metadata without reading
/// bodies, read a version by number or the newest at a time, delete a grain's whole history. Retention
/// (<see cref="SnapshotHistoryOptions"/>) is applied on every append; the newest version is always kept.
/// Implementations: SQLite (the embedded default, same file as the grain state), in-memory (tests), Azure Blob (issue 10).
/// Every implementation passes the contract tests in <c>EmStreaming.Providers.Tests</c> (<c>SnapshotHistoryContractTests</c>).
/// </summary>
public interface ISnapshotHistory
{
    /// <summary>Stores a new version: number = the grain's newest + 1 (1 for the first, and again after <see cref="DeleteAllAsync"/>).</summary>
    /// <param name="grainKey">The grain (model id); 1 to <see cref="SnapshotHistoryKeys.MaxKeyLength"/> characters, no control characters.</param>
    /// <param name="snapshot">The body and its metadata.</param>
    /// <param name="cancellationToken">Honoured until the write is handed to storage.</param>
    /// <returns>The stored version's metadata.</returns>
    /// <exception cref="ArgumentException">The key or the reason is invalid, or observations is negative; nothing is stored.</exception>
    ValueTask<SnapshotVersion> AppendAsync(string grainKey, SnapshotAppend snapshot, CancellationToken cancellationToken = default);

    /// <summary>The versions kept for a grain, oldest first, without reading their bodies. Empty when none.</summary>
    ValueTask<IReadOnlyList<SnapshotVersion>> ListAsync(string grainKey, CancellationToken cancellationToken = default);

    /// <summary>A version with its body, or null when it does not exist (never written, removed by retention, or deleted).</summary>
    ValueTask<StoredSnapshot?> ReadVersionAsync(string grainKey, long version, CancellationToken cancellationToken = default);

    /// <summary>The newest version written at or before <paramref name="time"/>, with its body, or null.</summary>
    ValueTask<StoredSnapshot?> ReadAtAsync(string grainKey, DateTimeOffset time, CancellationToken cancellationToken = default);

    /// <summary>Deletes every version of a grain (no-op when it has none).</summary>
    ValueTask DeleteAllAsync(string grainKey, CancellationToken cancellationToken = default);
}

/// <summary>What to append.</summary>
/// <param name="Data">The snapshot body (the grain's bytes); copied before <see cref="ISnapshotHistory.AppendAsync"/> returns.</param>
/// <param name="Observations">How many observations the snapshot includes (≥ 0).</param>
/// <param name="Reason">Why it was taken or a tag (e.g. <c>policy</c>, <c>refit</c>, <c>deactivation</c>); at most <see cref="SnapshotHistoryKeys.MaxReasonLength"/> characters.</param>
/// <param name="MaxVersions">
/// Most versions this grain keeps (the model's <c>snapshots.retain</c>), at least 1; null = <see cref="SnapshotHistoryOptions.MaxVersions"/>.
/// Applied by this append, with <see cref="SnapshotHistoryOptions.MaxAge"/>; the new version is always kept.
/// </param>
public sealed record SnapshotAppend(ReadOnlyMemory<byte> Data, long Observations, string? Reason = null, int? MaxVersions = null)
{
    /// <summary>The number of versions this append keeps: <see cref="MaxVersions"/>, or the history's default.</summary>
    public int RetainedVersions(SnapshotHistoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return MaxVersions ?? options.MaxVersions;
    }
}

/// <summary>The metadata of one stored version.</summary>
/// <param name="Version">Version number, from 1.</param>
/// <param name="Timestamp">When it was appended (the history's <see cref="TimeProvider"/>, millisecond precision).</param>
/// <param name="Observations">Observations included.</param>
/// <param name="Reason">The reason or tag given at append, or null.</param>
/// <param name="Size">Size of the body in bytes.</param>
public readonly record struct SnapshotVersion(long Version, DateTimeOffset Timestamp, long Observations, string? Reason, int Size);

/// <summary>A stored version with its body.</summary>
/// <param name="Metadata">Its metadata.</param>
/// <param name="Data">Its body.</param>
public sealed record StoredSnapshot(SnapshotVersion Metadata, ReadOnlyMemory<byte> Data);

/// <summary>Limits shared by every implementation.</summary>
public static class SnapshotHistoryKeys
{
    /// <summary>Longest grain key: 512 characters.</summary>
    public const int MaxKeyLength = 512;

    /// <summary>Longest reason: 1,024 characters.</summary>
    public const int MaxReasonLength = 1024;

    /// <summary>Validates an append's arguments; every implementation calls it first, so bad input changes nothing.</summary>
    /// <exception cref="ArgumentException">The key, the reason or the observation count is invalid.</exception>
    public static void Validate(string grainKey, SnapshotAppend snapshot)
    {
        ValidateKey(grainKey);
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Observations < 0)
        {
            throw new ArgumentException($"Observations must not be negative (got {snapshot.Observations}).", nameof(snapshot));
        }

        if (snapshot.Reason is { Length: > MaxReasonLength })
        {
            throw new ArgumentException($"Reason is {snapshot.Reason.Length} characters long; at most {MaxReasonLength}.", nameof(snapshot));
        }

        if (snapshot.MaxVersions is < 1)
        {
            throw new ArgumentException($"MaxVersions must be at least 1 (got {snapshot.MaxVersions}).", nameof(snapshot));
        }
    }

    /// <summary>Validates a grain key.</summary>
    /// <exception cref="ArgumentException">Empty, longer than <see cref="MaxKeyLength"/>, or with control characters.</exception>
    public static void ValidateKey(string grainKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(grainKey);
        if (grainKey.Length > MaxKeyLength)
        {
            throw new ArgumentException($"The grain key is {grainKey.Length} characters long; at most {MaxKeyLength}.", nameof(grainKey));
        }

        if (grainKey.AsSpan().ContainsAnyInRange('\0', '\u001f') || grainKey.Contains('\u007f'))
        {
            throw new ArgumentException("The grain key must not contain control characters.", nameof(grainKey));
        }
    }
}
