using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// The statistics recursion of Cappé (2011), "Online EM algorithm for hidden Markov models". For each end state
/// k the auxiliary statistic ρ(·|k) is one block of length L = K·K (transition counts q(i, j)) + K·P (emission
/// statistics, P = 1 + D + S2 values per state, laid out as in <c>GmmSufficientStatistics</c>: s0 (K), then s1 (K×D),
/// then s2 (K×S2)). Blocks are stored one after the other: ρ is K×L, row k = end state k.
/// Cost per observation: K·K·L multiply-adds, i.e. O(K⁴) for the transition part, as the paper notes.
/// </summary>
internal static class OnlineHmmRecursion
{
    /// <summary>
    /// Backward kernel r(l | k) = φ(l) A(l, k) / pred(k), written as <paramref name="kernel"/>[k·K + l] so the
    /// weights for one end state are contiguous. A state that cannot be reached (pred(k) = 0) gets r(·|k) = φ,
    /// which keeps its block finite; that block is then multiplied by φ_new(k) = 0 anyway.
    /// </summary>
    public static void BackwardKernel(ReadOnlySpan<double> phi, ReadOnlySpan<double> transitions, ReadOnlySpan<double> pred, int k, Span<double> kernel)
    {
        for (var j = 0; j < k; j++)
        {
            var row = kernel.Slice(j * k, k);
            var pj = pred[j];
            if (pj > 0.0)
            {
                var inv = 1.0 / pj;
                for (var l = 0; l < k; l++)
                {
                    row[l] = phi[l] * transitions[l * k + j] * inv;
                }
            }
            else
            {
                phi[..k].CopyTo(row);
            }
        }
    }

    /// <summary>
    /// ρ_new(·|k) = (1 − γ) Σ_l r(l|k) ρ(·|l) + γ · s̄(·, k, x), where the fresh statistic puts r(i|k) on the
    /// transition count q(i, k) and the emission statistics ψ_k(x) of state k (conditional expectations when
    /// entries are missing) on state k's emission slot.
    /// </summary>
    /// <remarks><c>psi</c>: K·P: the emission statistics of x under each state (s0 | s1 | s2 layout).</remarks>
    public static void UpdateStatistics(
        ReadOnlySpan<double> rho,
        Span<double> rhoNew,
        ReadOnlySpan<double> kernel,
        ReadOnlySpan<double> psi,
        double gamma,
        int k,
        int d,
        int s2)
    {
        var p = 1 + d + s2;
        var kk = k * k;
        var len = kk + k * p;
        var keep = 1.0 - gamma;
        for (var j = 0; j < k; j++)
        {
            var dst = rhoNew.Slice(j * len, len);
            var w = kernel.Slice(j * k, k);
            if (keep != 0.0)
            {
                TensorPrimitives.Multiply(rho[..len], keep * w[0], dst);
                for (var l = 1; l < k; l++)
                {
                    TensorPrimitives.MultiplyAdd(rho.Slice(l * len, len), keep * w[l], dst, dst);
                }
            }
            else
            {
                dst.Clear();
            }

            for (var i = 0; i < k; i++)
            {
                dst[i * k + j] += gamma * w[i];
            }

            AddStateSlot(psi, dst[kk..], j, gamma, k, d, s2);
        }
    }

    /// <summary>Adds factor·(state j's entries of <paramref name="source"/>) to the same entries of <paramref name="destination"/> (s0 | s1 | s2 layout).</summary>
    public static void AddStateSlot(ReadOnlySpan<double> source, Span<double> destination, int j, double factor, int k, int d, int s2)
    {
        destination[j] += factor * source[j];
        var o1 = k + (j * d);
        for (var i = 0; i < d; i++)
        {
            destination[o1 + i] += factor * source[o1 + i];
        }

        var o2 = k + (k * d) + (j * s2);
        for (var i = 0; i < s2; i++)
        {
            destination[o2 + i] += factor * source[o2 + i];
        }
    }

