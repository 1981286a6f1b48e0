using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Scaled forward–backward over a precomputed log-emission matrix (n×K, row-major). Kernels only:
/// every buffer is owned by the caller, nothing is allocated.
/// </summary>
internal static class HmmForwardBackward
{
    // Below this the per-step normalizer of the scaled recursion is not trusted and the step is redone exactly in
    // the log domain: either the product underflowed, or the mass comes only from emissions clamped at
    // MinShiftedLog (e^-300 ≈ 5e-131, negligible next to any normalizer above 1e-100). Only reachable when the
    // states that explain the observation are (nearly) unreachable through the transitions.
    private const double UnderflowGuard = 1e-100;

    // Shifted log-densities are clamped here before exp, and filtered probabilities below TinyProbability are set to
    // zero: relative changes of e^-300 and 1e-150 are invisible in float64 sums, but they keep every product of the
    // recursions out of the subnormal range, where x86 arithmetic is 10-100x slower.
    private const double MinShiftedLog = -300.0;
    private const double TinyProbability = 1e-150;

    /// <summary>
    /// Writes exp(row − max(row)) of each row of <paramref name="logEmission"/> to <paramref name="emission"/>,
    /// so every row has entries in [0, 1] with at least one equal to 1, and the row maxima to
    /// <paramref name="rowMax"/>. Uses one vectorized exponential over the whole matrix.
    /// </summary>
    public static void ShiftAndExponentiate(ReadOnlySpan<double> logEmission, int n, int k, Span<double> emission, Span<double> rowMax)
    {
        for (var t = 0; t < n; t++)
        {
            var row = logEmission.Slice(t * k, k);
            var dst = emission.Slice(t * k, k);
            var m = row[0];
            for (var j = 1; j < k; j++)
            {
                if (row[j] > m)
                {
                    m = row[j];
                }
            }

            rowMax[t] = m;
            for (var j = 0; j < k; j++)
            {
                dst[j] = Math.Max(row[j] - m, MinShiftedLog);
            }
        }

        TensorPrimitives.Exp(emission[..(n * k)], emission);
    }

    /// <summary>
    /// Scaled forward pass. <paramref name="emission"/> holds exp(log g_j(x_t) − rowMax_t) as produced by
    /// <see cref="ShiftAndExponentiate"/>; on exit <paramref name="alpha"/> (n×K) holds the filtered
    /// probabilities p(z_t | x_1..t), each row summing to 1. Returns log p(x_1..n).
    /// </summary>
    /// <remarks><c>logEmission</c>: the unshifted log densities; only read by the underflow fallback.</remarks>
    /// <remarks><c>pred</c>: scratch of length K.</remarks>
    public static double Forward(
        ReadOnlySpan<double> logEmission,
        ReadOnlySpan<double> emission,
        ReadOnlySpan<double> rowMax,
        int n,
        int k,
        ReadOnlySpan<double> start,
        ReadOnlySpan<double> transitions,
        Span<double> alpha,
        Span<double> pred)
    {
        // log p(x_1..n) = Σ_t (rowMax_t + ln c_t). The c_t are multiplied into a running product and its log taken
        // only when it gets small: one log per ~tens of steps instead of one per step. c_t ≥ UnderflowGuard and the
        // product is flushed below 1e-15, so it never leaves the normal range.
        var logLikelihood = 0.0;
        var product = 1.0;
        for (var t = 0; t < n; t++)
        {
            if (t == 0)
            {
                start[..k].CopyTo(pred);
            }
            else
            {
                Predict(alpha.Slice((t - 1) * k, k), transitions, k, pred);
            }

            var b = emission.Slice(t * k, k);
            var a = alpha.Slice(t * k, k);
            var c = 0.0;
            for (var j = 0; j < k; j++)
            {
                var v = pred[j] * b[j];
                a[j] = v;
                c += v;
            }

            logLikelihood += rowMax[t];
            if (c > UnderflowGuard)
            {
                var inv = 1.0 / c;
                for (var j = 0; j < k; j++)
                {
                    var v = a[j] * inv;
                    a[j] = v < TinyProbability ? 0.0 : v;
                }

                product *= c;
                if (product < 1e-15)
                {
                    logLikelihood += Math.Log(product);
                    product = 1.0;
                }
            }
            else
            {
                logLikelihood += UpdateLogDomain(pred, logEmission.Slice(t * k, k), a) - rowMax[t];
            }
        }

        return logLikelihood + Math.Log(product);
    }

    /// <summary>pred(j) = Σ_i φ(i) A(i, j).</summary>
    public static void Predict(ReadOnlySpan<double> phi, ReadOnlySpan<double> transitions, int k, Span<double> pred)
    {
        pred[..k].Clear();
        for (var i = 0; i < k; i++)
        {
            var p = phi[i];
            if (p == 0.0)
            {
                continue;
            }

            var row = transitions.Slice(i * k, k);
            for (var j = 0; j < k; j++)
            {
                pred[j] += p * row[j];
            }
        }
    }

