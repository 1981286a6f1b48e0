namespace EmStreaming.Numerics.Gmm;

/// <summary>One candidate of a model selection over the number of components.</summary>
/// <param name="Components">K.</param>
/// <param name="Bic">BIC on the training data (lower is better).</param>
/// <param name="Aic">AIC on the training data.</param>
/// <param name="MeanLogLikelihood">Mean log-likelihood per sample.</param>
/// <param name="Fit">The full fit.</param>
public sealed record GmmSelectionCandidate(int Components, double Bic, double Aic, double MeanLogLikelihood, GmmFitResult Fit);

/// <summary>Fits for each K in a range and the one with the lowest BIC.</summary>
public sealed class GmmModelSelection
{
    internal GmmModelSelection(IReadOnlyList<GmmSelectionCandidate> candidates)
    {
        Candidates = candidates;
        var best = candidates[0];
        foreach (var c in candidates)
        {
            if (c.Bic < best.Bic)
            {
                best = c;
            }
        }

        BestComponents = best.Components;
        Best = best.Fit;
    }

    /// <summary>One entry per K, ascending.</summary>
    public IReadOnlyList<GmmSelectionCandidate> Candidates { get; }

    /// <summary>K with the lowest BIC (the smallest such K on ties).</summary>
    public int BestComponents { get; }

    /// <summary>The fit for <see cref="BestComponents"/>.</summary>
    public GmmFitResult Best { get; }
}
