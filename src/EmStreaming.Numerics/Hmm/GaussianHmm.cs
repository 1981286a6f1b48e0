using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Immutable parameters of a hidden Markov model with Gaussian emissions (Full or Diag covariance), with the
/// covariance factors cached. All matrices are flat, row-major: transitions K×K (row i = from state i), means
/// K×D, covariances K×D×D (Full) or K×D (Diag). Missing entries (NaN) in data are marginalized.
/// </summary>
public sealed class GaussianHmm
{
    private readonly double[] _start;
    private readonly double[] _transitions;

    private GaussianHmm(double[] start, double[] transitions, HmmEmissions emissions)
    {
        _start = start;
        _transitions = transitions;
        Emissions = emissions;
    }

    /// <summary>Number of hidden states K.</summary>
    public int States => Emissions.K;

    /// <summary>Dimension D of an observation.</summary>
    public int Dimension => Emissions.D;

    /// <summary>Emission covariance type (Full or Diag).</summary>
    public CovarianceType CovarianceType => Emissions.Type;

    /// <summary>p(z_1 = k), length K.</summary>
    public ReadOnlySpan<double> StartProbabilities => _start;

    /// <summary>A(i, j) = p(z_t = j | z_{t−1} = i), K×K row-major; every row sums to 1.</summary>
    public ReadOnlySpan<double> Transitions => _transitions;

    /// <summary>State means, K×D row-major.</summary>
    public ReadOnlySpan<double> Means => Emissions.Means;

    /// <summary>State covariances, K×D×D (Full) or K×D variances (Diag).</summary>
    public ReadOnlySpan<double> Covariances => Emissions.Covariances;

    /// <summary>Free parameters: (K−1) start + K(K−1) transitions + K·D means + covariance parameters.</summary>
    public int ParameterCount
    {
        get
        {
            var k = States;
            var d = Dimension;
            var cov = CovarianceType == CovarianceType.Full ? k * d * (d + 1) / 2 : k * d;
            return (k - 1) + (k * (k - 1)) + (k * d) + cov;
        }
    }

    internal HmmEmissions Emissions { get; }

