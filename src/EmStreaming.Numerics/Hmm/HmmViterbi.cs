namespace EmStreaming.Numerics.Hmm;

/// <summary>Log-domain Viterbi decoding over a log-emission matrix (n×K, row-major); caller-owned buffers.</summary>
internal static class HmmViterbi
{
    /// <summary>
    /// Writes the most likely state path to <paramref name="path"/> and returns its joint log-probability
    /// log p(x_1..n, z_1..n). Ties go to the lowest state index, so the result is deterministic.
    /// </summary>
    /// <remarks><c>logStart</c>: log start probabilities (K); −∞ allowed.</remarks>
    /// <remarks><c>logTransitions</c>: log transition matrix (K×K); −∞ allowed.</remarks>
    /// <remarks><c>backPointers</c>: scratch of n·K ints.</remarks>
    /// <remarks><c>scratch</c>: scratch of 2·K doubles.</remarks>
    public static double Decode(
        ReadOnlySpan<double> logEmission,
        int n,
        int k,
        ReadOnlySpan<double> logStart,
        ReadOnlySpan<double> logTransitions,
        Span<int> path,
        Span<int> backPointers,
        Span<double> scratch)
    {
        var delta = scratch[..k];
        var next = scratch.Slice(k, k);
        for (var j = 0; j < k; j++)
        {
            delta[j] = logStart[j] + logEmission[j];
        }

        for (var t = 1; t < n; t++)
        {
            var e = logEmission.Slice(t * k, k);
            var bp = backPointers.Slice(t * k, k);
            for (var j = 0; j < k; j++)
            {
                var best = double.NegativeInfinity;
                var arg = 0;
                for (var i = 0; i < k; i++)
                {
                    var v = delta[i] + logTransitions[i * k + j];
                    if (v > best)
                    {
                        best = v;
                        arg = i;
                    }
                }

                next[j] = best + e[j];
                bp[j] = arg;
            }

            next.CopyTo(delta);
        }

        var last = 0;
        for (var j = 1; j < k; j++)
        {
            if (delta[j] > delta[last])
            {
                last = j;
            }
        }

        var logProbability = delta[last];
        path[n - 1] = last;
        for (var t = n - 1; t > 0; t--)
        {
            last = backPointers[t * k + last];
            path[t - 1] = last;
        }

        return logProbability;
    }
}
