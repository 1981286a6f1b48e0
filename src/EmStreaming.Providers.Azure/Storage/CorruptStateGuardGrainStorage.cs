using EmStreaming.Providers.Storage;
using Orleans.Runtime;
using Orleans.Storage;

namespace EmStreaming.Providers.Azure.Storage;

/// <summary>
/// Orleans' Azure Blob grain storage behind the EmStreaming contract: a stored state our serializer cannot read surfaces as
/// <see cref="CorruptGrainStateException"/> naming the grain (as the SQLite and in-memory providers do), so the grain layer
/// marks that one model failed instead of seeing a provider-specific error. An ETag conflict stays Orleans'
/// <see cref="InconsistentStateException"/>, completed with the ETag actually stored (Orleans' Blob provider reports
/// "Unknown"), so the loser of a race knows which version won.
/// </summary>
internal sealed class CorruptStateGuardGrainStorage(string name, IGrainStorage inner) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ReadStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw new CorruptGrainStateException(grainId.ToString(), stateName, name, e.Message, e);
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (InconsistentStateException e)
        {
            throw await ConflictAsync<T>(stateName, grainId, grainState.ETag, e).ConfigureAwait(false);
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ClearStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (InconsistentStateException e)
        {
            throw await ConflictAsync<T>(stateName, grainId, grainState.ETag, e).ConfigureAwait(false);
        }
    }

    /// <summary>The conflict with the stored ETag, read once more (conflicts are rare: one extra read on a lost race).</summary>
    private async Task<InconsistentStateException> ConflictAsync<T>(string stateName, GrainId grainId, string? currentETag, InconsistentStateException error)
    {
        string stored;
        try
        {
            var winner = new StoredETagProbe<T>();
            await inner.ReadStateAsync(stateName, grainId, winner).ConfigureAwait(false);
            stored = winner.RecordExists ? winner.ETag ?? "none" : "none (no state stored)";
        }
        catch (Exception e) when (e is FormatException or CorruptGrainStateException)
        {
            stored = "unreadable";
        }

        return new InconsistentStateException(
            $"The state '{stateName}' of grain {grainId} in storage provider '{name}' was changed by another writer (stored ETag {stored}, this writer's {currentETag ?? "none"})",
            stored, currentETag ?? string.Empty, error);
    }

    /// <summary>A read of the same state type, only to learn the stored ETag.</summary>
    private sealed class StoredETagProbe<T> : IGrainState<T>
    {
        public T? State { get; set; }

        public string? ETag { get; set; }

        public bool RecordExists { get; set; }
    }
}
