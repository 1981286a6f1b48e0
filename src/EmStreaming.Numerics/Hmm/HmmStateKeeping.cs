using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// A refit of an HMM on a window that shows only some of its regimes: a market calm for longer than the window, a machine that
/// stays in one mode. Baum–Welch of K states on such a window splits the regimes it shows, the split scores a little better
/// on held-out rows of the same window, and the regimes the window does not show were forgotten (a calm/volatile model lost
/// its volatile state and scored −9.5 nats/row on data like its own, against −1.65 for the truth). These functions keep
/// them: the states the window does not show stay as they were, and the candidate's states are merged down to the slots left.
/// </summary>
internal static class HmmStateKeeping
{
    /// <summary>
    /// The stationary distribution of the model's chain (π = πA), by squaring the transition matrix until its rows agree
    /// (2⁶⁰ steps at most, so a chain that stays 10⁻¹² per row in a state converges too). For a chain that is not irreducible
    /// the rows' mean: each state gets the share of the time it keeps from a uniform start.
    /// </summary>
    public static double[] Stationary(ReadOnlySpan<double> transitions, int k)
    {
        var m = transitions.ToArray();
        var next = new double[k * k];
        for (var round = 0; round < 60; round++)
        {
            for (var i = 0; i < k; i++)
            {
                var row = next.AsSpan(i * k, k);
                row.Clear();
                var sum = 0.0;
                for (var l = 0; l < k; l++)
                {
                    var a = m[(i * k) + l];
                    if (a == 0)
                    {
                        continue;
                    }

                    for (var j = 0; j < k; j++)
                    {
                        row[j] += a * m[(l * k) + j];
                    }
                }

                foreach (var v in row)
                {
                    sum += v;
                }

                for (var j = 0; j < k; j++)
                {
                    row[j] /= sum;
                }
            }

            (m, next) = (next, m);
            var spread = 0.0;
            for (var j = 0; j < k; j++)
            {
                for (var i = 1; i < k; i++)
                {
                    spread = Math.Max(spread, Math.Abs(m[(i * k) + j] - m[j]));
                }
            }

            if (spread < 1e-13)
            {
                break;
            }
        }

        var pi = new double[k];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                pi[j] += m[(i * k) + j] / k;
            }
        }

        return pi;
    }

    /// <summary>Each state's share of the rows: the smoothed state probabilities p(z_t = k | x_1..n), averaged over the rows.</summary>
    public static double[] Occupancy(GaussianHmm model, DataMatrix rows)
    {
        var k = model.States;
        var share = new double[k];
        if (rows.Rows == 0)
        {
            return Stationary(model.Transitions, k);
        }

        var posterior = new double[rows.Rows * k];
        model.Smooth(rows, posterior);
        for (var t = 0; t < rows.Rows; t++)
        {
            for (var j = 0; j < k; j++)
            {
                share[j] += posterior[(t * k) + j];
            }
        }

        for (var j = 0; j < k; j++)
        {
            share[j] /= rows.Rows;
        }

        return share;
    }

    /// <summary>
    /// The states of <paramref name="current"/> whose regimes <paramref name="rows"/> do not show: each of some long-run
    /// weight (stationary share at least 10⁻³) that takes less than a twentieth of it of the rows' smoothed state
    /// probabilities. Empty when the rows cannot be scored (a density underflows).
    /// </summary>
    public static List<int> Absent(GaussianHmm current, DataMatrix rows)
    {
        var absent = new List<int>();
        if (rows.Rows == 0)
        {
            return absent;
        }

        double[] occupancy;
        try
        {
            occupancy = Occupancy(current, rows);
        }
        catch (InvalidOperationException)
        {
            return absent;
        }

        var stationary = Stationary(current.Transitions, current.States);
        for (var j = 0; j < current.States; j++)
        {
            if (stationary[j] >= 1e-3 && occupancy[j] < stationary[j] / 20 && double.IsFinite(occupancy[j]))
            {
                absent.Add(j);
            }
        }

        return absent;
    }

    /// <summary>
    /// The candidate for what <paramref name="fitted"/> shows and the <paramref name="kept"/> states of
    /// <paramref name="current"/> as they are, under the current model's labels; null when making room would merge distinct
    /// regimes (<see cref="MixtureReduction"/>'s cost above <paramref name="maxCostPerWeight"/>: then the window shows a regime
    /// where a kept one was, or needs all K states) or leaves nothing to merge into.
    /// <list type="bullet">
    /// <item>Emissions: the candidate's K states, weighted by their share of the fitted rows (scaled to the weight the kept
    /// states do not hold), and the kept states (their stationary shares, locked), reduced to K by Runnalls' merging: the
    /// halves of a regime the candidate split merge first.</item>
    /// <item>The merged states take the current labels of the states the window shows (matched by Bhattacharyya distance), so
    /// "regime 1" stays the same regime.</item>
    /// <item>Transitions between the merged states: the candidate's, each merged state's row the share-weighted mean of its
    /// members' rows, summed over the target's members; into a kept state, the current model's probability from that label,
    /// the rest of the row scaled down to make room. A kept state's row is the current model's. Start probabilities alike.</item>
    /// </list>
    /// </summary>
    public static GaussianHmm? Keep(GaussianHmm current, GaussianHmm candidate, DataMatrix fitted, IReadOnlyList<int> kept, double maxCostPerWeight)
    {
        int k = current.States, d = current.Dimension, m = kept.Count;
        var type = current.CovarianceType;
        if (m == 0 || m >= k || candidate.States != k || candidate.Dimension != d || candidate.CovarianceType != type)
        {
            return null;
        }

        double[] share;
        try
        {
            share = Occupancy(candidate, fitted);
        }
        catch (InvalidOperationException)
        {
            return null;
        }

        var stationary = Stationary(current.Transitions, k);
        var keptWeight = kept.Sum(a => stationary[a]);
        var pool = new MixtureReduction.Pool(k + m, d);
        for (var i = 0; i < k; i++)
        {
            pool.Set(i, candidate.Means.Slice(i * d, d), candidate.FullCovariance(i), (1 - keptWeight) * share[i], MixtureReduction.Role.Free);
        }

        for (var a = 0; a < m; a++)
        {
            pool.Set(k + a, current.Means.Slice(kept[a] * d, d), current.FullCovariance(kept[a]), stationary[kept[a]], MixtureReduction.Role.Locked);
        }

        if (pool.ReduceTo(k, type, maxCostPerWeight) is not { } reduced)
        {
            return null;
        }

        // The reduced components: K − m merged groups of candidate states, and the m kept states.
        var groups = new List<(int Component, IReadOnlyList<int> Members)>();
        for (var c = 0; c < k; c++)
        {
            var members = pool.Members(c);
            if (members.All(i => i < k))
            {
                groups.Add((c, members));
            }
        }

        var present = Enumerable.Range(0, k).Where(j => !kept.Contains(j)).ToArray();
        if (groups.Count != present.Length)
        {
            return null;
        }

        // order[i] = the group that takes the current label present[i].
        int[] order = present.Length == 1 ? [0] : LabelMatching.Match(Subset(current, present), Subset(reduced, groups.Select(g => g.Component).ToArray()));
        var block = type == CovarianceType.Full ? d * d : d;
        var start = new double[k];
        var transitions = new double[k * k];
        var means = new double[k * d];
        var covariances = new double[k * block];
        var keptStart = kept.Sum(a => current.StartProbabilities[a]);
        var groupOf = new int[k];
        for (var i = 0; i < present.Length; i++)
        {
            groupOf[present[i]] = order[i];
        }

        for (var label = 0; label < k; label++)
        {
            var isKept = kept.Contains(label);
            if (isKept)
            {
                start[label] = current.StartProbabilities[label];
                current.Transitions.Slice(label * k, k).CopyTo(transitions.AsSpan(label * k, k));
                current.Means.Slice(label * d, d).CopyTo(means.AsSpan(label * d, d));
                current.Covariances.Slice(label * block, block).CopyTo(covariances.AsSpan(label * block, block));
                continue;
            }

            var (component, members) = groups[groupOf[label]];
            reduced.Means.Slice(component * d, d).CopyTo(means.AsSpan(label * d, d));
            reduced.Covariances.Slice(component * block, block).CopyTo(covariances.AsSpan(label * block, block));
            start[label] = (1 - keptStart) * members.Sum(u => candidate.StartProbabilities[u]);

            var leak = kept.Sum(a => current.Transitions[(label * k) + a]);
            var weight = members.Sum(u => share[u]);
            foreach (var target in present)
            {
                var into = groups[groupOf[target]].Members;
                var p = 0.0;
                foreach (var u in members)
                {
                    var row = 0.0;
                    foreach (var v in into)
                    {
                        row += candidate.Transitions[(u * k) + v];
                    }

                    p += (weight > 0 ? share[u] / weight : 1.0 / members.Count) * row;
                }

                transitions[(label * k) + target] = (1 - leak) * p;
            }

            foreach (var a in kept)
            {
                transitions[(label * k) + a] = current.Transitions[(label * k) + a];
            }
        }

        if (!(start.Sum() > 0))
        {
            current.StartProbabilities.CopyTo(start);
        }

        try
        {
            return GaussianHmm.Create(start, transitions, means, covariances, k, d, type);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The given states' emissions as an equally weighted mixture (for label matching).</summary>
    private static GaussianMixture Subset(GaussianHmm model, int[] states) =>
        Subset(model.Means, model.Covariances, model.Dimension, model.CovarianceType, states);

    private static GaussianMixture Subset(GaussianMixture model, int[] components) =>
        Subset(model.Means, model.Covariances, model.Dimension, model.CovarianceType, components);

    private static GaussianMixture Subset(ReadOnlySpan<double> allMeans, ReadOnlySpan<double> allCovariances, int d, CovarianceType type, int[] which)
    {
        var block = type == CovarianceType.Full ? d * d : d;
        var n = which.Length;
        var means = new double[n * d];
        var covariances = new double[n * block];
        for (var i = 0; i < n; i++)
        {
            allMeans.Slice(which[i] * d, d).CopyTo(means.AsSpan(i * d, d));
            allCovariances.Slice(which[i] * block, block).CopyTo(covariances.AsSpan(i * block, block));
        }

        return GaussianMixture.Create([.. Enumerable.Repeat(1.0 / n, n)], means, covariances, n, d, type);
    }
}
