using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>The synthetic sticky 3-state HMM of issue 4 and small helpers shared by the HMM tests.</summary>
internal static class HmmTestData
{
    public const int K = 3;
    public const int D = 2;
    public const int N = 100_000;

    public static readonly double[] TrueStart = [0.5, 0.3, 0.2];

    public static readonly double[] TrueTransitions =
    [
        0.97, 0.02, 0.01,
        0.015, 0.97, 0.015,
        0.01, 0.02, 0.97,
    ];

    public static readonly double[] TrueMeans = [0.0, 0.0, 4.0, 0.5, 0.5, 4.0];

    public static readonly double[] TrueCovariances =
    [
        1.0, 0.3, 0.3, 0.8,
        0.7, -0.2, -0.2, 1.0,
        0.9, 0.0, 0.0, 0.6,
    ];

    private static readonly Lazy<(GaussianHmm Truth, DataMatrix Data, int[] States)> Sticky = new(() =>
    {
        var truth = GaussianHmm.Create(TrueStart, TrueTransitions, TrueMeans, TrueCovariances, K, D, CovarianceType.Full);
        var states = new int[N];
        var data = truth.Sample(N, seed: 20261122, states);
        return (truth, data, states);
    });

    public static GaussianHmm Truth => Sticky.Value.Truth;

    public static DataMatrix Data => Sticky.Value.Data;

    public static int[] States => Sticky.Value.States;

    /// <summary>Permutation p (fitted state p[k] ↔ true state k) minimizing the summed squared distance of means; brute force, K ≤ 8.</summary>
    public static int[] MatchByMeans(ReadOnlySpan<double> fittedMeans, ReadOnlySpan<double> trueMeans, int k, int d)
    {
        var f = fittedMeans.ToArray();
        var t = trueMeans.ToArray();
        int[]? best = null;
        var bestCost = double.PositiveInfinity;
        foreach (var p in Permutations(k))
        {
            var cost = 0.0;
            for (var s = 0; s < k; s++)
            {
                for (var i = 0; i < d; i++)
                {
                    var v = f[(p[s] * d) + i] - t[(s * d) + i];
                    cost += v * v;
                }
            }

            if (cost < bestCost)
            {
                bestCost = cost;
                best = p;
            }
        }

        return best!;
    }

    /// <summary>Fraction of positions where the decoded state equals the matched true state.</summary>
    public static double Accuracy(ReadOnlySpan<int> decoded, ReadOnlySpan<int> truth, int[] perm)
    {
        var hits = 0;
        for (var t = 0; t < truth.Length; t++)
        {
            if (decoded[t] == perm[truth[t]])
            {
                hits++;
            }
        }

        return (double)hits / truth.Length;
    }

    public static IEnumerable<int[]> Permutations(int k)
    {
        var a = Enumerable.Range(0, k).ToArray();
        return Permute(a, 0);
    }

    private static IEnumerable<int[]> Permute(int[] a, int i)
    {
        if (i == a.Length)
        {
            yield return (int[])a.Clone();
            yield break;
        }

        for (var j = i; j < a.Length; j++)
        {
            (a[i], a[j]) = (a[j], a[i]);
            foreach (var p in Permute(a, i + 1))
            {
                yield return p;
            }

            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}
