using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Starting parameters for Baum–Welch: k-means++ seeding and Lloyd iterations over all rows (missing entries
/// ignored in distances and centroid means), then per-cluster Gaussian statistics through the mixture core, and
/// transitions counted from the cluster label sequence (with one pseudo-count per entry). Counting transitions on
/// the labels is what makes the start robust on short regime-switching series: a sticky label path gives sticky
/// start transitions instead of an arbitrary default. The k-means distances are measured in the restart's
/// <see cref="SeedingSpace"/>, so restarts also try standardized columns and columns scaled by their within-cluster spread.
/// </summary>
internal static class HmmInitializer
{
    private const int LloydIterations = 25;

    /// <summary>Least start floor, as a fraction of each column's own scale (<see cref="CovarianceFloor.Scale"/>): keeps a cluster of duplicates factorable even with the relative floor off.</summary>
    internal const double StartRelativeFloor = 1e-6;

    /// <param name="sequences">The sequences.</param>
    /// <param name="totalRows">Rows over all sequences.</param>
    /// <param name="k">States.</param>
    /// <param name="type">Emission covariance type.</param>
    /// <param name="regCovar">Absolute floor added to every start variance.</param>
    /// <param name="relativeFloor">
    /// Fraction of each column's own scale (<see cref="CovarianceFloor.Scale"/>) added to that column's start variances, as
    /// every Baum–Welch M-step adds it (at least <see cref="StartRelativeFloor"/>). Per column: a floor taken from the largest
    /// column's variance swamped a column in thousandths next to one in thousands.
    /// </param>
    /// <param name="seed">Seed of the k-means++ draws.</param>
    /// <param name="space">Coordinates the k-means distances are measured in.</param>
    public static (double[] Start, double[] Transitions, HmmEmissions Emissions) KMeans(
        IReadOnlyList<DataMatrix> sequences, int totalRows, int k, CovarianceType type, double regCovar, double relativeFloor, ulong seed, SeedingSpace space = SeedingSpace.Raw)
    {
        var d = sequences[0].Columns;
        var rows = new double[totalRows * d];
        var o = 0;
        foreach (var s in sequences)
        {
            s.Values.CopyTo(rows.AsSpan(o));
            o += s.Values.Length;
        }

        // The mixture core's k-means (greedy k-means++, chunked and deterministic), run serially: an HMM start is small.
        var rng = new DeterministicRandom(seed);
        var centroids = new double[k * d];
        var labels = new int[totalRows];
        KMeansSeeding.Run(new DataMatrix(rows, totalRows, d), k, ref rng, LloydIterations, centroids, labels, columnScale: SeedingSpaces.ColumnScale(rows, d, space));

        // Per-cluster statistics; a provisional model (centroids, pooled diagonal variance) supplies the conditional
        // expectations of missing entries.
        var emissions = new HmmEmissions(k, d, type);
        centroids.CopyTo(emissions.Means, 0);
        var mean = DataMatrix.ObservedColumnMeans(rows, d);
        var variance = PooledVariance(rows, totalRows, d, mean);
        for (var c = 0; c < k; c++)
        {
            for (var i = 0; i < d; i++)
            {
                if (type == CovarianceType.Full)
                {
                    emissions.Covariances[(c * d * d) + (i * d) + i] = variance[i];
                }
                else
                {
                    emissions.Covariances[(c * d) + i] = variance[i];
                }
            }
        }

        if (!emissions.TryRefreshFactors(out _))
        {
            throw new InvalidOperationException("the data have no variance in some dimension; an HMM cannot be initialized.");
        }

        var stats = new GmmSufficientStatistics(k, d, type, DataMatrix.ObservedColumnCentres(rows, d));
        var scratch = new double[emissions.ScratchLength];
        var oneHot = new double[k];
        for (var t = 0; t < totalRows; t++)
        {
            oneHot[labels[t]] = 1.0;
            stats.AccumulateRow(rows.AsSpan(t * d, d), oneHot, emissions.Parameters, scratch);
            oneHot[labels[t]] = 0.0;
        }

        var floor = CovarianceFloor.FromData(rows, d, Math.Max(relativeFloor, StartRelativeFloor));
        emissions.MStep(stats, regCovar, floor, default);

        var transitions = new double[k * k];
        Array.Fill(transitions, 1.0);
        var start = new double[k];
        Array.Fill(start, 1.0);
        o = 0;
        foreach (var s in sequences)
        {
            if (s.Rows > 0)
            {
                start[labels[o]] += 1.0;
            }

            for (var t = 1; t < s.Rows; t++)
            {
                transitions[(labels[o + t - 1] * k) + labels[o + t]] += 1.0;
            }

            o += s.Rows;
        }

        Normalize(start);
        for (var i = 0; i < k; i++)
        {
            Normalize(transitions.AsSpan(i * k, k));
        }

        return (start, transitions, emissions);
    }

    private static void Normalize(Span<double> row)
    {
        var s = 0.0;
        foreach (var v in row)
        {
            s += v;
        }

        for (var i = 0; i < row.Length; i++)
        {
            row[i] /= s;
        }
    }

    private static double[] PooledVariance(double[] rows, int n, int d, double[] mean)
    {
        var ss = new double[d];
        var count = new double[d];
        for (var t = 0; t < n; t++)
        {
            for (var i = 0; i < d; i++)
            {
                var v = rows[(t * d) + i];
                if (!double.IsNaN(v))
                {
                    ss[i] += (v - mean[i]) * (v - mean[i]);
                    count[i] += 1;
                }
            }
        }

        for (var i = 0; i < d; i++)
        {
            ss[i] = count[i] > 1 ? ss[i] / count[i] : 1.0;
            if (!(ss[i] > 0))
            {
                ss[i] = 1.0;
            }
        }

        return ss;
    }
}
