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
    /// A state's rows are foreign to it when their mean surprise per observed column (½(m² − d) per row, 0 on average for
    /// the state's own rows) is above this: about as far off as rows 2 σ from its mean in every column, or rows of a regime
    /// five times as wide.
    /// </summary>
    public const double ForeignSurprise = 2.0;

    /// <summary>
    /// ... or below this: rows of a regime five times narrower than the state (½(r − 1) for a variance ratio r; −½ is the
    /// least it can be). A wide state's rows are not surprising when a calm regime it does not model sits inside it: the
    /// drift refit on calm rows after a volatile warm-up replaced both copies of the volatile state otherwise.
    /// </summary>
    public const double NarrowSurprise = -0.4;

    /// <summary>
    /// The states of <paramref name="current"/> whose regimes <paramref name="rows"/> do not show: each of some long-run
    /// weight (stationary share at least 10⁻³) that takes less than a twentieth of it of the rows' smoothed state
    /// probabilities, and each whose rows (weighted by those probabilities) are foreign to it: on average more surprising
    /// than <see cref="ForeignSurprise"/> or less than <see cref="NarrowSurprise"/> nats per observed column (surprise:
    /// −log N_k(x) less the state's entropy over the observed entries). A regime never seen before lands on the nearest
    /// states, which then do not explain it. Empty when the rows cannot be scored (a density underflows).
    /// </summary>
    public static List<int> Absent(GaussianHmm current, DataMatrix rows) => Absent(current, rows, null);

    /// <summary>
    /// As <see cref="Absent(GaussianHmm, DataMatrix)"/>, and with a <paramref name="candidate"/> fitted on the rows, also each
    /// state that is no candidate state's nearest (Bhattacharyya distance) among those holding a share of the rows: the rows
    /// showed its regime to the fit nowhere. A current model whose transitions are poor (switching at random, as after a
    /// warm-up that saw one regime) smears the rows over all its states, so shares alone missed a calm state the volatile
    /// rows after an alarm did not show, and the refit replaced it by a second copy of the volatile one.
    /// </summary>
    public static List<int> Absent(GaussianHmm current, DataMatrix rows, GaussianHmm? candidate) =>
        Absent(current, rows, candidate, candidate is null ? null : TryOccupancy(candidate, rows));

    /// <summary>
    /// The refit for what <paramref name="rows"/> show with the states they do not show kept
    /// (<see cref="Absent(GaussianHmm, DataMatrix, GaussianHmm)"/>, then
    /// <see cref="Keep(GaussianHmm, GaussianHmm, DataMatrix, IReadOnlyList{int}, double)"/> at
    /// <see cref="MixtureReduction.MaxSplitMergeCost"/>), and the kept states; the candidate as it is, and null, when none is
    /// absent or none can be kept. The candidate's share of the rows is computed once for both.
    /// </summary>
    public static (GaussianHmm Model, List<int>? Kept) KeepAbsent(GaussianHmm current, GaussianHmm candidate, DataMatrix rows)
    {
        var share = TryOccupancy(candidate, rows);
        var absent = Absent(current, rows, candidate, share);
        return absent.Count > 0 && share is not null
            && Keep(current, candidate, share, rows.Rows, absent, MixtureReduction.MaxSplitMergeCost) is { } combined
            ? (combined, absent)
            : (candidate, null);
    }

    /// <summary><see cref="Occupancy"/>, or null when the rows cannot be scored (a density underflows) or do not fit the model.</summary>
    private static double[]? TryOccupancy(GaussianHmm model, DataMatrix rows)
    {
        try
        {
            return Occupancy(model, rows);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static List<int> Absent(GaussianHmm current, DataMatrix rows, GaussianHmm? candidate, double[]? candidateShare)
    {
        var absent = new List<int>();
        var k = current.States;
        var n = rows.Rows;
        if (n == 0)
        {
            return absent;
        }

        var posterior = new double[n * k];
        try
        {
            current.Smooth(rows, posterior);
        }
        catch (InvalidOperationException)
        {
            return absent;
        }

        var share = new double[k];
        var surprise = new double[k];
        var observed = new double[k];
        var logDensity = new double[k];
        var normalizers = new double[k];
        var scratch = new double[current.Emissions.ScratchLength];
        for (var t = 0; t < n; t++)
        {
            var x = rows.Row(t);
            current.Emissions.LogDensity(x, logDensity, scratch, normalizers);
            var count = GmmParameters.CountObserved(x);
            for (var j = 0; j < k; j++)
            {
                var g = posterior[(t * k) + j];
                share[j] += g;
                var s = -logDensity[j] - ((0.5 * count) - normalizers[j]);
                if (g > 0 && double.IsFinite(s))
                {
                    surprise[j] += g * s;
                    observed[j] += g * count;
                }
            }
        }

        var claimed = candidate is null || candidateShare is null ? null : Claimed(current, candidate, candidateShare);
        var stationary = Stationary(current.Transitions, k);
        for (var j = 0; j < k; j++)
        {
            var unseen = (stationary[j] >= 1e-3 && share[j] / n < stationary[j] / 20) || claimed?[j] == false;
            var perColumn = observed[j] > 0 ? surprise[j] / observed[j] : 0.0;
            var foreign = perColumn > ForeignSurprise || perColumn < NarrowSurprise;
            if (unseen || foreign)
            {
                absent.Add(j);
            }
        }

        return absent;
    }

    /// <summary>For each current state, whether it is the nearest current state of some candidate state holding at least a 20K-th of the rows.</summary>
    private static bool[] Claimed(GaussianHmm current, GaussianHmm candidate, double[] share)
    {
        int k = current.States, d = current.Dimension;
        var claimed = new bool[k];
        if (candidate.States != k || candidate.Dimension != d)
        {
            Array.Fill(claimed, true);
            return claimed;
        }

        var a = new double[k][];
        var logDetA = new double[k];
        var factor = new double[d * d];
        var scratch = new double[(d * d) + d];
        for (var j = 0; j < k; j++)
        {
            a[j] = current.FullCovariance(j);
            logDetA[j] = LabelMatching.LogDeterminant(a[j], d, factor);
        }

        for (var u = 0; u < k; u++)
        {
            if (!(share[u] >= 1.0 / (20 * k)))
            {
                continue;
            }

            var b = candidate.FullCovariance(u);
            var logDetB = LabelMatching.LogDeterminant(b, d, factor);
            var (nearest, best) = (-1, double.PositiveInfinity);
            for (var j = 0; j < k; j++)
            {
                var distance = LabelMatching.Bhattacharyya(current.Means.Slice(j * d, d), a[j], logDetA[j], candidate.Means.Slice(u * d, d), b, logDetB, d, scratch);
                if (distance < best)
                {
                    (nearest, best) = (j, distance);
                }
            }

            if (nearest < 0)
            {
                // Nothing factors: no state can be said to be unclaimed.
                Array.Fill(claimed, true);
                return claimed;
            }

            claimed[nearest] = true;
        }

        return claimed;
    }

    /// <summary>
    /// The candidate for what <paramref name="fitted"/> shows and the <paramref name="kept"/> states of
    /// <paramref name="current"/> as they are, under the current model's labels; null when making room would merge distinct
    /// regimes (<see cref="MixtureReduction"/>'s cost above <paramref name="maxCostPerWeight"/>: then the rows show a regime
    /// where a kept one was, or need all K states).
    /// <list type="bullet">
    /// <item>Emissions: the candidate's K states, weighted by their share of the fitted rows (scaled to the weight the kept
    /// states do not hold), and the kept states (their stationary shares), reduced to K by Runnalls' merging: the halves of a
    /// regime the candidate split merge first, and kept states merge only with each other (two copies of one regime, as a
    /// warm-up that saw fewer regimes than K leaves).</item>
    /// <item>A group of kept states takes the label of its heaviest member; the candidate's merged states take the other
    /// labels, matched by Bhattacharyya distance to the current states there, so "regime 1" stays the same regime.</item>
    /// <item>Transitions between the candidate's merged states: the candidate's, each row the share-weighted mean of its
    /// members' rows, summed over the target's members. Into a kept group: the current model's probability from that label
    /// when its state showed in these rows, else one over the rows fitted (the rows showed no switch back); the rest of the
    /// row scaled down to make room. A kept group's row: the current model's (weighted over its members, summed over
    /// targets), and into a label whose current state is kept elsewhere or was absorbed, one over the rows fitted.</item>
    /// </list>
    /// </summary>
    public static GaussianHmm? Keep(GaussianHmm current, GaussianHmm candidate, DataMatrix fitted, IReadOnlyList<int> kept, double maxCostPerWeight) =>
        TryOccupancy(candidate, fitted) is { } share ? Keep(current, candidate, share, fitted.Rows, kept, maxCostPerWeight) : null;

    /// <summary><see cref="Keep(GaussianHmm, GaussianHmm, DataMatrix, IReadOnlyList{int}, double)"/> with the candidate's <paramref name="share"/> of the <paramref name="rowsFitted"/> rows.</summary>
    private static GaussianHmm? Keep(GaussianHmm current, GaussianHmm candidate, double[] share, int rowsFitted, IReadOnlyList<int> kept, double maxCostPerWeight)
    {
        int k = current.States, d = current.Dimension, m = kept.Count;
        var type = current.CovarianceType;
        if (m == 0 || m > k || candidate.States != k || candidate.Dimension != d || candidate.CovarianceType != type)
        {
            return null;
        }

        var stationary = Stationary(current.Transitions, k);
        var keptWeight = Math.Min(kept.Sum(a => stationary[a]), 0.5);
        var keptTotal = kept.Sum(a => stationary[a]);
        var pool = new MixtureReduction.Pool(k + m, d);
        for (var i = 0; i < k; i++)
        {
            pool.Set(i, candidate.Means.Slice(i * d, d), candidate.FullCovariance(i), (1 - keptWeight) * share[i], MixtureReduction.Role.Free);
        }

        for (var a = 0; a < m; a++)
        {
            var w = keptTotal > 0 ? keptWeight * stationary[kept[a]] / keptTotal : keptWeight / m;
            pool.Set(k + a, current.Means.Slice(kept[a] * d, d), current.FullCovariance(kept[a]), w, MixtureReduction.Role.Kept);
        }

        if (pool.ReduceTo(k, type, maxCostPerWeight) is not { } reduced)
        {
            return null;
        }

        // The reduced components: groups of candidate states, and groups of kept states (as current state numbers).
        var fresh = new List<(int Component, IReadOnlyList<int> Members)>();
        var keptGroups = new List<(int Component, int[] States)>();
        for (var c = 0; c < k; c++)
        {
            var members = pool.Members(c);
            if (members[0] >= k)
            {
                keptGroups.Add((c, [.. members.Select(e => kept[e - k])]));
            }
            else
            {
                fresh.Add((c, members));
            }
        }

        // Labels: a kept group takes its heaviest member's; the fresh groups take the rest, matched to the current states there.
        var labelOfKept = keptGroups.Select(g => g.States.MaxBy(a => stationary[a])).ToArray();
        var freeLabels = Enumerable.Range(0, k).Where(j => !labelOfKept.Contains(j)).ToArray();
        if (freeLabels.Length != fresh.Count)
        {
            return null;
        }

        int[] order = freeLabels.Length <= 1
            ? [.. Enumerable.Range(0, freeLabels.Length)]
            : LabelMatching.Match(Subset(current, freeLabels), Subset(reduced, [.. fresh.Select(g => g.Component)]));
        var freshOf = new int[k];
        Array.Fill(freshOf, -1);
        for (var i = 0; i < freeLabels.Length; i++)
        {
            freshOf[freeLabels[i]] = order[i];
        }

        var keptOf = new int[k];
        Array.Fill(keptOf, -1);
        for (var g = 0; g < keptGroups.Count; g++)
        {
            keptOf[labelOfKept[g]] = g;
        }

        // A free label whose current state showed in the rows (not kept anywhere): its current transitions mean something.
        var showed = new bool[k];
        foreach (var label in freeLabels)
        {
            showed[label] = !kept.Contains(label);
        }

        var rare = 1.0 / Math.Max(rowsFitted, 1);
        var block = type == CovarianceType.Full ? d * d : d;
        var start = new double[k];
        var transitions = new double[k * k];
        var means = new double[k * d];
        var covariances = new double[k * block];
        var keptStart = kept.Sum(a => current.StartProbabilities[a]);
        for (var label = 0; label < k; label++)
        {
            var row = transitions.AsSpan(label * k, k);
            if (keptOf[label] >= 0)
            {
                var (component, states) = keptGroups[keptOf[label]];
                reduced.Means.Slice(component * d, d).CopyTo(means.AsSpan(label * d, d));
                reduced.Covariances.Slice(component * block, block).CopyTo(covariances.AsSpan(label * block, block));
                start[label] = states.Sum(a => current.StartProbabilities[a]);
                var weight = states.Sum(a => stationary[a]);
                double From(int target) => states.Sum(e => (weight > 0 ? stationary[e] / weight : 1.0 / states.Length) * current.Transitions[(e * k) + target]);
                for (var target = 0; target < k; target++)
                {
                    if (keptOf[target] >= 0)
                    {
                        row[target] = keptGroups[keptOf[target]].States.Sum(From);
                    }
                    else if (showed[target])
                    {
                        row[target] = From(target);
                    }
                }

                // Into the labels the fresh groups took from kept or absorbed states: rarely, as the rows showed.
                var unknown = freeLabels.Count(j => !showed[j]);
                if (unknown > 0)
                {
                    var scale = 1 - (unknown * rare);
                    for (var target = 0; target < k; target++)
                    {
                        row[target] = freshOf[target] >= 0 && !showed[target] ? rare : row[target] * scale;
                    }
                }

                continue;
            }

            var (freshComponent, members) = fresh[freshOf[label]];
            reduced.Means.Slice(freshComponent * d, d).CopyTo(means.AsSpan(label * d, d));
            reduced.Covariances.Slice(freshComponent * block, block).CopyTo(covariances.AsSpan(label * block, block));
            start[label] = (1 - keptStart) * members.Sum(u => candidate.StartProbabilities[u]);
            var into = new double[k];
            for (var g = 0; g < keptGroups.Count; g++)
            {
                into[labelOfKept[g]] = showed[label] ? keptGroups[g].States.Sum(a => current.Transitions[(label * k) + a]) : rare;
            }

            var leak = Math.Min(into.Sum(), 0.5);
            var total = members.Sum(u => share[u]);
            foreach (var target in freeLabels)
            {
                var targets = fresh[freshOf[target]].Members;
                var p = 0.0;
                foreach (var u in members)
                {
                    var sum = 0.0;
                    foreach (var v in targets)
                    {
                        sum += candidate.Transitions[(u * k) + v];
                    }

                    p += (total > 0 ? share[u] / total : 1.0 / members.Count) * sum;
                }

                row[target] = (1 - leak) * p;
            }

            var intoTotal = into.Sum();
            for (var target = 0; target < k; target++)
            {
                if (keptOf[target] >= 0)
                {
                    row[target] = intoTotal > 0 ? leak * into[target] / intoTotal : 0;
                }
            }
        }

        for (var label = 0; label < k; label++)
        {
            var row = transitions.AsSpan(label * k, k);
            var sum = 0.0;
            foreach (var v in row)
            {
                sum += v;
            }

            if (!(sum > 0))
            {
                return null;
            }

            for (var j = 0; j < k; j++)
            {
                row[j] /= sum;
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
