namespace EmStreaming.Numerics.Online;

/// <summary>
/// Former name of the online estimators' generator, now <see cref="DeterministicRandom"/>. Only this forwarder is left,
/// for EmStreaming.Grains (GmmRefitAdoption copies a saved generator state through it); delete it once that calls
/// <see cref="DeterministicRandom.ReadFrom"/> directly.
/// </summary>
internal static class OnlineRandom
{
    public static DeterministicRandom ReadFrom(ref StateReader reader) => DeterministicRandom.ReadFrom(ref reader);
}
