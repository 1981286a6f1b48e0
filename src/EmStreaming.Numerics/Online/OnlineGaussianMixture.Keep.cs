using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    /// <summary>
    /// The weight the post-change fit's components get when the model's earlier components fill the other slots. The rows
    /// after the alarm are the newest evidence, so most of it; the kept components stay as a memory the recursion gives weight
    /// back to when their modes return (the drift detector looks at no weight, so a returning mode raises no alarm however
    /// light its component). When the old modes do not return, the kept tenth costs about 0.1·2^(−t/h) nats/row t rows
    /// later under a half-life h: a three-mode mixture that collapsed to one mode was 0.046 nats/row from it 5,000 rows after
    /// the change at h = 2,000, against 0.18 with K'/K of the weight and 0.012 without keeping anything.
    /// </summary>
    private const double FreshShare = 0.9;

    /// <summary>
    /// The drift refit's candidate when the rows after the alarm need fewer components than the model has (BIC on the rows
    /// fitted, among non-degenerate fits of 1 to K components): the fit of those rows for what they show, and the model's
    /// components at the alarm for the slots left. A machine that leaves its modes for one it had not shown yet (or not for
    /// long) gives post-change rows of one mode; a refit of K components on them put every component on that mode, and the
    /// model forgot the others, to relearn them one alarm at a time (<c>StickyModesTests</c>). The K' new and K earlier
    /// components are reduced to K by Runnalls' greedy merging (the pair whose moment-matched merge loses the least,
    /// ½[(w_a + w_b) ln|Σ_ab| − w_a ln|Σ_a| − w_b ln|Σ_b|], first; two new ones never merge): an earlier component merges
    /// into a new one when the rows show its mode again, and into another earlier one when they duplicate each other, so
    /// distinct modes are the last to merge. Null when the rows need all K components (the full refit replaces the model,
    /// as it always did: everything moved) or the covariance is tied (one matrix cannot hold both fits).
    /// </summary>
    /// <param name="fitData">The post-change rows fitted (glitches moved to the edge of the rest).</param>
    /// <param name="before">The reported parameters when the alarm fired (the recursion learned from the post-change rows since).</param>
    /// <param name="full">The best non-degenerate fit of K components to <paramref name="fitData"/>.</param>
    /// <param name="options">That fit's options (the seed included); the fits of fewer components change only the count.</param>
    private GaussianMixture? KeepWhatTheRowsDoNotShow(DataMatrix fitData, GaussianMixture before, GmmFitResult full, GmmFitOptions options)
    {
        if (_k < 2 || _type == CovarianceType.Tied)
        {
            return null;
        }

        // One k-means++ start per count (BIC picks a count, not an optimum). K − 1 first: when it does not beat the K-fit, the
        // rows need all K (a jump of every mode, the common drift: one fit more). Otherwise counts from 1 upwards until BIC
        // gets worse. Trying every count made the alarm's refit 3 to 5 times slower at K = 8, d = 8.
        GmmFitResult? Fit(int components) => FitCandidates.Run(() => GaussianMixtureEM.Fit(fitData, options with { Components = components, Restarts = 1 }))
            .Results
            .FirstOrDefault(f => Degeneracy.Check(f.Model, fitData) is null);

        if (Fit(_k - 1) is not { } fewer || !(fewer.Bic < full.Bic))
        {
            return null;
        }

        var best = fewer;
        var previous = double.PositiveInfinity;
        for (var components = 1; components < _k - 1; components++)
        {
            if (Fit(components) is not { } fit || fit.Bic > previous)
            {
                break;
            }

            previous = fit.Bic;
            if (fit.Bic < best.Bic)
            {
                best = fit;
            }
        }

        return Combine(best.Model, before);
    }

    /// <summary>
    /// The K' components of <paramref name="fresh"/> (<see cref="FreshShare"/> of the weight) and the K components of
    /// <paramref name="before"/> (the rest), reduced to K by Runnalls' greedy merging (see <see cref="KeepWhatTheRowsDoNotShow"/>).
    /// </summary>
    private GaussianMixture Combine(GaussianMixture fresh, GaussianMixture before)
    {
        var kf = fresh.Components;
        var pool = new MixtureReduction.Pool(kf + _k, _d);
        for (var i = 0; i < kf + _k; i++)
        {
            var isFresh = i < kf;
            var (model, k) = isFresh ? (fresh, i) : (before, i - kf);
            pool.Set(i, model, k, (isFresh ? FreshShare : 1 - FreshShare) * model.Weights[k], isFresh ? MixtureReduction.Role.Fresh : MixtureReduction.Role.Free);
        }

        return pool.ReduceTo(_k, _type)!;
    }

    /// <summary>
    /// Makes <paramref name="model"/> the running parameters as they are (labels matched to the current ones): each
    /// component's statistics are its weight, its mean and weight × covariance, so the components the rows do not show
    /// (after a drift alarm, or in a service refit's window) keep what they held (an E-step of those rows, as
    /// <see cref="Adopt"/> takes, would empty them). The covariance
    /// floor is the smaller of the current one and the rows' own, per column: both units stay in the model.
    /// </summary>
    internal void AdoptParameters(GaussianMixture model, ReadOnlySpan<double> window)
    {
        var (theta, stats) = Aligned(model, window);
        var sigma = new double[_d * _d];
        for (var k = 0; k < _k; k++)
        {
            theta.ExpandCovariance(k, sigma);
            stats.AddPoint(k, theta.Weights[k], theta.Means.AsSpan(k * _d, _d), _allIndices, sigma);
        }

        var floor = CovarianceFloor.FromData(window, _d, _options.RelativeRegCovar);
        for (var j = 0; j < _d; j++)
        {
            floor[j] = Math.Min(floor[j], _floor[j]);
        }

        Install(stats, floor);
    }
}