    /// <summary>
    /// Creates a model after validating it: probabilities finite, ≥ 0, each row summing to 1 within 1e-8
    /// (then renormalized exactly), covariances positive definite.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size or the covariance type is invalid.</exception>
    /// <exception cref="ArgumentException">A value is not finite, a probability row does not sum to 1, or a covariance is not positive definite (the message names the state).</exception>
    public static GaussianHmm Create(
        ReadOnlySpan<double> startProbabilities,
        ReadOnlySpan<double> transitions,
        ReadOnlySpan<double> means,
        ReadOnlySpan<double> covariances,
        int states,
        int dimension,
        CovarianceType covarianceType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(states, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (covarianceType is not (CovarianceType.Full or CovarianceType.Diag))
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceType), covarianceType, "HMM emissions support Full or Diag covariance.");
        }

        var emissions = new HmmEmissions(states, dimension, covarianceType);
        CheckLength(startProbabilities, states, nameof(startProbabilities));
        CheckLength(transitions, states * states, nameof(transitions));
        CheckLength(means, states * dimension, nameof(means));
        CheckLength(covariances, states * emissions.CovarianceLength, nameof(covariances));
        var start = startProbabilities.ToArray();
        var a = transitions.ToArray();
        NormalizeRow(start, nameof(startProbabilities));
        for (var i = 0; i < states; i++)
        {
            NormalizeRow(a.AsSpan(i * states, states), $"{nameof(transitions)} row {i}");
        }

        for (var i = 0; i < means.Length; i++)
        {
            if (!double.IsFinite(means[i]))
            {
                throw new ArgumentException($"means entry {i} is not finite.", nameof(means));
            }
        }

        means.CopyTo(emissions.Means);
        covariances.CopyTo(emissions.Covariances);
        for (var k = 0; k < states; k++)
        {
            var cov = emissions.Covariances.AsSpan(k * emissions.CovarianceLength, emissions.CovarianceLength);
            foreach (var v in cov)
            {
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException($"covariance of state {k} has a non-finite entry.", nameof(covariances));
                }
            }

            if (covarianceType == CovarianceType.Full)
            {
                for (var i = 0; i < dimension; i++)
                {
                    for (var j = 0; j < i; j++)
                    {
                        if (Math.Abs(cov[(i * dimension) + j] - cov[(j * dimension) + i]) > 1e-9 * (1 + Math.Abs(cov[(i * dimension) + j])))
                        {
                            throw new ArgumentException($"covariance of state {k} is not symmetric.", nameof(covariances));
                        }
                    }
                }
            }

        }

        if (!emissions.TryRefreshFactors(out var failed))
        {
            throw new ArgumentException($"covariance of state {failed} is not positive definite.", nameof(covariances));
        }

        return new GaussianHmm(start, a, emissions);
    }

    internal static GaussianHmm FromParts(ReadOnlySpan<double> start, ReadOnlySpan<double> transitions, HmmEmissions emissions)
        => new(start.ToArray(), transitions.ToArray(), emissions.Clone());

    /// <summary>State k's covariance expanded to D×D (a diagonal matrix for Diag), for display or JSON.</summary>
    public double[] FullCovariance(int k)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)k, (uint)States, nameof(k));
        var d = Dimension;
        var result = new double[d * d];
        if (CovarianceType == CovarianceType.Full)
        {
            Covariances.Slice(k * d * d, d * d).CopyTo(result);
        }
        else
        {
            for (var i = 0; i < d; i++)
            {
                result[(i * d) + i] = Covariances[(k * d) + i];
            }
        }

        return result;
    }

    /// <summary>Total log-likelihood log p(x_1..n) of one sequence (nats). An empty sequence scores 0.</summary>
    /// <exception cref="ArgumentException">The dimension does not match, or a row has no observed value.</exception>
    public double LogLikelihood(DataMatrix sequence)
    {
        var ws = HmmWorkspace.For(this, sequence);
        return ws.Forward(this, sequence);
    }

    /// <summary>Mean log-likelihood per observation (nats) over one or more sequences.</summary>
    public double Score(DataMatrix sequence) => sequence.Rows == 0 ? 0.0 : LogLikelihood(sequence) / sequence.Rows;

    /// <summary>Mean log-likelihood per observation (nats) over several independent sequences.</summary>
    public double Score(IReadOnlyList<DataMatrix> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var total = 0.0;
        long rows = 0;
        foreach (var s in sequences)
        {
            total += LogLikelihood(s);
            rows += s.Rows;
        }

        return rows == 0 ? 0.0 : total / rows;
    }

    /// <summary>
    /// Filtered probabilities p(z_t = k | x_1..t) into <paramref name="probabilities"/> (n×K, rows sum to 1).
    /// Returns log p(x_1..n).
    /// </summary>
    public double Filter(DataMatrix sequence, Span<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        CheckDestination(probabilities.Length, sequence.Rows * States, nameof(probabilities));
        var ws = HmmWorkspace.For(this, sequence);
        var ll = ws.Forward(this, sequence);
        ws.Alpha.AsSpan(0, sequence.Rows * States).CopyTo(probabilities);
        return ll;
    }

    /// <summary>
    /// Tail probability of each row of a sequence (n entries in [0, 1]; see <see cref="GaussianMixture.TailProbabilities"/>)
    /// under its one-step-ahead prediction: the emissions weighted by p(z_t | x_1..t−1), the start probabilities for the first
    /// row. Small = a row the model, knowing the rows before it, finds rare, whatever the unit and the values missing.
    /// </summary>
    public void TailProbabilities(DataMatrix sequence, Span<double> tail)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        CheckDestination(tail.Length, sequence.Rows, nameof(tail));
        Filter(sequence, new double[sequence.Rows * States], default, tail);
    }

    /// <summary>
    /// Each row's one-step-ahead predictive log density, log p(x_t | x_1..t−1) (n entries, missing entries marginalized): the
    /// emissions weighted by p(z_t | x_1..t−1), the start probabilities for the first row. They sum to
    /// <see cref="LogLikelihood"/>; each is the row's score knowing the rows before it (its negative is its anomaly score).
    /// </summary>
    public void PredictiveLogDensities(DataMatrix sequence, Span<double> logDensity)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        CheckDestination(logDensity.Length, sequence.Rows, nameof(logDensity));
        Filter(sequence, new double[sequence.Rows * States], logDensity, default);
    }

    /// <summary>
    /// One forward pass for all a sequence query needs: the filtered probabilities (as <see cref="Filter(DataMatrix, Span{double})"/>)
    /// and, when their spans are not empty, each row's predictive log density (<see cref="PredictiveLogDensities"/>) and tail
    /// probability (<see cref="TailProbabilities"/>). Returns log p(x_1..n).
    /// </summary>
    public double Filter(DataMatrix sequence, Span<double> probabilities, Span<double> logDensity, Span<double> tail)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int n = sequence.Rows, k = States;
        if (!logDensity.IsEmpty)
        {
            CheckDestination(logDensity.Length, n, nameof(logDensity));
        }

        if (!tail.IsEmpty)
        {
            CheckDestination(tail.Length, n, nameof(tail));
        }

        var logLikelihood = Filter(sequence, probabilities);
        if (n == 0 || (logDensity.IsEmpty && tail.IsEmpty))
        {
            return logLikelihood;
        }

        var tails = tail.IsEmpty ? null : MixtureTail.Of(this);
        var predicted = new double[k];
        var emission = new double[k];
        var scratch = new double[Emissions.ScratchLength];
        for (var t = 0; t < n; t++)
        {
            // p(z_t | x_1..t−1): the start probabilities, then each filtered row pushed through the transitions.
            if (t == 0)
            {
                _start.CopyTo(predicted, 0);
            }
            else
            {
                HmmForwardBackward.Predict(probabilities.Slice((t - 1) * k, k), _transitions, k, predicted);
            }

            var row = sequence.Row(t);
            if (tails is not null)
            {
                tail[t] = tails.Probability(row, predicted);
            }

            if (!logDensity.IsEmpty)
            {
                logDensity[t] = PredictiveLogDensity(row, predicted, emission, scratch);
            }
        }

        return logLikelihood;
    }

    /// <summary>log Σ_k predicted_k g_k(x), in the log domain.</summary>
    private double PredictiveLogDensity(ReadOnlySpan<double> x, ReadOnlySpan<double> predicted, double[] emission, double[] scratch)
    {
        var k = States;
        Emissions.LogDensity(x, emission, scratch);
        var max = double.NegativeInfinity;
        for (var s = 0; s < k; s++)
        {
            emission[s] = predicted[s] > 0 ? Math.Log(predicted[s]) + emission[s] : double.NegativeInfinity;
            max = Math.Max(max, emission[s]);
        }

        var sum = 0.0;
        for (var s = 0; s < k; s++)
        {
            sum += Math.Exp(emission[s] - max);
        }

        return double.IsNegativeInfinity(max) ? max : max + Math.Log(sum);
    }

    /// <summary>
    /// Smoothed probabilities p(z_t = k | x_1..n) into <paramref name="probabilities"/> (n×K, rows sum to 1).
    /// Returns log p(x_1..n).
    /// </summary>
    public double Smooth(DataMatrix sequence, Span<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        CheckDestination(probabilities.Length, sequence.Rows * States, nameof(probabilities));
        var ws = HmmWorkspace.For(this, sequence);
        var ll = ws.Forward(this, sequence);
        ws.BackwardInto(this, sequence.Rows);
        ws.Alpha.AsSpan(0, sequence.Rows * States).CopyTo(probabilities);
        return ll;
    }

    /// <summary>
    /// A copy of <paramref name="sequence"/> with each missing entry replaced by its expectation given the whole sequence,
    /// Σ_k p(z_t = k | x_1..n)·E[x_m | x_o, z_t = k]: the rows are consecutive, so a row's regime is judged from the rows
    /// around it (forward–backward) as well as from its own observed values. Observed entries are unchanged; a row with
    /// nothing observed gets Σ_k p(z_t = k | x_1..n)·μ_k. One row alone gets Σ_k p(k | x_o)·E[x_m | x_o, k] with prior
    /// <paramref name="initial"/>, as a mixture would.
    /// </summary>
    /// <param name="sequence">n × d rows; NaN = missing.</param>
    /// <param name="initial">p(z_1): K probabilities (the live filter's one-step-ahead prediction, for rows that continue a
    /// stream); empty = the start probabilities.</param>
    /// <exception cref="ArgumentException">Wrong column count, or <paramref name="initial"/> of the wrong length or not a distribution.</exception>
    public DataMatrix Impute(DataMatrix sequence, ReadOnlySpan<double> initial = default)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int n = sequence.Rows, d = Dimension, k = States;
        if (sequence.Columns != d)
        {
            throw new ArgumentException($"expected {d} columns, got {sequence.Columns}", nameof(sequence));
        }

        var prior = initial.IsEmpty ? _start.ToArray() : initial.ToArray();
        if (prior.Length != k || prior.Any(p => !(p >= 0)) || Math.Abs(prior.Sum() - 1.0) > 1e-6)
        {
            throw new ArgumentException($"the initial regime probabilities must be {k} non-negative numbers summing to 1", nameof(initial));
        }

        var values = sequence.Values.ToArray();
        if (n == 0)
        {
            return new DataMatrix(values, 0, d);
        }

        // ln N(x_o; μ_k, Σ_k) of each row and state (0 for a row with nothing observed: no evidence), and each state's own
        // conditional means (a one-component mixture's imputation: the workspace's patterns and fallbacks).
        var (observed, empty) = sequence.SplitEmptyRows();
        var logEmission = new double[n * k];
        var covarianceLength = Emissions.CovarianceLength;
        var uniform = Enumerable.Repeat(1.0 / k, k).ToArray();
        if (observed.Rows > 0)
        {
            var joint = GaussianMixture.Create(uniform, Means, Covariances, k, d, CovarianceType).LogJoint(observed);
            for (int t = 0, r = 0, next = 0; t < n; t++)
            {
                if (next < empty.Length && empty[next] == t)
                {
                    next++;
                    continue;
                }

                joint.AsSpan(r++ * k, k).CopyTo(logEmission.AsSpan(t * k, k));
            }
        }

        var byState = new double[k][];
        for (var s = 0; s < k; s++)
        {
            var single = GaussianMixture.Create(
                [1.0], Means.Slice(s * d, d), Covariances.Slice(s * covarianceLength, covarianceLength), 1, d, CovarianceType);
            byState[s] = single.Impute(sequence).Values.ToArray();
        }

        var posterior = SmoothFrom(prior, logEmission, n);
        for (var t = 0; t < n; t++)
        {
            for (var j = 0; j < d; j++)
            {
                var at = (t * d) + j;
                if (!double.IsNaN(values[at]))
                {
                    continue;
                }

                var sum = 0.0;
                for (var s = 0; s < k; s++)
                {
                    sum += posterior[(t * k) + s] * byState[s][at];
                }

                values[at] = sum;
            }
        }

        return new DataMatrix(values, n, d);
    }

    /// <summary>
    /// p(z_t | x_1..n) (n × K) by the scaled forward–backward kernels Baum–Welch uses, from p(z_1) = <paramref name="prior"/>,
    /// on log-emissions that may be 0 (a row with nothing observed).
    /// </summary>
    private double[] SmoothFrom(double[] prior, double[] logEmission, int n)
    {
        var k = States;
        var (emission, rowMax, posterior) = (new double[n * k], new double[n], new double[n * k]);
        HmmForwardBackward.ShiftAndExponentiate(logEmission, n, k, emission, rowMax);
        HmmForwardBackward.Forward(logEmission, emission, rowMax, n, k, prior, _transitions, posterior, new double[k]);
        HmmForwardBackward.Backward(emission, n, k, _transitions, posterior, new double[k * k], new double[3 * k]);
        return posterior;
    }

    /// <summary>
    /// Most likely state path (Viterbi, 0-based states) into <paramref name="path"/> (length n).
    /// Returns its joint log-probability log p(x_1..n, z_1..n).
    /// </summary>
    public double Viterbi(DataMatrix sequence, Span<int> path)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        CheckDestination(path.Length, sequence.Rows, nameof(path));
        if (sequence.Rows == 0)
        {
            return 0.0;
        }

        var ws = HmmWorkspace.For(this, sequence);
        ws.ComputeLogEmission(this, sequence);
        var k = States;
        var logStart = new double[k];
        var logA = new double[k * k];
        for (var i = 0; i < k; i++)
        {
            logStart[i] = Math.Log(_start[i]);
        }

        for (var i = 0; i < k * k; i++)
        {
            logA[i] = Math.Log(_transitions[i]);
        }

        var backPointers = new int[sequence.Rows * k];
        return HmmViterbi.Decode(ws.LogEmission, sequence.Rows, k, logStart, logA, path, backPointers, new double[2 * k]);
    }

    /// <summary>Convenience form of <see cref="Viterbi(DataMatrix, Span{int})"/> returning a new array.</summary>
    public int[] Decode(DataMatrix sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        var path = new int[sequence.Rows];
        Viterbi(sequence, path);
        return path;
    }

    /// <summary>
    /// Draws a sequence of <paramref name="n"/> observations (and, when <paramref name="states"/> is not empty,
    /// the hidden states) from the model. Reproducible for a given seed.
    /// </summary>
    public DataMatrix Sample(int n, ulong seed, Span<int> states = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (!states.IsEmpty)
        {
            CheckDestination(states.Length, n, nameof(states));
        }

        var k = States;
        var d = Dimension;
        var rng = new DeterministicRandom(seed);
        var values = new double[n * d];
        var z = new double[d];
        var chol = new double[d * d];
        var factors = new double[k * d * d];
        for (var s = 0; s < k; s++)
        {
            var cov = FullCovariance(s);
            Linear.Cholesky.TryFactor(cov, d);
            cov.CopyTo(factors, s * d * d);
        }

        var state = Draw(ref rng, _start);
        for (var t = 0; t < n; t++)
        {
            if (t > 0)
            {
                state = Draw(ref rng, _transitions.AsSpan(state * k, k));
            }

            if (!states.IsEmpty)
            {
                states[t] = state;
            }

            for (var i = 0; i < d; i++)
            {
                z[i] = rng.NextGaussian();
            }

            var l = factors.AsSpan(state * d * d, d * d);
            for (var i = 0; i < d; i++)
            {
                var v = Means[(state * d) + i];
                for (var j = 0; j <= i; j++)
                {
                    v += l[(i * d) + j] * z[j];
                }

                values[(t * d) + i] = v;
            }
        }

        return new DataMatrix(values, n, d);
    }

    /// <summary>Bayesian information criterion −2·logL + p·ln n on one sequence.</summary>
    public double Bic(DataMatrix sequence) => (-2.0 * LogLikelihood(sequence)) + (ParameterCount * Math.Log(sequence.Rows));

    /// <summary>Akaike information criterion −2·logL + 2p on one sequence.</summary>
    public double Aic(DataMatrix sequence) => (-2.0 * LogLikelihood(sequence)) + (2.0 * ParameterCount);

    private static int Draw(ref DeterministicRandom rng, ReadOnlySpan<double> p)
    {
        var u = rng.NextDouble();
        var c = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            c += p[i];
            if (u < c)
            {
                return i;
            }
        }

        return p.Length - 1;
    }

    private static void CheckLength(ReadOnlySpan<double> values, int expected, string name)
    {
        if (values.Length != expected)
        {
            throw new ArgumentException($"{name} has {values.Length} entries, expected {expected}.", name);
        }
    }

    private static void CheckDestination(int length, int expected, string name)
    {
        if (length < expected)
        {
            throw new ArgumentException($"{name} has {length} entries, at least {expected} needed.", name);
        }
    }

    private static void NormalizeRow(Span<double> row, string name)
    {
        var sum = 0.0;
        foreach (var v in row)
        {
            if (!(v >= 0) || !double.IsFinite(v))
            {
                throw new ArgumentException($"{name} has an entry that is negative or not finite.", name);
            }

            sum += v;
        }

        if (Math.Abs(sum - 1.0) > 1e-8)
        {
            throw new ArgumentException($"{name} sums to {sum}, not 1.", name);
        }

        for (var i = 0; i < row.Length; i++)
        {
            row[i] /= sum;
        }
    }
}
