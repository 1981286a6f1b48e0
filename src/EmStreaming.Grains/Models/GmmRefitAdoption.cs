using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Grains.Models;

/// <summary>
/// Restarts an online GMM from refit parameters without losing its schedule position: the statistics become the
/// E-step of the window under the refit parameters (S = s̄(window; θ_refit), the fixed point batch EM converged to),
/// the parameters become θ̄(S), the Polyak–Ruppert average (when on) restarts at those parameters; observation and
/// batch counters, the random state and the re-seeding ring are kept, so the step size continues where it was.
/// </summary>
/// <remarks>
/// The online estimator exposes no "start from these parameters" entry point, so this rewrites its versioned state
/// ("EOGM" v1) field by field with the numerical core's own reader and writer (internals visible to this assembly).
/// A format change in the core fails loudly here (InvalidDataException from the reader), never silently.
/// </remarks>
internal static class GmmRefitAdoption
{
    public static OnlineGaussianMixture Adopt(OnlineGaussianMixture current, GaussianMixture refit, ReadOnlySpan<double> window, int rows)
    {
        var state = current.SaveState();
        var r = new StateReader(state, "EOGM", 1, 1, "online GMM state");
        var w = new StateWriter("EOGM", 1, state.Length);
        var d = r.ReadInt32("dimension");
        var k = r.ReadInt32("components");
        var type = (CovarianceType)r.ReadByte("covariance");
        w.WriteInt32(d);
        w.WriteInt32(k);
        w.WriteByte((byte)type);
        StepSizeSchedule.ReadFrom(ref r).WriteTo(w);
        w.WriteInt32(r.ReadInt32("warmUpObservations"));
        w.WriteInt32(r.ReadInt32("warmUpRestarts"));
        var regCovar = r.ReadDouble("regCovar");
        w.WriteDouble(regCovar);
        w.WriteDouble(r.ReadDouble("reseedWeight"));
        var recentCapacity = r.ReadInt32("recentCapacity");
        w.WriteInt32(recentCapacity);
        w.WriteUInt64(r.ReadUInt64("seed"));
        OnlineRandom.ReadFrom(ref r).WriteTo(w);
        w.WriteInt64(r.ReadInt64("observations"));
        w.WriteInt64(r.ReadInt64("batches"));
        w.WriteInt64(r.ReadInt64("reseeds"));
        w.WriteDouble(r.ReadDouble("lastMeanLogLikelihood"));
        if (r.ReadBoolean("warmingUp"))
        {
            throw new InvalidOperationException("a warming-up estimator has no parameters to replace");
        }

        w.WriteBoolean(false);
        var origin = r.ReadDoubles("origin", d);
        r.ReadDoubles("s0", k);
        r.ReadDoubles("s1", k * d);
        r.ReadDoubles("s2", GmmSufficientStatistics.S2Length(type, k, d));
        SkipParameters(ref r, k, d, type);

        var theta = new GmmParameters(k, d, type);
        refit.Weights.CopyTo(theta.Weights);
        refit.Means.CopyTo(theta.Means);
        refit.Covariances.CopyTo(theta.Covariances);
        if (!theta.TryRefreshFactors(out var failed))
        {
            throw new InvalidOperationException($"refit component {failed} is not positive definite");
        }

        var stats = new GmmSufficientStatistics(k, d, type, origin);
        var scratch = new double[GmmParameters.RowScratchLength(d)];
        var logDensity = new double[k];
        var resp = new double[k];
        var weight = 1.0 / rows;
        for (var i = 0; i < rows; i++)
        {
            var x = window.Slice(i * d, d);
            theta.LogDensitiesRow(x, logDensity, scratch);
            var max = double.NegativeInfinity;
            for (var j = 0; j < k; j++)
            {
                logDensity[j] += theta.LogWeights[j];
                max = Math.Max(max, logDensity[j]);
            }

            var sum = 0.0;
            for (var j = 0; j < k; j++)
            {
                resp[j] = Math.Exp(logDensity[j] - max);
                sum += resp[j];
            }

            for (var j = 0; j < k; j++)
            {
                resp[j] /= sum;
            }

            stats.AccumulateRow(x, resp, theta, scratch, weight);
        }

        var next = new GmmParameters(k, d, type);
        stats.MaximizeInto(next, regCovar, default);
        if (!next.TryRefreshFactors(out failed))
        {
            throw new InvalidOperationException($"component {failed} is not positive definite after adoption");
        }

        w.WriteDoubles(stats.Origin);
        w.WriteDoubles(stats.S0);
        w.WriteDoubles(stats.S1);
        w.WriteDoubles(stats.S2);
        WriteParameters(w, next);
        var averaging = r.ReadBoolean("averaging");
        w.WriteBoolean(averaging);
        if (averaging)
        {
            SkipParameters(ref r, k, d, type);
            WriteParameters(w, next);
        }

        w.WriteInt32(r.ReadInt32("recentCount"));
        w.WriteInt32(r.ReadInt32("recentNext"));
        w.WriteDoubles(r.ReadDoubles("recentRows", recentCapacity * d));
        w.WriteDoubles(r.ReadDoubles("recentLogDensity", recentCapacity));
        r.EnsureEnd();
        return OnlineGaussianMixture.Restore(w.ToArray());
    }

    private static void SkipParameters(ref StateReader r, int k, int d, CovarianceType type)
    {
        var cov = GmmParameters.CovarianceLength(type, k, d);
        r.ReadDoubles("weights", k);
        r.ReadDoubles("logWeights", k);
        r.ReadDoubles("means", k * d);
        r.ReadDoubles("covariances", cov);
        r.ReadDoubles("cholesky", cov);
        r.ReadDoubles("inverseCholesky", cov);
        r.ReadDoubles("logNormalizers", k);
    }

    private static void WriteParameters(StateWriter w, GmmParameters p)
    {
        w.WriteDoubles(p.Weights);
        w.WriteDoubles(p.LogWeights);
        w.WriteDoubles(p.Means);
        w.WriteDoubles(p.Covariances);
        w.WriteDoubles(p.Cholesky);
        w.WriteDoubles(p.InverseCholesky);
        w.WriteDoubles(p.LogNormalizers);
    }
}
