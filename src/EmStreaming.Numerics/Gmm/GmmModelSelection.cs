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
        var best = ComponentSupport.Best(candidates, c => c.Bic, c => c.Fit.UnderdeterminedComponents);
        BestComponents = best.Components;
        Best = best.Fit;
    }

    /// <summary>One entry per K, ascending.</summary>
    public IReadOnlyList<GmmSelectionCandidate> Candidates { get; }

    /// <summary>
    /// K with the lowest BIC (the smallest such K on ties) among the fits with no underdetermined component
    /// (<see cref="GmmFitResult.UnderdeterminedComponents"/>); the smallest K when every fit has one.
    /// </summary>
    public int BestComponents { get; }

    /// <summary>The fit for <see cref="BestComponents"/>.</summary>
    public GmmFitResult Best { get; }
}

/// <summary>One candidate of <see cref="GaussianMixtureEM.ChooseByBic"/>: a K and covariance type with its fit.</summary>
/// <param name="Components">K.</param>
/// <param name="Covariance">Covariance type.</param>
/// <param name="Bic">The criterion, lower is better: BIC on the fitted data (<see cref="GaussianMixtureEM.ChooseByBic"/>), or the
/// standardized RMSE on hidden entries (<see cref="GaussianMixtureEM.ChooseForImputation"/>).</param>
/// <param name="MeanLogLikelihood">Mean log-likelihood per row.</param>
/// <param name="Fit">The fit.</param>
public sealed record GmmChoiceCandidate(int Components, CovarianceType Covariance, double Bic, double MeanLogLikelihood, GmmFitResult Fit);

/// <summary>The candidates tried by <see cref="GaussianMixtureEM.ChooseByBic"/> and the one with the lowest BIC.</summary>
public sealed class GmmModelChoice
{
    /// <param name="candidates">Every fit, in the order tried.</param>
    /// <param name="bySupportedFits">Pass over fits with an underdetermined component (<see cref="GmmFitResult.UnderdeterminedComponents"/>; the first fit, K = 1, if all have one): BIC's choice; a criterion on held-out entries judges them itself.</param>
    internal GmmModelChoice(IReadOnlyList<GmmChoiceCandidate> candidates, bool bySupportedFits)
    {
        Candidates = candidates;
        Best = ComponentSupport.Best(
            candidates, c => c.Bic, c => bySupportedFits ? c.Fit.UnderdeterminedComponents : 0,
            preferOnTie: (c, best) => c.Fit.Model.ParameterCount < best.Fit.Model.ParameterCount);
    }

    /// <summary>Every candidate, in the order tried (by type, then K).</summary>
    public IReadOnlyList<GmmChoiceCandidate> Candidates { get; }

    /// <summary>The candidate with the lowest criterion (for BIC, among the fits with no underdetermined component when there is one).</summary>
    public GmmChoiceCandidate Best { get; }
}