    /// <summary>
    /// One filter update: φ(j) ∝ pred(j) · g_j(x), normalized into <paramref name="phi"/>.
    /// <paramref name="emission"/> is exp(log g − shift) and <paramref name="logEmission"/> is log g. Returns
    /// log Σ_j pred(j) g_j(x), the log predictive density of the observation.
    /// </summary>
    public static double Update(ReadOnlySpan<double> pred, ReadOnlySpan<double> emission, ReadOnlySpan<double> logEmission, double shift, Span<double> phi)
    {
        var k = phi.Length;
        var c = 0.0;
        for (var j = 0; j < k; j++)
        {
            var a = pred[j] * emission[j];
            phi[j] = a;
            c += a;
        }

        if (c > UnderflowGuard)
        {
            var inv = 1.0 / c;
            for (var j = 0; j < k; j++)
            {
                phi[j] *= inv;
            }

            return shift + Math.Log(c);
        }

        return UpdateLogDomain(pred, logEmission, phi);
    }

    // The product pred·g underflowed: the states that explain x are (numerically) unreachable from the current
    // filter. Redo the step with logs so the filter stays a distribution and the log-likelihood stays finite.
    private static double UpdateLogDomain(ReadOnlySpan<double> pred, ReadOnlySpan<double> logEmission, Span<double> phi)
    {
        var k = phi.Length;
        var best = double.NegativeInfinity;
        for (var j = 0; j < k; j++)
        {
            var lp = Math.Log(pred[j]) + logEmission[j];
            phi[j] = lp;
            if (lp > best)
            {
                best = lp;
            }
        }

        if (double.IsNegativeInfinity(best))
        {
            // Impossible under the model in float64: keep the prediction as the filter (no NaN is produced).
            var s = 0.0;
            for (var j = 0; j < k; j++)
            {
                s += pred[j];
            }

            for (var j = 0; j < k; j++)
            {
                phi[j] = s > 0 ? pred[j] / s : 1.0 / k;
            }

            return double.NegativeInfinity;
        }

        var c = 0.0;
        for (var j = 0; j < k; j++)
        {
            phi[j] = Math.Exp(phi[j] - best);
            c += phi[j];
        }

        var inv = 1.0 / c;
        for (var j = 0; j < k; j++)
        {
            phi[j] *= inv;
        }

        return best + Math.Log(c);
    }

    /// <summary>
    /// Backward pass over the output of <see cref="Forward"/>. Overwrites <paramref name="alphaToGamma"/> with the
    /// smoothed marginals p(z_t | x_1..n) and adds the expected transition counts Σ_t ξ_t(i, j) to
    /// <paramref name="xiSum"/> (K×K). Beta is renormalized every step so that Σ_i α_t(i) β_t(i) = 1, which keeps it
    /// bounded and makes ξ_t sum to exactly 1 without a separate pass.
    /// </summary>
    /// <remarks><c>scratch</c>: at least 3·K doubles.</remarks>
    public static void Backward(
        ReadOnlySpan<double> emission,
        int n,
        int k,
        ReadOnlySpan<double> transitions,
        Span<double> alphaToGamma,
        Span<double> xiSum,
        Span<double> scratch)
    {
        var beta = scratch[..k];
        var tmp = scratch.Slice(k, k);
        var nextBeta = scratch.Slice(2 * k, k);
        beta.Fill(1.0);

        // Row n-1: gamma = alpha (already normalized).
        for (var t = n - 2; t >= 0; t--)
        {
            var b = emission.Slice((t + 1) * k, k);
            for (var j = 0; j < k; j++)
            {
                tmp[j] = b[j] * beta[j];
            }

            var a = alphaToGamma.Slice(t * k, k);
            var z = 0.0;
            for (var i = 0; i < k; i++)
            {
                var row = transitions.Slice(i * k, k);
                var s = 0.0;
                for (var j = 0; j < k; j++)
                {
                    s += row[j] * tmp[j];
                }

                nextBeta[i] = s;
                z += a[i] * s;
            }

            if (!(z > 0.0) || double.IsInfinity(z))
            {
                // No path links the filtered mass at t to what follows (zero transitions): keep the filter and
                // restart beta, instead of dividing by zero.
                beta.Fill(1.0);
                continue;
            }

            var invZ = 1.0 / z;
            for (var i = 0; i < k; i++)
            {
                var ai = a[i] * invZ;
                if (ai != 0.0)
                {
                    var row = transitions.Slice(i * k, k);
                    var xiRow = xiSum.Slice(i * k, k);
                    for (var j = 0; j < k; j++)
                    {
                        xiRow[j] += ai * row[j] * tmp[j];
                    }
                }

                a[i] = ai * nextBeta[i];
                beta[i] = nextBeta[i] * invZ;
            }
        }
    }
}
