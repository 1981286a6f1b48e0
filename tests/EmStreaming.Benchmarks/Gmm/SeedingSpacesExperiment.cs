using System.Globalization;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Benchmarks.Gmm;

/// <summary>
/// <c>seeding [data-dir]</c>: k-means++ starts spread over raw, standardized and robustly scaled columns
/// (<c>DiverseSeeding = true</c>, new) against every start on raw columns (<c>false</c>, before), same seeds, per restart budget.
/// (a) Synthetic mixtures (d = 3, K = 3, weights 0.5 / 0.3 / 0.2, unit-variance components 4 apart) whose last column is
/// multiplied by 1e-3..1e3 and whose regimes separate in that column, in another one, or one regime in each, the columns
/// without a regime normal or uniform; and synthetic sticky 2-state HMMs the same way. (b) The real data in <c>data-dir</c> (default <c>samples</c>): iris (4 columns, and its
/// petal and sepal pairs) and faithful, batch GMM with every covariance type and K = 2..4, five folds (every fifth row held out
/// in turn) × seeds 0-2; faithful as a sequence for the HMM (its newest fifth held out). Scores are held-out mean
/// log-likelihoods per row (nats); a configuration is "equal" when old and new differ by less than 1e-4 nats/row.
/// Deterministic: no timing, every draw seeded.
/// </summary>
public static class SeedingSpacesExperiment
{
    private const double Equal = 1e-4;

    // (restarts, short runs per restart): the library default (one restart of 8 short runs), the online GMM's warm-up and
    // post-change refits (5 restarts of one start), and the small budgets where fewer raw starts can only lose.
    private static readonly (string Name, int Restarts, int ShortRuns)[] Budgets =
    [
        ("default 1x8 short", 1, GmmFitOptions.DefaultShortRuns),
        ("warm-up 5x1", 5, 1),
        ("3x1", 3, 1),
        ("2x1", 2, 1),
        ("1x1", 1, 1),
    ];

