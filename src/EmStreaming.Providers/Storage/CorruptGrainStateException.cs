using Orleans.Runtime;

namespace EmStreaming.Providers.Storage;

/// <summary>
/// A grain's stored state cannot be read: its checksum does not match, or its bytes are not a valid encoding of the state
/// type. Only that grain is affected (the grain layer marks that one model failed); nothing is changed in storage.
/// </summary>
[GenerateSerializer]
public sealed class CorruptGrainStateException : OrleansException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="grainId">The grain, as text (e.g. <c>model/sensor-1</c>).</param>
    /// <param name="stateName">The state name.</param>
    /// <param name="provider">The storage provider's name.</param>
    /// <param name="reason">What is wrong.</param>
    /// <param name="innerException">The decoder's error, if any.</param>
    public CorruptGrainStateException(string grainId, string stateName, string provider, string reason, Exception? innerException = null)
        : base($"The stored state '{stateName}' of grain {grainId} in storage provider '{provider}' is corrupt: {reason}", innerException!)
    {
        GrainId = grainId;
        StateName = stateName;
    }

    /// <summary>The grain, as text.</summary>
    [Id(0)]
    public string GrainId { get; private set; }

    /// <summary>The state name.</summary>
    [Id(1)]
    public string StateName { get; private set; }
}
