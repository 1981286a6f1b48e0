namespace EmStreaming.Providers.History;

/// <summary>Snapshot history in memory, for tests: the same numbering, retention and time rules as the SQLite one.</summary>
internal sealed class InMemorySnapshotHistory : ISnapshotHistory
{
    private readonly Dictionary<string, List<StoredSnapshot>> _grains = new(StringComparer.Ordinal);
    private readonly SnapshotHistoryOptions _options;
    private readonly TimeProvider _timeProvider;

    public InMemorySnapshotHistory(SnapshotHistoryOptions options, TimeProvider timeProvider)
    {
        if (SnapshotHistoryOptionsValidator.Check(options) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _options = new SnapshotHistoryOptions { MaxVersions = options.MaxVersions, MaxAge = options.MaxAge };
        _timeProvider = timeProvider;
    }

    public ValueTask<SnapshotVersion> AppendAsync(string grainKey, SnapshotAppend snapshot, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.Validate(grainKey, snapshot);
        cancellationToken.ThrowIfCancellationRequested();
        // Millisecond precision, as stored by the durable implementations, so ReadAtAsync agrees across them.
        var now = SnapshotTime.Truncate(_timeProvider.GetUtcNow());
        lock (_grains)
        {
            if (!_grains.TryGetValue(grainKey, out var versions))
            {
                _grains[grainKey] = versions = [];
            }

            var metadata = new SnapshotVersion(versions.Count == 0 ? 1 : versions[^1].Metadata.Version + 1, now, snapshot.Observations, snapshot.Reason, snapshot.Data.Length);
            var stored = new StoredSnapshot(metadata, snapshot.Data.ToArray());
            versions.Add(stored);
            var cutoff = now - _options.MaxAge;
            var keepFrom = versions.Count - snapshot.RetainedVersions(_options);
            var index = 0;
            versions.RemoveAll(s => (index++ < keepFrom || s.Metadata.Timestamp < cutoff) && !ReferenceEquals(s, stored));
            return ValueTask.FromResult(metadata);
        }
    }

    public ValueTask<IReadOnlyList<SnapshotVersion>> ListAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        lock (_grains)
        {
            IReadOnlyList<SnapshotVersion> list = _grains.TryGetValue(grainKey, out var versions) ? versions.ConvertAll(s => s.Metadata) : [];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<StoredSnapshot?> ReadVersionAsync(string grainKey, long version, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        lock (_grains)
        {
            return ValueTask.FromResult(_grains.TryGetValue(grainKey, out var versions) ? versions.Find(s => s.Metadata.Version == version) : null);
        }
    }

    public ValueTask<StoredSnapshot?> ReadAtAsync(string grainKey, DateTimeOffset time, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        lock (_grains)
        {
            return ValueTask.FromResult(_grains.TryGetValue(grainKey, out var versions) ? versions.FindLast(s => s.Metadata.Timestamp <= time) : null);
        }
    }

    public ValueTask DeleteAllAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        lock (_grains)
        {
            _grains.Remove(grainKey);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>History timestamps are kept to the millisecond in every implementation.</summary>
internal static class SnapshotTime
{
    public static DateTimeOffset Truncate(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
