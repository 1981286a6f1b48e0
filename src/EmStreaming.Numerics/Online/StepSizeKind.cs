namespace EmStreaming.Numerics.Online;

/// <summary>The family of a <see cref="StepSizeSchedule"/>.</summary>
public enum StepSizeKind
{
    /// <summary>γ_n = max((n + n0)^(−α), γ_min): converges on stationary data (Robbins–Monro for α ∈ (0.5, 1]).</summary>
    Decaying = 0,

    /// <summary>γ_n = γ for every n: exponential forgetting with memory ≈ 1/γ observations, for drifting feeds.</summary>
    Constant = 1,
}
