using System.IO.Hashing;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace EmStreaming.Providers.Storage;

/// <summary>The rules both grain storages share: ETags, the checksum of a stored payload, and how a payload becomes a state.</summary>
internal static class GrainStateRecords
{
    public static string NewETag() => Guid.NewGuid().ToString("N");

    public static long Checksum(ReadOnlySpan<byte> data) => unchecked((long)XxHash64.HashToUInt64(data));

    public static InconsistentStateException Conflict(string provider, GrainId grainId, string stateName, string? expected, string? current) =>
        new($"Grain state '{stateName}' of {grainId} in storage provider '{provider}' was changed by someone else: expected ETag " +
            $"'{expected ?? "<none>"}', found '{current ?? "<none>"}'. Nothing was written; re-read the state and retry.", current, expected);

    /// <summary>Fills <paramref name="grainState"/> from a stored row, or with a fresh state when there is none.</summary>
    /// <exception cref="CorruptGrainStateException">The checksum does not match or the bytes do not decode.</exception>
    public static void Load<T>(
        IGrainState<T> grainState, IGrainStorageSerializer serializer, IActivatorProvider activators, string provider, GrainId grainId, string stateName,
        string? etag, byte[]? data, long checksum)
    {
        if (etag is null || data is null)
        {
            grainState.State = Fresh<T>(activators);
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        T? state;
        try
        {
            if (Checksum(data) != checksum)
            {
                throw new CorruptGrainStateException(grainId.ToString(), stateName, provider, $"checksum mismatch over {data.Length} bytes");
            }

            try
            {
                state = serializer.Deserialize<T>(new BinaryData(data));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new CorruptGrainStateException(grainId.ToString(), stateName, provider, ex.Message, ex);
            }

            state = state ?? throw new CorruptGrainStateException(grainId.ToString(), stateName, provider, "the payload decodes to null");
        }
        catch (CorruptGrainStateException e) when (TryTolerate(grainState, Fresh<T>(activators), etag, e))
        {
            return;
        }

        grainState.State = state;
        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    /// <summary>
    /// For a <see cref="ICorruptionTolerantGrainState"/> type: <paramref name="candidate"/> (a fresh or reusable state
    /// object) marked with the corruption becomes the state, with the stored ETag and <c>RecordExists</c> (see the interface
    /// for why); false for any other type, whose read then fails with <paramref name="corruption"/>.
    /// </summary>
    public static bool TryTolerate<T>(IGrainState<T> grainState, T? candidate, string? storedETag, CorruptGrainStateException corruption)
    {
        if (candidate is not ICorruptionTolerantGrainState tolerant)
        {
            return false;
        }

        tolerant.MarkCorrupt(corruption.Message);
        grainState.State = candidate;
        grainState.ETag = storedETag;
        grainState.RecordExists = true;
        return true;
    }

    /// <summary>A fresh state as Orleans' own storages make it (the type's activator, not only a parameterless constructor).</summary>
    public static T Fresh<T>(IActivatorProvider activators) => activators.GetActivator<T>().Create();

    public static void ValidateName(string stateName)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateName);
    }
}
