using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Immutable parameters of a Gaussian mixture with their Cholesky factors cached, and the operations that use them.
/// Missing entries (NaN) in the data passed to any operation are marginalized.
/// </summary>
public sealed class GaussianMixture
{
    private readonly GmmParameters _p;

    /// <summary>Takes ownership of <paramref name="parameters"/> (factors must be current); callers pass a private copy.</summary>
    internal GaussianMixture(GmmParameters parameters) => _p = parameters;

    /// <summary>Number of components K.</summary>
    public int Components => _p.Components;

    /// <summary>Dimension D of an observation.</summary>
    public int Dimension => _p.Dimension;

    /// <summary>Covariance family.</summary>
    public CovarianceType CovarianceType => _p.Type;

    /// <summary>Mixing weights (K, sum 1).</summary>
    public ReadOnlySpan<double> Weights => _p.Weights;

    /// <summary>Component means, K×D row-major.</summary>
    public ReadOnlySpan<double> Means => _p.Means;

    /// <summary>Covariances in the raw layout of the type: Full K×D×D, Diag K×D (variances), Spherical K (variances), Tied D×D.</summary>
    public ReadOnlySpan<double> Covariances => _p.Covariances;

    /// <summary>
    /// Cholesky factors in the layout of <see cref="Covariances"/>: lower L with Σ = L·Lᵀ (Full, Tied), standard deviations (Diag, Spherical).
    /// </summary>
    public ReadOnlySpan<double> CholeskyFactors => _p.Cholesky;

    /// <summary>Number of free parameters as scikit-learn counts them (used by <see cref="Bic"/> and <see cref="Aic"/>).</summary>
    public int ParameterCount => _p.ParameterCount;

    internal GmmParameters Parameters => _p;

    /// <summary>Creates a mixture from explicit parameters.</summary>
    /// <param name="weights">K non-negative weights summing to 1 (within 1e-6; they are renormalized).</param>
    /// <param name="means">K×D means.</param>
    /// <param name="covariances">Raw layout per type: Full K×D×D, Diag K×D, Spherical K, Tied D×D; symmetric positive definite.</param>
    /// <param name="components">K ≥ 1.</param>
    /// <param name="dimension">D ≥ 1.</param>
    /// <param name="type">Covariance family.</param>
    /// <exception cref="ArgumentException">A length is wrong, a value is not finite, the weights do not sum to 1, or a covariance is not symmetric positive definite.</exception>
    public static GaussianMixture Create(ReadOnlySpan<double> weights, ReadOnlySpan<double> means, ReadOnlySpan<double> covariances, int components, int dimension, CovarianceType type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        var p = new GmmParameters(components, dimension, type);
        CheckLength(weights, components, nameof(weights));
        CheckLength(means, components * dimension, nameof(means));
        CheckLength(covariances, p.Covariances.Length, nameof(covariances));
        double sum = 0;
        foreach (var w in weights)
        {
            if (!(w >= 0) || !double.IsFinite(w))
            {
                throw new ArgumentException("weights must be finite and non-negative", nameof(weights));
            }

            sum += w;
        }

        if (Math.Abs(sum - 1.0) > 1e-6)
        {
            throw new ArgumentException($"weights sum to {sum}, not 1", nameof(weights));
        }

        if (!TensorPrimitives.IsFiniteAll(means))
        {
            throw new ArgumentException("means must be finite", nameof(means));
        }

        if (!TensorPrimitives.IsFiniteAll(covariances))
        {
            throw new ArgumentException("covariances must be finite", nameof(covariances));
        }

        TensorPrimitives.Divide(weights, sum, p.Weights);
        means.CopyTo(p.Means);
        covariances.CopyTo(p.Covariances);
        if (type is CovarianceType.Full or CovarianceType.Tied)
        {
            var d = dimension;
            var blocks = type == CovarianceType.Full ? components : 1;
            for (var k = 0; k < blocks; k++)
            {
                var c = p.Covariances.AsSpan(k * d * d, d * d);
                for (var i = 0; i < d; i++)
                {
                    for (var j = i + 1; j < d; j++)
                    {
                        var a = c[(i * d) + j];
                        var b = c[(j * d) + i];
                        if (Math.Abs(a - b) > 1e-9 * Math.Max(1.0, Math.Max(Math.Abs(a), Math.Abs(b))))
                        {
                            throw new ArgumentException($"covariance {k} is not symmetric at ({i}, {j})", nameof(covariances));
                        }
                    }
                }
            }
        }

        if (!p.TryRefreshFactors(out var failed))
        {
            throw new ArgumentException(failed < 0 ? "the tied covariance is not positive definite" : $"covariance {failed} is not positive definite", nameof(covariances));
        }

        return new GaussianMixture(p);
    }