    /// <summary>S = Σ_k φ(k) ρ(·|k).</summary>
    public static void Combine(ReadOnlySpan<double> rho, ReadOnlySpan<double> phi, int k, int len, Span<double> statistics)
    {
        TensorPrimitives.Multiply(rho[..len], phi[0], statistics[..len]);
        for (var j = 1; j < k; j++)
        {
            TensorPrimitives.MultiplyAdd(rho.Slice(j * len, len), phi[j], statistics[..len], statistics[..len]);
        }
    }

    /// <summary>
    /// First observation of a sequence: there is no transition, so every ρ(·|k) restarts from the combined
    /// statistic of what came before (zero for the very first observation) plus state k's emission statistic.
    /// </summary>
    public static void UpdateStatisticsAtSequenceStart(
        ReadOnlySpan<double> previous,
        Span<double> rhoNew,
        ReadOnlySpan<double> psi,
        double gamma,
        int k,
        int d,
        int s2)
    {
        var kk = k * k;
        var len = kk + (k * (1 + d + s2));
        for (var j = 0; j < k; j++)
        {
            var dst = rhoNew.Slice(j * len, len);
            TensorPrimitives.Multiply(previous[..len], 1.0 - gamma, dst);
            AddStateSlot(psi, dst[kk..], j, gamma, k, d, s2);
        }
    }

    /// <summary>Scratch doubles <see cref="Step"/> needs for K states.</summary>
    public static int StepScratchLength(int k) => 2 * k + k * k;

    /// <summary>
    /// One observation of the online recursion: filter update φ, and (when <paramref name="accumulate"/>) the
    /// statistics ρ and S = Σ_k φ(k) ρ(·|k). ρ is updated through <paramref name="rhoScratch"/> and copied back.
    /// Returns the log predictive density log p(x_n | x_1..n−1), and leaves the predicted regime probabilities
    /// p(z_n | x_1..n−1) in <c>scratch[..k]</c> (the drift test's expected loss reads them there).
    /// </summary>
    /// <remarks><c>logEmission</c>: log g_k(x_n) for each state (K).</remarks>
    /// <remarks><c>psi</c>: K·P emission statistics of x_n under each state (s0 | s1 | s2 layout, P = 1 + d + s2); unused when not accumulating.</remarks>
    /// <remarks><c>sequenceStart</c>: true for the first observation of a sequence (prediction = start probabilities).</remarks>
    public static double Step(
        ReadOnlySpan<double> logEmission,
        ReadOnlySpan<double> psi,
        ReadOnlySpan<double> start,
        ReadOnlySpan<double> transitions,
        bool sequenceStart,
        bool accumulate,
        double gamma,
        Span<double> phi,
        Span<double> rho,
        Span<double> rhoScratch,
        Span<double> statistics,
        Span<double> scratch,
        int k,
        int d,
        int s2)
    {
        var p = 1 + d + s2;
        var pred = scratch[..k];
        var emission = scratch.Slice(k, k);
        var kernel = scratch.Slice(2 * k, k * k);
        if (sequenceStart)
        {
            start[..k].CopyTo(pred);
        }
        else
        {
            HmmForwardBackward.Predict(phi, transitions, k, pred);
            if (accumulate)
            {
                BackwardKernel(phi, transitions, pred, k, kernel);
            }
        }

        var shift = logEmission[0];
        for (var j = 1; j < k; j++)
        {
            if (logEmission[j] > shift)
            {
                shift = logEmission[j];
            }
        }

        for (var j = 0; j < k; j++)
        {
            // Clamped like the batch path: keeps the products out of the slow subnormal range.
            emission[j] = Math.Exp(Math.Max(logEmission[j] - shift, -300.0));
        }

        var logPredictive = HmmForwardBackward.Update(pred, emission, logEmission, shift, phi[..k]);
        if (accumulate)
        {
            var len = k * k + k * p;
            if (sequenceStart)
            {
                UpdateStatisticsAtSequenceStart(statistics, rhoScratch, psi, gamma, k, d, s2);
            }
            else
            {
                UpdateStatistics(rho, rhoScratch, kernel, psi, gamma, k, d, s2);
            }

            rhoScratch[..(k * len)].CopyTo(rho);
            Combine(rho, phi, k, len, statistics);
        }

        return logPredictive;
    }
}
