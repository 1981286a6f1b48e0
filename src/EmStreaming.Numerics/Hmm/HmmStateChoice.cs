using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>One candidate of <see cref="HmmStateChoice.ByBic(DataMatrix, HmmFitOptions, int, IReadOnlyList{CovarianceType}, IProgress{HmmProgress}?, CancellationToken)"/>: a number of states with its fit.</summary>
/// <param name="States">K.</param>
/// <param name="Bic">BIC on the fitted sequence (lower is better).</param>
/// <param name="UnderdeterminedStates">
/// States whose expected occupancy (the sum of their smoothed probabilities) is below the rows that determine their emission:
/// d + 1 for a full covariance, 2 for a diagonal one. Their likelihood is the covariance floor's, not the data's.
/// </param>
/// <param name="Fit">The fit.</param>
public sealed record HmmStateCandidate(int States, double Bic, int UnderdeterminedStates, HmmFitResult Fit)
{
    /// <summary>The emissions' covariance type of this candidate.</summary>
    public CovarianceType Covariance => Fit.Model.CovarianceType;
}

/// <summary>
/// The number of states of a Gaussian HMM chosen by BIC, as <see cref="GaussianMixtureEM.ChooseByBic"/> chooses a mixture's:
/// K = 1, 2, … up to a bound, stopping once BIC has risen twice, the lowest BIC among the fits whose every state has the rows
/// that determine it (the smallest K if none has).
/// </summary>
public sealed class HmmStateChoice
{
    private HmmStateChoice(IReadOnlyList<HmmStateCandidate> candidates)
    {
        Candidates = candidates;
        Best = ComponentSupport.Best(candidates, c => c.Bic, c => c.UnderdeterminedStates);
    }

    /// <summary>Every candidate, by K.</summary>
    public IReadOnlyList<HmmStateCandidate> Candidates { get; }

    /// <summary>The chosen candidate.</summary>
    public HmmStateCandidate Best { get; }

    /// <summary>
    /// Fits K = 1..<paramref name="maxStates"/> states with <paramref name="options"/> (its States is replaced; WarmStart must be
    /// null), stopping after BIC rose twice, and chooses as the class says.
    /// </summary>
    /// <exception cref="ArgumentException">WarmStart is set, or the data cannot be fitted (as <see cref="GaussianHmmEM.Fit(DataMatrix, HmmFitOptions, IProgress{HmmProgress}?, CancellationToken)"/>).</exception>
    public static HmmStateChoice ByBic(DataMatrix data, HmmFitOptions options, int maxStates, IProgress<HmmProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ByBic(data, options, maxStates, [options?.Covariance ?? CovarianceType.Full], progress, cancellationToken);

    /// <summary>
    /// As <see cref="ByBic(DataMatrix, HmmFitOptions, int, IProgress{HmmProgress}?, CancellationToken)"/> for each covariance
    /// type of <paramref name="covarianceTypes"/> (full or diag; options' Covariance is replaced), choosing among all the
    /// candidates: the number of states and the emissions' covariance type together, as a mixture's K and type are chosen.
    /// </summary>
    /// <exception cref="ArgumentException">No covariance type, one an HMM does not support, WarmStart is set, or the data cannot be fitted.</exception>
    public static HmmStateChoice ByBic(
        DataMatrix data, HmmFitOptions options, int maxStates, IReadOnlyList<CovarianceType> covarianceTypes, IProgress<HmmProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(covarianceTypes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStates, 1);
        if (options.WarmStart is not null)
        {
            throw new ArgumentException("WarmStart cannot be used when choosing the number of states", nameof(options));
        }

        if (covarianceTypes.Count == 0 || covarianceTypes.Any(t => t is not (CovarianceType.Full or CovarianceType.Diag)))
        {
            throw new ArgumentException("an HMM's covariance types to choose from are full and diag (at least one)", nameof(covarianceTypes));
        }

        var candidates = new List<HmmStateCandidate>();
        foreach (var type in covarianceTypes)
        {
            var previous = double.PositiveInfinity;
            var rises = 0;
            for (var k = 1; k <= Math.Min(maxStates, data.Rows); k++)
            {
                var fit = GaussianHmmEM.Fit(data, options with { States = k, Covariance = type }, progress, cancellationToken);
                var bic = fit.Bic;
                candidates.Add(new HmmStateCandidate(k, bic, Underdetermined(fit.Model, data), fit));
                rises = bic > previous ? rises + 1 : 0;
                previous = Math.Min(previous, bic);
                if (rises >= 2)
                {
                    break;
                }
            }
        }

        return new HmmStateChoice(candidates);
    }

    /// <summary>States whose expected occupancy over <paramref name="data"/> is below the rows that determine their emission.</summary>
    public static int Underdetermined(GaussianHmm model, DataMatrix data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var k = model.States;
        var probabilities = new double[data.Rows * k];
        model.Smooth(data, probabilities);
        var occupancy = new double[k];
        for (var t = 0; t < data.Rows; t++)
        {
            for (var s = 0; s < k; s++)
            {
                occupancy[s] += probabilities[(t * k) + s];
            }
        }

        return ComponentSupport.Underdetermined(occupancy, model.CovarianceType, model.Dimension);
    }
}