    public static int Run(string[] args, TextWriter output)
    {
        var dir = args.Length > 0 ? args[0] : "samples";
        var iris = File.Exists(Path.Combine(dir, "iris.csv")) ? ReadCsv(Path.Combine(dir, "iris.csv"), 4) : null;
        var faithful = File.Exists(Path.Combine(dir, "faithful.csv")) ? ReadCsv(Path.Combine(dir, "faithful.csv"), 2) : null;
        if (iris is null || faithful is null)
        {
            output.WriteLine($"seeding: iris.csv and faithful.csv not found in '{dir}' (run from the repository root, or pass the folder)");
            return 2;
        }

        var tally = new Dictionary<string, Tally>();
        output.WriteLine("# (a) synthetic GMM: held-out mean log-likelihood per row, old (raw starts) vs new (diverse starts), mean of seeds 1-5");
        output.WriteLine("budget | covariance | noise columns | regimes separate in | last column x | true model | old | new | new - old");
        foreach (var budget in Budgets)
        {
            foreach (var type in new[] { CovarianceType.Full, CovarianceType.Diag })
            {
                foreach (var uniform in new[] { false, true })
                {
                    foreach (var pattern in new[] { "scaled column", "other column", "one regime in each" })
                    {
                        foreach (var scale in new[] { 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3 })
                        {
                            double oldSum = 0, newSum = 0, truthSum = 0;
                            const int seeds = 5;
                            for (var seed = 1; seed <= seeds; seed++)
                            {
                                var truth = SyntheticMixture(pattern, scale);
                                var train = truth.Sample(900, (ulong)seed);
                                var held = truth.Sample(3000, 1000 + (ulong)seed);
                                truthSum += truth.Score(held);
                                if (uniform)
                                {
                                    train = UniformNoise(train, NoiseColumns(pattern), scale, (ulong)seed);
                                    held = UniformNoise(held, NoiseColumns(pattern), scale, 1000 + (ulong)seed);
                                }

                                var options = new GmmFitOptions { Components = 3, Covariance = type, Restarts = budget.Restarts, ShortRuns = budget.ShortRuns, Seed = (ulong)seed, MaxDegreeOfParallelism = 1 };
                                oldSum += GaussianMixtureEM.Fit(train, options with { DiverseSeeding = false }).Model.Score(held);
                                newSum += GaussianMixtureEM.Fit(train, options).Model.Score(held);
                            }

                            var noise = uniform ? "uniform" : "normal";
                            var reference = uniform ? "-" : (truthSum / seeds).ToString("F4", CultureInfo.InvariantCulture);
                            Report(output, tally, $"synthetic GMM, {budget.Name}", $"{budget.Name} | {type} | {noise} | {pattern} | {scale:G} | {reference} ", oldSum / seeds, newSum / seeds);
                        }
                    }
                }
            }
        }

        output.WriteLine();
        output.WriteLine("# (a) synthetic HMM (2 sticky states, 1,000 rows; held-out 2,000 rows), mean of seeds 1-3");
        output.WriteLine("restarts | covariance | noise columns | regimes separate in | last column x | old | new | new - old");
        foreach (var restarts in new[] { 3, 2, 1 })
        {
            foreach (var type in new[] { CovarianceType.Full, CovarianceType.Diag })
            {
                foreach (var uniform in new[] { false, true })
                {
                    foreach (var pattern in new[] { "scaled column", "other column" })
                    {
                        foreach (var scale in new[] { 1e-3, 1.0, 1e3 })
                        {
                            double oldSum = 0, newSum = 0;
                            const int seeds = 3;
                            for (var seed = 1; seed <= seeds; seed++)
                            {
                                var truth = SyntheticHmm(pattern, scale);
                                var train = truth.Sample(1000, (ulong)seed);
                                var held = truth.Sample(2000, 1000 + (ulong)seed);
                                if (uniform)
                                {
                                    train = UniformNoise(train, NoiseColumns(pattern), scale, (ulong)seed);
                                    held = UniformNoise(held, NoiseColumns(pattern), scale, 1000 + (ulong)seed);
                                }

                                var options = new HmmFitOptions { States = 2, Covariance = type, Restarts = restarts, Seed = (ulong)seed, MaxDegreeOfParallelism = 1 };
                                oldSum += GaussianHmmEM.Fit(train, options with { DiverseSeeding = false }).Model.Score(held);
                                newSum += GaussianHmmEM.Fit(train, options).Model.Score(held);
                            }

                            var noise = uniform ? "uniform" : "normal";
                            Report(output, tally, $"synthetic HMM, {restarts} restarts", $"{restarts} | {type} | {noise} | {pattern} | {scale:G} ", oldSum / seeds, newSum / seeds);
                        }
                    }
                }
            }
        }

        output.WriteLine();
        output.WriteLine("# (b) real data, batch GMM: held-out mean log-likelihood per row, mean over 5 folds x seeds 0-2");
        output.WriteLine("budget | data | covariance | K | new - old on the fitted rows | twice the raw starts - old (held out) | old | new | new - old");
        var sets = new (string Name, DataMatrix Data)[]
        {
            ("iris", iris),
            ("iris petals", Columns(iris, 2, 3)),
            ("iris sepals", Columns(iris, 0, 1)),
            ("faithful", faithful),
        };
        foreach (var budget in Budgets)
        {
            foreach (var (name, data) in sets)
            {
                foreach (var type in new[] { CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diag, CovarianceType.Spherical })
                {
                    for (var k = 2; k <= 4; k++)
                    {
                        double oldSum = 0, newSum = 0, oldFit = 0, newFit = 0, twiceSum = 0, twiceFit = 0;
                        var count = 0;
                        for (var fold = 0; fold < 5; fold++)
                        {
                            var (train, held) = Fold(data, fold);
                            for (ulong seed = 0; seed < 3; seed++)
                            {
                                var options = new GmmFitOptions { Components = k, Covariance = type, Restarts = budget.Restarts, ShortRuns = budget.ShortRuns, Seed = seed, MaxDegreeOfParallelism = 1 };
                                var before = GaussianMixtureEM.Fit(train, options with { DiverseSeeding = false });
                                var after = GaussianMixtureEM.Fit(train, options);
                                oldSum += before.Model.Score(held);
                                newSum += after.Model.Score(held);
                                oldFit += before.MeanLogLikelihood;
                                newFit += after.MeanLogLikelihood;

                                // Control: raw starts only, twice as many. A better optimum on 120 rows can score worse on the
                                // held-out 30; if twice the raw starts loses there too, the loss is that, not the spaces.
                                var twice = GaussianMixtureEM.Fit(train, options with { DiverseSeeding = false, Restarts = budget.Restarts * (budget.ShortRuns == 1 ? 2 : 1), ShortRuns = budget.ShortRuns * (budget.ShortRuns == 1 ? 1 : 2) });
                                twiceSum += twice.Model.Score(held);
                                twiceFit += twice.MeanLogLikelihood;
                                count++;
                            }
                        }

                        var row = $"{budget.Name} | {name} | {type} | {k} | {(newFit - oldFit) / count:+0.0000;-0.0000;0} | {(twiceSum - oldSum) / count:+0.0000;-0.0000;0} ";
                        Report(output, tally, $"real GMM, {budget.Name}", row, oldSum / count, newSum / count);
                        Count(tally, $"real GMM, {budget.Name}, on the fitted rows", (newFit - oldFit) / count);
                        Count(tally, $"real GMM, {budget.Name}, control: twice the raw starts vs old", (twiceSum - oldSum) / count);
                        Count(tally, $"real GMM, {budget.Name}, control on the fitted rows", (twiceFit - oldFit) / count);
                    }
                }
            }
        }

        output.WriteLine();
        output.WriteLine("# (b) real data, Baum-Welch on faithful as a sequence (newest fifth held out), mean of seeds 0-4");
        output.WriteLine("restarts | covariance | K | old | new | new - old");
        var cut = faithful.Rows * 4 / 5;
        var seqTrain = Rows(faithful, 0, cut);
        var seqHeld = Rows(faithful, cut, faithful.Rows);
        foreach (var restarts in new[] { 3, 2, 1 })
        {
            foreach (var type in new[] { CovarianceType.Full, CovarianceType.Diag })
            {
                for (var k = 2; k <= 3; k++)
                {
                    double oldSum = 0, newSum = 0;
                    const int seeds = 5;
                    for (ulong seed = 0; seed < seeds; seed++)
                    {
                        var options = new HmmFitOptions { States = k, Covariance = type, Restarts = restarts, Seed = seed, MaxDegreeOfParallelism = 1 };
                        oldSum += GaussianHmmEM.Fit(seqTrain, options with { DiverseSeeding = false }).Model.Score(seqHeld);
                        newSum += GaussianHmmEM.Fit(seqTrain, options).Model.Score(seqHeld);
                    }

                    Report(output, tally, $"real HMM, {restarts} restarts", $"{restarts} | {type} | {k} ", oldSum / seeds, newSum / seeds);
                }
            }
        }

        output.WriteLine();
        output.WriteLine($"# summary: configurations where new is better / worse / equal (|difference| < {Equal:G} nats/row), and the extremes");
        output.WriteLine("group | better | worse | equal | largest loss | largest gain");
        foreach (var (group, t) in tally)
        {
            output.WriteLine($"{group} | {t.Better} | {t.Worse} | {t.Same} | {t.Loss:+0.0000;-0.0000;0} | {t.Gain:+0.0000;-0.0000;0}");
        }

        return 0;
    }

