using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using EmStreaming.Providers.History;

namespace EmStreaming.Providers.Azure.History;

/// <summary>
/// Snapshot history in Azure Blob Storage: one block blob per version, named <c>{grain}/{version:D19}</c> where
/// <c>{grain}</c> is the SHA-256 of the grain key (keys may hold any character and be 512 long; blob names are
/// limited), so a listing by prefix returns one grain's versions in version order. The metadata (observations, reason,
/// time, the grain key itself) is stored as blob metadata, so listing reads it without downloading a body.
/// </summary>
/// <remarks>
/// Every silo of a cluster may append: a version is created with <c>If-None-Match: *</c>, so two writers that raced for
/// the same number cannot overwrite each other; the loser lists again and takes the next number. Retention runs after
/// each append from the listing the append already made (plus the new version).
/// </remarks>
internal sealed class BlobSnapshotHistory : ISnapshotHistory
{
    private const string ObservationsKey = "observations";
    private const string ReasonKey = "reason";
    private const string TimeKey = "timestampms";
    private const string GrainKey = "grainkey";
    private const int MaxAppendAttempts = 64;
    private const int LockStripes = 64;

    private readonly BlobContainerClient _container;
    private readonly SnapshotHistoryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Lazy<Task> _created;

    // Appends to one grain from this instance take turns (striped by key), so only other silos' writers can race a
    // version number; those races are settled by the conditional create.
    private readonly SemaphoreSlim[] _appendLocks = [.. Enumerable.Range(0, LockStripes).Select(_ => new SemaphoreSlim(1, 1))];

