namespace EmStreaming.Numerics.Gmm;

/// <summary>How batch EM chooses its starting parameters.</summary>
public enum GmmInitialization
{
    /// <summary>Greedy k-means++ seeding followed by a few Lloyd iterations; the hard labels give the first M-step (scikit-learn's default).</summary>
    KMeansPlusPlus,

    /// <summary>Uniform random responsibilities normalized per row, then an M-step (scikit-learn's "random").</summary>
    RandomResponsibilities,
}