    /// <summary>The D×D covariance of component <paramref name="k"/> expanded from any layout (a new array, row-major).</summary>
    public double[] FullCovariance(int k)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)k, (uint)Components, nameof(k));
        var result = new double[Dimension * Dimension];
        _p.ExpandCovariance(k, result);
        return result;
    }

    /// <summary>Writes log p(x_i) (n entries) for every row, marginalizing missing entries.</summary>
    /// <exception cref="ArgumentException">Wrong column count or destination length, or a row has no observed value.</exception>
    public void ScoreSamples(DataMatrix data, Span<double> logDensity)
    {
        CheckData(data);
        CheckLength(logDensity, data.Rows, nameof(logDensity));
        var n = data.Rows;
        var k = Components;
        var ld = LogJoint(data);
        for (var i = 0; i < n; i++)
        {
            logDensity[i] = LogSumExp(ld.AsSpan(i * k, k));
        }
    }

    /// <summary>
    /// Writes each row's tail probability (n entries in [0, 1]): Σ_k r_k(x)·P(χ²_|o| ≥ D²_k(x)), the posterior-weighted
    /// chance that a draw of the component lies farther out (Mahalanobis distance on the row's observed coordinates |o|)
    /// than the row. About uniform on (0, 1) for rows the model explains, whatever the unit or the number of missing
    /// values: a scale-free anomaly measure, small = anomalous. A row with no observed value gets 1 (nothing to judge).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong column count or destination length.</exception>
    public void TailProbabilities(DataMatrix data, Span<double> tail)
    {
        CheckData(data);
        CheckLength(tail, data.Rows, nameof(tail));
        var tails = MixtureTail.Of(this);
        for (var i = 0; i < data.Rows; i++)
        {
            tail[i] = tails.Probability(data.Row(i), Weights);
        }
    }

    /// <summary>Mean log-likelihood per sample, log p(x) averaged over rows.</summary>
    public double Score(DataMatrix data)
    {
        CheckData(data);
        if (data.Rows == 0)
        {
            throw new ArgumentException("data has no rows", nameof(data));
        }

        using var ws = new GmmWorkspace(data, Components, CovarianceType);
        return ws.LogLikelihood(_p) / data.Rows;
    }

    /// <summary>Posterior component probabilities (n×K row-major).</summary>
    public void PredictProba(DataMatrix data, Span<double> responsibilities)
    {
        CheckData(data);
        var k = Components;
        CheckLength(responsibilities, data.Rows * k, nameof(responsibilities));
        var ld = LogJoint(data);
        for (var i = 0; i < data.Rows; i++)
        {
            var row = ld.AsSpan(i * k, k);
            var lse = LogSumExp(row);
            var dest = responsibilities.Slice(i * k, k);
            if (double.IsNegativeInfinity(lse))
            {
                // Every density underflowed (the row is astronomically far from all components): the row cannot tell the
                // components apart, so each keeps its weight, the prior (as Impute weighs their conditional means), instead
                // of exp(−∞ − (−∞)) = NaN.
                _p.Weights.CopyTo(dest);
                continue;
            }

            TensorPrimitives.Subtract(row, lse, dest);
            TensorPrimitives.Exp(dest, dest);
        }
    }

    /// <summary>Most probable component per row.</summary>
    public void Predict(DataMatrix data, Span<int> labels)
    {
        CheckData(data);
        CheckLength(labels, data.Rows, nameof(labels));
        var k = Components;
        var ld = LogJoint(data);
        for (var i = 0; i < data.Rows; i++)
        {
            var row = ld.AsSpan(i * k, k);
            // A row whose every density underflowed gets the heaviest component, as PredictProba gives it the weights.
            labels[i] = double.IsNegativeInfinity(TensorPrimitives.Max<double>(row))
                ? TensorPrimitives.IndexOfMax<double>(_p.Weights)
                : TensorPrimitives.IndexOfMax<double>(row);
        }
    }

    /// <summary>Draws <paramref name="n"/> observations; the same seed gives the same draws. Writes the components to <paramref name="labels"/> when it is not empty.</summary>
    public DataMatrix Sample(int n, ulong seed, Span<int> labels = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (!labels.IsEmpty)
        {
            CheckLength(labels, n, nameof(labels));
        }

        var d = Dimension;
        var values = new double[n * d];
        var rng = new DeterministicRandom(seed);
        var z = new double[d];
        for (var i = 0; i < n; i++)
        {
            var u = rng.NextDouble();
            var k = 0;
            for (var acc = _p.Weights[0]; u >= acc && k < Components - 1; acc += _p.Weights[++k])
            {
            }

            if (!labels.IsEmpty)
            {
                labels[i] = k;
            }

            for (var j = 0; j < d; j++)
            {
                z[j] = rng.NextGaussian();
            }

            var x = values.AsSpan(i * d, d);
            var mu = _p.Means.AsSpan(k * d, d);
            switch (CovarianceType)
            {
                case CovarianceType.Full:
                case CovarianceType.Tied:
                    {
                        var l = _p.Cholesky.AsSpan(CovarianceType == CovarianceType.Full ? k * d * d : 0, d * d);
                        for (var r = 0; r < d; r++)
                        {
                            double s = mu[r];
                            for (var c = 0; c <= r; c++)
                            {
                                s += l[(r * d) + c] * z[c];
                            }

                            x[r] = s;
                        }

                        break;
                    }

                case CovarianceType.Diag:
                    for (var r = 0; r < d; r++)
                    {
                        x[r] = mu[r] + (_p.Cholesky[(k * d) + r] * z[r]);
                    }

                    break;
                default:
                    for (var r = 0; r < d; r++)
                    {
                        x[r] = mu[r] + (_p.Cholesky[k] * z[r]);
                    }

                    break;
            }
        }

        return new DataMatrix(values, n, d);
    }

    /// <summary>
    /// A copy of <paramref name="data"/> with each missing entry replaced by E[x_m | x_o] = Σ_k p(k | x_o)·E[x_m | x_o, k];
    /// observed entries are unchanged. A row with no observed value gets the same formula with nothing to condition on: the
    /// mixture's mean Σ_k w_k μ_k (p(k | ∅) = w_k).
    /// </summary>
    public DataMatrix Impute(DataMatrix data)
    {
        CheckData(data);
        var n = data.Rows;
        var d = data.Columns;
        var values = new double[n * d];
        var (observed, empty) = data.SplitEmptyRows();
        if (observed.Rows > 0)
        {
            // The workspace conditions on observed entries and refuses a row without any: impute the others, then fill the empty rows.
            var imputed = empty.Length == 0 ? values : new double[observed.Rows * d];
            using (var ws = new GmmWorkspace(observed, Components, CovarianceType))
            {
                ws.Impute(_p, imputed);
            }

            if (empty.Length == 0)
            {
                return new DataMatrix(values, n, d);
            }

            for (int i = 0, r = 0, next = 0; i < n; i++)
            {
                if (next < empty.Length && empty[next] == i)
                {
                    next++;
                    continue;
                }

                imputed.AsSpan(r++ * d, d).CopyTo(values.AsSpan(i * d, d));
            }
        }

        var mean = MixtureMean();
        foreach (var i in empty)
        {
            mean.CopyTo(values.AsSpan(i * d, d));
        }

        return new DataMatrix(values, n, d);
    }

    /// <summary>The mixture's mean Σ_k w_k μ_k.</summary>
    public double[] MixtureMean()
    {
        var d = Dimension;
        var mean = new double[d];
        var weights = _p.Weights;
        var means = _p.Means;
        for (var k = 0; k < Components; k++)
        {
            TensorPrimitives.MultiplyAdd(means.AsSpan(k * d, d), weights[k], mean, mean);
        }

        return mean;
    }

    /// <summary>Bayesian information criterion −2·log L + p·ln n (lower is better).</summary>
    public double Bic(DataMatrix data)
    {
        var total = Score(data) * data.Rows;
        return (-2.0 * total) + (ParameterCount * Math.Log(data.Rows));
    }

    /// <summary>Akaike information criterion −2·log L + 2p (lower is better).</summary>
    public double Aic(DataMatrix data)
    {
        var total = Score(data) * data.Rows;
        return (-2.0 * total) + (2.0 * ParameterCount);
    }

    /// <summary>n×K log w_k + log N(x_i; μ_k, Σ_k).</summary>
    internal double[] LogJoint(DataMatrix data)
    {
        var k = Components;
        var ld = new double[data.Rows * k];
        using (var ws = new GmmWorkspace(data, k, CovarianceType))
        {
            ws.LogDensities(_p, ld);
        }

        for (var i = 0; i < data.Rows; i++)
        {
            var row = ld.AsSpan(i * k, k);
            TensorPrimitives.Add(row, _p.LogWeights, row);
        }

        return ld;
    }

    private static double LogSumExp(ReadOnlySpan<double> values)
    {
        var max = TensorPrimitives.Max(values);
        if (double.IsNegativeInfinity(max))
        {
            // All terms are exp(−∞) = 0: log 0 = −∞, not the NaN of −∞ − (−∞).
            return double.NegativeInfinity;
        }

        double s = 0;
        foreach (var v in values)
        {
            s += Math.Exp(v - max);
        }

        return max + Math.Log(s);
    }

    private void CheckData(DataMatrix data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Columns != Dimension)
        {
            throw new ArgumentException($"data has {data.Columns} columns, the model has dimension {Dimension}", nameof(data));
        }
    }

    private static void CheckLength<T>(ReadOnlySpan<T> span, int expected, string name)
    {
        if (span.Length != expected)
        {
            throw new ArgumentException($"{name} has {span.Length} entries, expected {expected}", name);
        }
    }

    private static void CheckLength<T>(Span<T> span, int expected, string name) => CheckLength((ReadOnlySpan<T>)span, expected, name);
}
