namespace EmStreaming.Runtime.Storage;

/// <summary>Snapshot store in memory, for tests and ephemeral silos.</summary>
internal sealed class InMemorySnapshotStore(TimeProvider timeProvider) : ISnapshotStore
{
    private readonly Dictionary<GrainId, List<GrainSnapshot>> _grains = [];

    public ValueTask<GrainSnapshot?> ReadAsync(GrainId id, CancellationToken cancellationToken = default)
    {
        lock (_grains)
        {
            return ValueTask.FromResult(_grains.TryGetValue(id, out var versions) ? versions[^1] : null);
        }
    }

    public ValueTask<GrainSnapshot?> ReadVersionAsync(GrainId id, long version, CancellationToken cancellationToken = default)
    {
        lock (_grains)
        {
            return ValueTask.FromResult(_grains.TryGetValue(id, out var versions) ? versions.Find(s => s.Version == version) : null);
        }
    }

    public ValueTask<GrainSnapshot?> ReadAtAsync(GrainId id, DateTimeOffset time, CancellationToken cancellationToken = default)
    {
        lock (_grains)
        {
            return ValueTask.FromResult(_grains.TryGetValue(id, out var versions) ? versions.FindLast(s => s.Timestamp <= time) : null);
        }
    }

    public ValueTask<GrainSnapshot> WriteAsync(GrainId id, SnapshotWrite write, string? expectedETag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        GrainKey.Validate(id.Type, "grain type");
        GrainKey.Validate(id.Key, "grain key");
        var checkpoint = SnapshotETag.Copy(write.Checkpoint);
        var tag = write.ValidatedTag;
        var now = timeProvider.GetUtcNow();
        lock (_grains)
        {
            _grains.TryGetValue(id, out var versions);
            var current = versions?[^1];
            if (current?.ETag != expectedETag)
            {
                throw new InconsistentStateException(id, expectedETag, current?.ETag);
            }

            var snapshot = new GrainSnapshot(
                id, (current?.Version ?? 0) + 1, SnapshotETag.New(), now, write.Data.ToArray(), checkpoint, tag);
            if (versions is null)
            {
                _grains[id] = versions = [];
            }

            versions.Add(snapshot);
            var retention = write.Retention ?? SnapshotRetention.Default;
            var cutoff = now - retention.MaxAge;
            var keepFrom = versions.Count - retention.MaxVersions;
            var index = 0;
            versions.RemoveAll(s => (index++ < keepFrom || s.Timestamp < cutoff) && !ReferenceEquals(s, snapshot));
            return ValueTask.FromResult(snapshot);
        }
    }

    public ValueTask<IReadOnlyList<SnapshotHistoryEntry>> ListHistoryAsync(GrainId id, CancellationToken cancellationToken = default)
    {
        lock (_grains)
        {
            IReadOnlyList<SnapshotHistoryEntry> history = _grains.TryGetValue(id, out var versions)
                ? versions.ConvertAll(s => new SnapshotHistoryEntry(s.Version, s.Timestamp, s.Data.Length, s.Tag))
                : [];
            return ValueTask.FromResult(history);
        }
    }

    public ValueTask DeleteAsync(GrainId id, string? expectedETag, CancellationToken cancellationToken = default)
    {
        lock (_grains)
        {
            var current = _grains.TryGetValue(id, out var versions) ? versions[^1].ETag : null;
            if (current != expectedETag)
            {
                throw new InconsistentStateException(id, expectedETag, current);
            }

            _grains.Remove(id);
            return ValueTask.CompletedTask;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal static class SnapshotETag
{
    public static string New() => Guid.NewGuid().ToString("N");

    public static IReadOnlyDictionary<string, long> Copy(IReadOnlyDictionary<string, long>? checkpoint)
    {
        if (checkpoint is null || checkpoint.Count == 0)
        {
            return System.Collections.Frozen.FrozenDictionary<string, long>.Empty;
        }

        foreach (var ns in checkpoint.Keys)
        {
            GrainKey.Validate(ns, "checkpoint namespace");
        }

        return checkpoint.ToDictionary(StringComparer.Ordinal);
    }

    /// <summary>Checkpoint text form "ns=pos;ns=pos": namespaces are validated keys, so '=' and ';' cannot occur in them.</summary>
    public static string Encode(IReadOnlyDictionary<string, long> checkpoint) =>
        string.Join(';', checkpoint.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));

    public static IReadOnlyDictionary<string, long> Decode(string text)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            result[part[..eq]] = long.Parse(part.AsSpan(eq + 1), System.Globalization.CultureInfo.InvariantCulture);
        }

        return result;
    }
}
