using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// The two halves of one online-EM step on GMM statistics, kept apart so the recursion can be checked with a frozen
/// E-step: <see cref="Blend"/> is S_next = (1 − γ) S + (γ / m) · Σ_batch s̄.
/// </summary>
internal static class OnlineGmmRecursion
{
    /// <summary>next ← (1 − γ)·current + (γ / m)·batchSum, where batchSum holds the summed statistics of m rows.</summary>
    public static void Blend(GmmSufficientStatistics current, GmmSufficientStatistics batchSum, int m, double gamma, GmmSufficientStatistics next)
    {
        next.ScaledCopyOf(current, 1.0 - gamma);
        next.Add(batchSum, gamma / m);
    }
}
