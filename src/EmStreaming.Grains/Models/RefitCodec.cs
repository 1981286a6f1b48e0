using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Grains.Models;

/// <summary>Refit parameters as a flat vector of doubles (the body of a refit-result record), and the refit itself.</summary>
internal static class RefitCodec
{
    public static double[] FromGmm(GaussianMixture m) => [.. m.Weights, .. m.Means, .. m.Covariances];

    public static double[] FromHmm(GaussianHmm m) => [.. m.StartProbabilities, .. m.Transitions, .. m.Means, .. m.Covariances];

    public static GaussianMixture ToGmm(ModelDefinition definition, double[] p)
    {
        int k = definition.Components, d = definition.Dimension;
        return GaussianMixture.Create(p.AsSpan(0, k), p.AsSpan(k, k * d), p.AsSpan(k + (k * d)), k, d, definition.Covariance);
    }

    public static GaussianHmm ToHmm(ModelDefinition definition, double[] p)
    {
        int k = definition.Components, d = definition.Dimension;
        return GaussianHmm.Create(p.AsSpan(0, k), p.AsSpan(k, k * k), p.AsSpan(k + (k * k), k * d), p.AsSpan(k + (k * k) + (k * d)), k, d, definition.Covariance);
    }

    /// <summary>
    /// Batch EM over the window, warm-started from the current parameters, plus <see cref="RefitPolicy.Restarts"/> seeded
    /// restarts; the best mean log-likelihood on the window wins. Pure: runs off the grain's turn on immutable copies.
    /// </summary>
    public static double[] Run(RefitJob job, CancellationToken cancellationToken)
    {
        var definition = job.Definition;

        // A glitch in the window (one reading of 1e6) would get a component of its own, and the degeneracy check would refuse
        // every refit while it stays in the window: the fit takes it at the edge of the other rows (InfluenceBound.WithoutGlitches).
        job = job with { Window = InfluenceBound.WithoutGlitches(job.Window) };
        var seed = definition.Seed ^ unchecked((ulong)job.Sequence * 0x9E3779B97F4A7C15UL);
        if (job.Gmm is { } gmm)
        {
            var options = new GmmFitOptions { Components = definition.Components, Covariance = definition.Covariance, Seed = seed, MaxDegreeOfParallelism = 1 };
            var best = Best(
                () => GaussianMixtureEM.Fit(job.Window, options with { WarmStart = gmm }, ct: cancellationToken),
                definition.Refit.Restarts > 0 ? () => GaussianMixtureEM.Fit(job.Window, options with { Restarts = definition.Refit.Restarts }, ct: cancellationToken) : null,
                f => f.MeanLogLikelihood);
            return FromGmm(best.Model);
        }

        var hmm = job.Hmm ?? throw new InvalidOperationException("refit of a model without parameters");
        var hmmOptions = new HmmFitOptions { States = definition.Components, Covariance = definition.Covariance, Seed = seed, MaxDegreeOfParallelism = 1 };
        var bestHmm = Best(
            () => GaussianHmmEM.Fit(job.Window, hmmOptions with { WarmStart = hmm }, cancellationToken: cancellationToken),
            definition.Refit.Restarts > 0 ? () => GaussianHmmEM.Fit(job.Window, hmmOptions with { Restarts = definition.Refit.Restarts }, cancellationToken: cancellationToken) : null,
            f => f.MeanLogLikelihood);
        return FromHmm(bestHmm.Model);
    }

    /// <summary>
    /// The better of the warm-started fit and the restarts, each tried on its own (<see cref="FitCandidates"/>): the restarts
    /// win only when strictly better. Throws only when every fit failed (the last failure).
    /// </summary>
    private static T Best<T>(Func<T> warm, Func<T>? restarts, Func<T, double> score)
    {
        var (results, failure) = restarts is null ? FitCandidates.Run(warm) : FitCandidates.Run(warm, restarts);
        if (results.Count == 0)
        {
            throw failure!;
        }

        var best = results[0];
        foreach (var result in results.Skip(1))
        {
            if (score(result) > score(best))
            {
                best = result;
            }
        }

        return best;
    }
}
