namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// Label-switching-free comparison: the assignment of estimated components to true ones that minimizes the total
/// squared distance between means, by exhaustive search over permutations (exact, and cheap for K ≤ 8).
/// </summary>
internal static class ComponentMatching
{
    /// <summary>assignment[trueComponent] = estimated component.</summary>
    public static int[] Match(ReadOnlySpan<double> trueMeans, ReadOnlySpan<double> estimatedMeans, int components, int dimension)
    {
        var cost = new double[components * components];
        for (var t = 0; t < components; t++)
        {
            for (var e = 0; e < components; e++)
            {
                var s = 0.0;
                for (var j = 0; j < dimension; j++)
                {
                    var diff = trueMeans[(t * dimension) + j] - estimatedMeans[(e * dimension) + j];
                    s += diff * diff;
                }

                cost[(t * components) + e] = s;
            }
        }

        var perm = Enumerable.Range(0, components).ToArray();
        var best = (int[])perm.Clone();
        var bestCost = double.PositiveInfinity;
        Permute(perm, 0);
        return best;

        void Permute(int[] p, int start)
        {
            if (start == p.Length)
            {
                var c = 0.0;
                for (var t = 0; t < p.Length; t++)
                {
                    c += cost[(t * components) + p[t]];
                }

                if (c < bestCost)
                {
                    bestCost = c;
                    p.CopyTo(best, 0);
                }

                return;
            }

            for (var i = start; i < p.Length; i++)
            {
                (p[start], p[i]) = (p[i], p[start]);
                Permute(p, start + 1);
                (p[start], p[i]) = (p[i], p[start]);
            }
        }
    }

    /// <summary>Largest Euclidean distance between a true mean and its matched estimate.</summary>
    public static double MaxMeanError(ReadOnlySpan<double> trueMeans, ReadOnlySpan<double> estimatedMeans, int components, int dimension)
    {
        var match = Match(trueMeans, estimatedMeans, components, dimension);
        var worst = 0.0;
        for (var t = 0; t < components; t++)
        {
            var s = 0.0;
            for (var j = 0; j < dimension; j++)
            {
                var diff = trueMeans[(t * dimension) + j] - estimatedMeans[(match[t] * dimension) + j];
                s += diff * diff;
            }

            worst = Math.Max(worst, Math.Sqrt(s));
        }

        return worst;
    }
}
