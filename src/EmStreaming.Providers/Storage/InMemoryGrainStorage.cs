using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace EmStreaming.Providers.Storage;

/// <summary>
/// Grain storage in memory, for tests: the same ETag, serializer and corruption rules as <see cref="SqliteGrainStorage"/>,
/// stored as serialized bytes so a test exercises the real format. Not durable beyond the process.
/// </summary>
internal sealed class InMemoryGrainStorage(string name, IGrainStorageSerializer serializer, IActivatorProvider activators) : IGrainStorage
{
    private readonly Dictionary<(GrainId, string), Record> _records = [];

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        Record? record;
        lock (_records)
        {
            _records.TryGetValue((grainId, stateName), out record);
        }

        GrainStateRecords.Load(grainState, serializer, activators, name, grainId, stateName, record?.ETag, record?.Data, record?.Checksum ?? 0);
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var data = serializer.Serialize(grainState.State).ToArray();
        var etag = GrainStateRecords.NewETag();
        lock (_records)
        {
            CheckETag(stateName, grainId, grainState.ETag);
            _records[(grainId, stateName)] = new Record(etag, data, GrainStateRecords.Checksum(data));
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        GrainStateRecords.ValidateName(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        lock (_records)
        {
            CheckETag(stateName, grainId, grainState.ETag);
            _records.Remove((grainId, stateName));
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = GrainStateRecords.Fresh<T>(activators);
        return Task.CompletedTask;
    }

    private void CheckETag(string stateName, GrainId grainId, string? expected)
    {
        var current = _records.TryGetValue((grainId, stateName), out var record) ? record.ETag : null;
        if (current != expected)
        {
            throw GrainStateRecords.Conflict(name, grainId, stateName, expected, current);
        }
    }

    private sealed record Record(string ETag, byte[] Data, long Checksum);
}
