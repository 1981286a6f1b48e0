namespace EmStreaming.Numerics;

/// <summary>
/// Alternative fits of the same rows (a warm start from the current model and fresh seeded restarts), each run on its own.
/// EM from a start far from where the data went can fail (no positive definite covariance after a jump of 1e8 σ) where the
/// fresh restarts succeed: one failure must not throw away the fits that worked. Used by the service's refits, the online
/// GMM's drift recovery and the CLI's HMM drift watch.
/// </summary>
public static class FitCandidates
{
    /// <summary>
    /// Runs every fit in order; returns those that succeeded (in that order) and the last failure (null when none failed). A
    /// fit fails by throwing <see cref="ArgumentException"/> or <see cref="InvalidOperationException"/> (rows a start cannot
    /// fit); anything else, cancellation included, propagates.
    /// </summary>
    public static (List<T> Results, Exception? LastFailure) Run<T>(params Func<T>[] fits)
    {
        ArgumentNullException.ThrowIfNull(fits);
        var results = new List<T>(fits.Length);
        Exception? failure = null;
        foreach (var fit in fits)
        {
            try
            {
                results.Add(fit());
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                failure = e;
            }
        }

        return (results, failure);
    }
}
