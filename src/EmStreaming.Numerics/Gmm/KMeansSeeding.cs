namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Greedy k-means++ seeding (2 + ⌊ln K⌋ candidates per centre, as scikit-learn) and a few Lloyd iterations, for EM
/// initialization. Missing entries are skipped: a distance uses the observed coordinates, rescaled by D / observed.
/// </summary>
internal static class KMeansSeeding
{
    public const int DefaultLloydIterations = 10;

    /// <summary>Writes the K×D centres and the label of every row. Deterministic for a given generator state.</summary>
    public static void Run(DataMatrix data, int k, ref DeterministicRandom rng, int lloydIterations, double[] centers, int[] labels)
    {
        var n = data.Rows;
        var d = data.Columns;
        var x = data.RawValues;
        var closest = new double[n];
        var candidateDist = new double[n];
        var bestDist = new double[n];

        var first = rng.NextInt(n);
        double[]? columnMeans = null;
        if (data.HasMissing)
        {
            columnMeans = new double[d];
            DataMatrix.ObservedColumnMeans(x, d, columnMeans);
        }

        SetCenter(centers, 0, x, first, d, columnMeans);
        double potential = 0;
        for (var i = 0; i < n; i++)
        {
            closest[i] = Distance(x, i, d, centers, 0);
            potential += closest[i];
        }

        var trials = 2 + (int)Math.Log(k);
        for (var c = 1; c < k; c++)
        {
            var bestPotential = double.PositiveInfinity;
            var bestCandidate = -1;
            for (var trial = 0; trial < trials; trial++)
            {
                var candidate = SampleProportional(closest, potential, ref rng);
                SetCenter(centers, c, x, candidate, d, columnMeans);
                double p = 0;
                for (var i = 0; i < n; i++)
                {
                    var dist = Math.Min(closest[i], Distance(x, i, d, centers, c));
                    candidateDist[i] = dist;
                    p += dist;
                }

                if (p < bestPotential)
                {
                    bestPotential = p;
                    bestCandidate = candidate;
                    (bestDist, candidateDist) = (candidateDist, bestDist);
                }
            }

            SetCenter(centers, c, x, bestCandidate, d, columnMeans);
            (closest, bestDist) = (bestDist, closest);
            potential = bestPotential;
        }

        Assign(x, n, d, k, centers, labels);
        var sums = new double[k * d];
        var counts = new double[k * d];
        for (var iteration = 0; iteration < lloydIterations; iteration++)
        {
            Array.Clear(sums);
            Array.Clear(counts);
            for (var i = 0; i < n; i++)
            {
                var c = labels[i];
                for (var j = 0; j < d; j++)
                {
                    var v = x[(i * d) + j];
                    if (!double.IsNaN(v))
                    {
                        sums[(c * d) + j] += v;
                        counts[(c * d) + j]++;
                    }
                }
            }

            for (var t = 0; t < sums.Length; t++)
            {
                // An empty cluster (or a coordinate no member observes) keeps its previous centre.
                if (counts[t] > 0)
                {
                    centers[t] = sums[t] / counts[t];
                }
            }

            if (Assign(x, n, d, k, centers, labels) == 0)
            {
                break;
            }
        }
    }

    private static int Assign(double[] x, int n, int d, int k, double[] centers, int[] labels)
    {
        var changes = 0;
        for (var i = 0; i < n; i++)
        {
            var best = 0;
            var bestDist = double.PositiveInfinity;
            for (var c = 0; c < k; c++)
            {
                var dist = Distance(x, i, d, centers, c);
                if (dist < bestDist)
                {
                    bestDist = dist;
                    best = c;
                }
            }

            if (labels[i] != best)
            {
                changes++;
                labels[i] = best;
            }
        }

        return changes;
    }

    private static int SampleProportional(double[] weights, double total, ref DeterministicRandom rng)
    {
        if (!(total > 0))
        {
            // Every point sits on a centre already (fewer distinct points than K): any row will do.
            return rng.NextInt(weights.Length);
        }

        var u = rng.NextDouble() * total;
        double acc = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            acc += weights[i];
            if (u < acc)
            {
                return i;
            }
        }

        for (var i = weights.Length - 1; i >= 0; i--)
        {
            if (weights[i] > 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }

    /// <summary>Centre c = row, its missing entries filled with the column means.</summary>
    private static void SetCenter(double[] centers, int c, double[] x, int row, int d, double[]? columnMeans)
    {
        for (var j = 0; j < d; j++)
        {
            var v = x[(row * d) + j];
            centers[(c * d) + j] = double.IsNaN(v) ? columnMeans![j] : v;
        }
    }

    private static double Distance(double[] x, int row, int d, double[] centers, int c)
    {
        double s = 0;
        var observed = 0;
        var offset = row * d;
        var co = c * d;
        for (var j = 0; j < d; j++)
        {
            var v = x[offset + j];
            if (!double.IsNaN(v))
            {
                var diff = v - centers[co + j];
                s += diff * diff;
                observed++;
            }
        }

        return observed == d ? s : s * d / observed;
    }
}