    private static void Report(TextWriter output, Dictionary<string, Tally> tally, string group, string row, double before, double after)
    {
        var diff = after - before;
        output.WriteLine($"{row}| {before:F4} | {after:F4} | {diff:+0.0000;-0.0000;0}");
        Count(tally, group, diff);
    }

    private static void Count(Dictionary<string, Tally> tally, string group, double diff)
    {
        if (!tally.TryGetValue(group, out var t))
        {
            tally[group] = t = new Tally();
        }

        _ = diff > Equal ? t.Better++ : diff < -Equal ? t.Worse++ : t.Same++;
        t.Loss = Math.Min(t.Loss, diff);
        t.Gain = Math.Max(t.Gain, diff);
    }

    private sealed class Tally
    {
        public int Better { get; set; }

        public int Worse { get; set; }

        public int Same { get; set; }

        public double Loss { get; set; }

        public double Gain { get; set; }
    }

    /// <summary>K = 3, d = 3, unit-variance components 4 apart in the separating column(s); the last column multiplied by <paramref name="scale"/>.</summary>
    private static GaussianMixture SyntheticMixture(string pattern, double scale)
    {
        const int k = 3, d = 3;
        double[] weights = [0.5, 0.3, 0.2];
        var means = new double[k * d];
        var cov = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            switch (pattern)
            {
                case "scaled column":
                    means[(c * d) + 2] = 4.0 * c;
                    break;
                case "other column":
                    means[(c * d) + 0] = 4.0 * c;
                    break;
                default:
                    means[(c * d) + (c == 1 ? 2 : 0)] = c == 0 ? 0.0 : 4.0;
                    break;
            }

            for (var j = 0; j < d; j++)
            {
                cov[(c * d * d) + (j * d) + j] = 1.0;
            }

            // A little correlation between the two unscaled columns, so full and diagonal fits differ.
            cov[(c * d * d) + 1] = cov[(c * d * d) + d] = 0.3;
        }

