namespace EmStreaming.Numerics.Gmm;

/// <summary>Progress of a fit: reported after each EM iteration.</summary>
/// <param name="Restart">Zero-based restart index.</param>
/// <param name="Iteration">One-based iteration within the restart.</param>
/// <param name="MeanLogLikelihood">Mean log-likelihood per sample after this iteration's M-step.</param>
public readonly record struct GmmProgress(int Restart, int Iteration, double MeanLogLikelihood);
