namespace EmStreaming.Grains.Snapshots;

/// <summary>What is stored beside each snapshot version, so listing never reads or rebuilds a model.</summary>
internal sealed record SnapshotMetadata(long Observations, string Reason, int SizeBytes, DateTimeOffset CreatedAt);

/// <summary>A stored snapshot version: its metadata, and its body when it was read.</summary>
internal sealed record SnapshotEntry(long Version, SnapshotMetadata Metadata, byte[]? Data)
{
    public DateTimeOffset CreatedAt => Metadata.CreatedAt;
}

/// <summary>Snapshot history of the models (list, by version, by time, retention).</summary>
internal interface ISnapshotHistory
{
    Task<SnapshotEntry> AppendAsync(string modelId, SnapshotMetadata metadata, byte[] data, int retain, CancellationToken cancellationToken);

    Task<SnapshotEntry?> LatestAsync(string modelId, CancellationToken cancellationToken);

    Task<IReadOnlyList<SnapshotEntry>> ListAsync(string modelId, CancellationToken cancellationToken);

    Task<SnapshotEntry?> ReadAsync(string modelId, long? version, DateTimeOffset? at, CancellationToken cancellationToken);

    Task DeleteAllAsync(string modelId, CancellationToken cancellationToken);
}

/// <summary>In-memory history (until the providers' history is merged in).</summary>
internal sealed class InMemorySnapshotHistory : ISnapshotHistory
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Next, List<SnapshotEntry> Versions)> _models = new(StringComparer.Ordinal);

    public Task<SnapshotEntry> AppendAsync(string modelId, SnapshotMetadata metadata, byte[] data, int retain, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var (next, versions) = _models.TryGetValue(modelId, out var m) ? m : (1, []);
            var entry = new SnapshotEntry(next, metadata, data);
            versions.Add(entry);
            if (versions.Count > Math.Max(1, retain))
            {
                versions.RemoveRange(0, versions.Count - Math.Max(1, retain));
            }

            _models[modelId] = (next + 1, versions);
            return Task.FromResult(entry);
        }
    }

    public Task<SnapshotEntry?> LatestAsync(string modelId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_models.TryGetValue(modelId, out var m) && m.Versions.Count > 0 ? m.Versions[^1] : null);
        }
    }

    public Task<IReadOnlyList<SnapshotEntry>> ListAsync(string modelId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<SnapshotEntry> list = _models.TryGetValue(modelId, out var m) ? [.. m.Versions.Select(v => v with { Data = null })] : [];
            return Task.FromResult(list);
        }
    }

    public Task<SnapshotEntry?> ReadAsync(string modelId, long? version, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_models.TryGetValue(modelId, out var m) || m.Versions.Count == 0)
            {
                return Task.FromResult<SnapshotEntry?>(null);
            }

            return Task.FromResult(
                version is { } v ? m.Versions.FirstOrDefault(e => e.Version == v)
                : at is { } t ? m.Versions.LastOrDefault(e => e.CreatedAt <= t)
                : m.Versions[^1]);
        }
    }

    public Task DeleteAllAsync(string modelId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // The version counter survives a delete, so a re-created model's versions never repeat its predecessor's.
            if (_models.TryGetValue(modelId, out var m))
            {
                _models[modelId] = (m.Next, []);
            }

            return Task.CompletedTask;
        }
    }
}
