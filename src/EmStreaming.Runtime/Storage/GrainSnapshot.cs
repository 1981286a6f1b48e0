namespace EmStreaming.Runtime.Storage;

/// <summary>One stored version of a grain's state.</summary>
/// <param name="Id">The grain.</param>
/// <param name="Version">Version number, 1 for the first write, +1 per write; restarts at 1 after a delete.</param>
/// <param name="ETag">Opaque concurrency token; pass it to the next conditional write.</param>
/// <param name="Timestamp">When the version was written (the store's <see cref="TimeProvider"/>).</param>
/// <param name="Data">The grain's serialized state, opaque to the runtime.</param>
/// <param name="Checkpoint">Last stream position applied per stream namespace when this state was captured.</param>
/// <param name="Tag">The short description given at write time (e.g. observation count and reason), or null.</param>
public sealed record GrainSnapshot(
    GrainId Id, long Version, string ETag, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data, IReadOnlyDictionary<string, long> Checkpoint, string? Tag = null);

/// <summary>A row of a grain's snapshot history.</summary>
/// <param name="Version">Version number.</param>
/// <param name="Timestamp">When it was written.</param>
/// <param name="Size">Size of <see cref="GrainSnapshot.Data"/> in bytes.</param>
/// <param name="Tag">The version's <see cref="SnapshotWrite.Tag"/>, so a history listing can say what each version is without reading it.</param>
public readonly record struct SnapshotHistoryEntry(long Version, DateTimeOffset Timestamp, int Size, string? Tag = null);

/// <summary>What to write: the state, the stream checkpoint it includes, and the history to keep.</summary>
/// <param name="Data">The serialized state.</param>
/// <param name="Checkpoint">Last stream position applied per namespace; null means none.</param>
/// <param name="Retention">History kept after this write; null means <see cref="SnapshotRetention.Default"/>.</param>
/// <param name="Tag">Optional short description stored beside the data and returned by history listings (at most <see cref="MaxTagLength"/> characters).</param>
public sealed record SnapshotWrite(ReadOnlyMemory<byte> Data, IReadOnlyDictionary<string, long>? Checkpoint = null, SnapshotRetention? Retention = null, string? Tag = null)
{
    /// <summary>Longest <see cref="Tag"/>: 1,024 characters.</summary>
    public const int MaxTagLength = 1024;

    internal string? ValidatedTag => Tag is { Length: > MaxTagLength }
        ? throw new ArgumentException($"{nameof(Tag)} is {Tag.Length} characters long; at most {MaxTagLength}.", nameof(Tag))
        : Tag;
}

/// <summary>How much history a grain keeps. The latest version is always kept.</summary>
public readonly record struct SnapshotRetention
{
    /// <summary>Default <see cref="MaxVersions"/>: 100.</summary>
    public const int DefaultMaxVersions = 100;

    /// <summary>Default <see cref="MaxAge"/>: 7 days.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromDays(7);

    /// <summary>Creates a retention policy.</summary>
    /// <param name="maxVersions">Most versions kept, at least 1.</param>
    /// <param name="maxAge">Versions older than this are removed (the latest is kept regardless).</param>
    public SnapshotRetention(int maxVersions, TimeSpan maxAge)
    {
        MaxVersions = OptionGuard.Positive(maxVersions, nameof(maxVersions));
        MaxAge = OptionGuard.Positive(maxAge, nameof(maxAge));
    }

    /// <summary>100 versions, 7 days.</summary>
    public static SnapshotRetention Default => new(DefaultMaxVersions, DefaultMaxAge);

    /// <summary>Most versions kept.</summary>
    public int MaxVersions { get; }

    /// <summary>Oldest version kept (except the latest).</summary>
    public TimeSpan MaxAge { get; }
}

/// <summary>A conditional write or delete found a different ETag than the caller expected (Orleans' InconsistentStateException).</summary>
public sealed class InconsistentStateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InconsistentStateException(GrainId id, string? expectedETag, string? currentETag)
        : base($"Snapshot of {id} was changed by someone else: expected ETag '{expectedETag ?? "<none>"}', found '{currentETag ?? "<none>"}'. Read the latest snapshot and retry.")
    {
        GrainId = id;
        ExpectedETag = expectedETag;
        CurrentETag = currentETag;
    }

    /// <summary>The grain.</summary>
    public GrainId GrainId { get; }

    /// <summary>The ETag the caller passed (null: expected no snapshot).</summary>
    public string? ExpectedETag { get; }

    /// <summary>The ETag in storage (null: no snapshot).</summary>
    public string? CurrentETag { get; }
}