        Rescale(means, cov, k, d, scale);
        return GaussianMixture.Create(weights, means, cov, k, d, CovarianceType.Full);
    }

    /// <summary>Two sticky states (self-transitions 0.95), d = 3, means 3 apart in the separating column, the last column multiplied by <paramref name="scale"/>.</summary>
    private static GaussianHmm SyntheticHmm(string pattern, double scale)
    {
        const int k = 2, d = 3;
        var means = new double[k * d];
        var cov = new double[k * d * d];
        means[d + (pattern == "scaled column" ? 2 : 0)] = 3.0;
        for (var c = 0; c < k; c++)
        {
            for (var j = 0; j < d; j++)
            {
                cov[(c * d * d) + (j * d) + j] = 1.0;
            }
        }

        Rescale(means, cov, k, d, scale);
        return GaussianHmm.Create([0.5, 0.5], [0.95, 0.05, 0.05, 0.95], means, cov, k, d, CovarianceType.Full);
    }

    /// <summary>The columns that carry no regime (for the HMM's patterns too: "one regime in each" is GMM only).</summary>
    private static int[] NoiseColumns(string pattern) => pattern switch
    {
        "scaled column" => [0, 1],
        "other column" => [1, 2],
        _ => [1],
    };

    /// <summary>
    /// A copy whose regime-free columns are replaced by uniform noise of unit variance (the last column times
    /// <paramref name="scale"/>): raw k-means splits a wide uniform column into slabs, a local optimum EM does not leave,
    /// where a normal column's split is unstable and EM often walks out of it.
    /// </summary>
    private static DataMatrix UniformNoise(DataMatrix data, int[] columns, double scale, ulong seed)
    {
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, 0x0F0Fu));
        var d = data.Columns;
        var values = data.Values.ToArray();
        for (var i = 0; i < data.Rows; i++)
        {
            foreach (var j in columns)
            {
                values[(i * d) + j] = ((2 * rng.NextDouble()) - 1) * Math.Sqrt(3) * (j == d - 1 ? scale : 1.0);
            }
        }

        return new DataMatrix(values, data.Rows, d);
    }

    private static void Rescale(double[] means, double[] cov, int k, int d, double scale)
    {
        for (var c = 0; c < k; c++)
        {
            means[(c * d) + d - 1] *= scale;
            for (var j = 0; j < d; j++)
            {
                cov[(c * d * d) + ((d - 1) * d) + j] *= scale;
                cov[(c * d * d) + (j * d) + d - 1] *= scale;
            }
        }
    }

    private static (DataMatrix Train, DataMatrix Held) Fold(DataMatrix data, int fold)
    {
        var d = data.Columns;
        var train = new List<double>();
        var held = new List<double>();
        for (var i = 0; i < data.Rows; i++)
        {
            (i % 5 == fold ? held : train).AddRange(data.Row(i).ToArray());
        }

        return (new DataMatrix([.. train], train.Count / d, d), new DataMatrix([.. held], held.Count / d, d));
    }

    private static DataMatrix Rows(DataMatrix data, int from, int to)
    {
        var d = data.Columns;
        return new DataMatrix(data.Values.Slice(from * d, (to - from) * d).ToArray(), to - from, d);
    }

    private static DataMatrix Columns(DataMatrix data, params int[] columns)
    {
        var values = new double[data.Rows * columns.Length];
        for (var i = 0; i < data.Rows; i++)
        {
            for (var j = 0; j < columns.Length; j++)
            {
                values[(i * columns.Length) + j] = data.Values[(i * data.Columns) + columns[j]];
            }
        }

        return new DataMatrix(values, data.Rows, columns.Length);
    }

    /// <summary>The first <paramref name="columns"/> numeric columns of a CSV with a header row.</summary>
    private static DataMatrix ReadCsv(string path, int columns)
    {
        var values = new List<double>();
        var rows = 0;
        foreach (var line in File.ReadLines(path).Skip(1).Where(l => l.Length > 0))
        {
            var cells = line.Split(',');
            for (var j = 0; j < columns; j++)
            {
                values.Add(double.Parse(cells[j], CultureInfo.InvariantCulture));
            }

            rows++;
        }

        return new DataMatrix([.. values], rows, columns);
    }
}