    public BlobSnapshotHistory(BlobContainerClient container, SnapshotHistoryOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (SnapshotHistoryOptionsValidator.Check(options) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _container = container;
        _options = new SnapshotHistoryOptions { MaxVersions = options.MaxVersions, MaxAge = options.MaxAge };
        _timeProvider = timeProvider;
        _created = new Lazy<Task>(() => _container.CreateIfNotExistsAsync());
    }

    public async ValueTask<SnapshotVersion> AppendAsync(string grainKey, SnapshotAppend snapshot, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.Validate(grainKey, snapshot);
        cancellationToken.ThrowIfCancellationRequested();
        var body = BinaryData.FromBytes(snapshot.Data.ToArray());
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var gate = _appendLocks[(StringComparer.Ordinal.GetHashCode(grainKey) & int.MaxValue) % LockStripes];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var versions = await ListAsync(grainKey, cancellationToken).ConfigureAwait(false);
                // Millisecond precision, as every implementation stores it, so ReadAtAsync agrees across them.
                var now = DateTimeOffset.FromUnixTimeMilliseconds(_timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
                var stored = new SnapshotVersion(versions.Count == 0 ? 1 : versions[^1].Version + 1, now, snapshot.Observations, snapshot.Reason, snapshot.Data.Length);
                try
                {
                    await _container.GetBlobClient(BlobName(grainKey, stored.Version)).UploadAsync(body, new BlobUploadOptions
                    {
                        Metadata = Metadata(grainKey, stored),
                        Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (RequestFailedException e) when (e.Status == 409 && attempt < MaxAppendAttempts)
                {
                    // Another silo took this number first: list again and take the next one.
                    continue;
                }

                await ApplyRetentionAsync(grainKey, versions, stored, snapshot.RetainedVersions(_options), cancellationToken).ConfigureAwait(false);
                return stored;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask<IReadOnlyList<SnapshotVersion>> ListAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<SnapshotVersion>();
        await foreach (var blob in _container.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, GrainPrefix(grainKey), cancellationToken).ConfigureAwait(false))
        {
            list.Add(ReadMetadata(blob.Name, grainKey, blob.Metadata, blob.Properties.ContentLength ?? 0));
        }

        // Names are zero-padded version numbers, so the service's lexical order is version order already.
        return list;
    }

    public async ValueTask<StoredSnapshot?> ReadVersionAsync(string grainKey, long version, CancellationToken cancellationToken = default)
    {
        SnapshotHistoryKeys.ValidateKey(grainKey);
        if (version < 1)
        {
            return null;
        }

        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var name = BlobName(grainKey, version);
        try
        {
            var content = (await _container.GetBlobClient(name).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
            var data = content.Content.ToMemory();
            return new StoredSnapshot(ReadMetadata(name, grainKey, content.Details.Metadata, data.Length), data);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async ValueTask<StoredSnapshot?> ReadAtAsync(string grainKey, DateTimeOffset time, CancellationToken cancellationToken = default)
    {
        var versions = await ListAsync(grainKey, cancellationToken).ConfigureAwait(false);
        for (var i = versions.Count - 1; i >= 0; i--)
        {
            if (versions[i].Timestamp <= time)
            {
                return await ReadVersionAsync(grainKey, versions[i].Version, cancellationToken).ConfigureAwait(false);
            }
        }

        return null;
    }

    public async ValueTask DeleteAllAsync(string grainKey, CancellationToken cancellationToken = default)
    {
        var versions = await ListAsync(grainKey, cancellationToken).ConfigureAwait(false);
        await DeleteVersionsAsync(grainKey, versions.Select(v => v.Version), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The folder-like prefix of a grain's versions: the hex SHA-256 of its key's UTF-8 bytes, then '/'.</summary>
    internal static string GrainPrefix(string grainKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grainKey))) + "/";

    internal static string BlobName(string grainKey, long version) =>
        GrainPrefix(grainKey) + version.ToString("D19", CultureInfo.InvariantCulture);

    private async Task EnsureContainerAsync(CancellationToken cancellationToken) =>
        await _created.Value.WaitAsync(cancellationToken).ConfigureAwait(false);

    private async Task ApplyRetentionAsync(string grainKey, IReadOnlyList<SnapshotVersion> before, SnapshotVersion stored, int maxVersions, CancellationToken cancellationToken)
    {
        // Same rule as the other implementations: the new version stays; older ones go when they are beyond
        // MaxVersions back or older than MaxAge.
        var cutoff = stored.Timestamp - _options.MaxAge;
        var expired = before
            .Where(v => v.Version < stored.Version && (v.Version <= stored.Version - maxVersions || v.Timestamp < cutoff))
            .Select(v => v.Version);
        await DeleteVersionsAsync(grainKey, expired, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteVersionsAsync(string grainKey, IEnumerable<long> versions, CancellationToken cancellationToken)
    {
        // DeleteIfExists: a version another silo's retention removed first is not an error.
        await Task.WhenAll(versions.Select(v => _container.GetBlobClient(BlobName(grainKey, v)).DeleteIfExistsAsync(cancellationToken: cancellationToken)))
            .ConfigureAwait(false);
    }

    private static Dictionary<string, string> Metadata(string grainKey, SnapshotVersion version)
    {
        // Metadata values travel as HTTP headers (ASCII): free text is stored as base64 of its UTF-8.
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ObservationsKey] = version.Observations.ToString(CultureInfo.InvariantCulture),
            [TimeKey] = version.Timestamp.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            [GrainKey] = Convert.ToBase64String(Encoding.UTF8.GetBytes(grainKey)),
        };
        if (version.Reason is not null)
        {
            metadata[ReasonKey] = Convert.ToBase64String(Encoding.UTF8.GetBytes(version.Reason));
        }

        return metadata;
    }

    private SnapshotVersion ReadMetadata(string name, string grainKey, IDictionary<string, string> metadata, long size)
    {
        try
        {
            var version = long.Parse(name.AsSpan(name.LastIndexOf('/') + 1), NumberStyles.None, CultureInfo.InvariantCulture);
            var storedKey = Encoding.UTF8.GetString(Convert.FromBase64String(metadata[GrainKey]));
            if (!string.Equals(storedKey, grainKey, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"it belongs to grain '{storedKey}', not '{grainKey}' (SHA-256 prefix collision)");
            }

            var observations = long.Parse(metadata[ObservationsKey], NumberStyles.None, CultureInfo.InvariantCulture);
            var time = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(metadata[TimeKey], NumberStyles.None, CultureInfo.InvariantCulture));
            var reason = metadata.TryGetValue(ReasonKey, out var r) ? Encoding.UTF8.GetString(Convert.FromBase64String(r)) : null;
            return new SnapshotVersion(version, time, observations, reason, checked((int)size));
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException or InvalidDataException)
        {
            throw new InvalidDataException(
                $"Snapshot history blob '{_container.Name}/{name}' has unreadable metadata: {e.Message}", e);
        }
    }
}
