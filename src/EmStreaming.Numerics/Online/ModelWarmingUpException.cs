namespace EmStreaming.Numerics.Online;

/// <summary>
/// Thrown by queries on an online estimator that has not yet buffered enough rows for its first fit: it has no
/// parameters to answer with. Check <see cref="OnlineGaussianMixture.IsWarmingUp"/> or use the TryGet members to avoid it.
/// </summary>
public sealed class ModelWarmingUpException : InvalidOperationException
{
    /// <summary>Creates the exception for an estimator still needing <paramref name="remaining"/> rows.</summary>
    public ModelWarmingUpException(int remaining)
        : base($"The model is warming up: {remaining} more row(s) are needed before its first fit, so it has no parameters yet.")
    {
        Remaining = remaining;
    }

    /// <summary>Rows still needed before the first fit.</summary>
    public int Remaining { get; }
}
