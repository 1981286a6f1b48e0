using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Mutable Gaussian-mixture parameters with their cached factors: the working buffer EM writes in place so an iteration
/// allocates nothing. <see cref="GaussianMixture"/> wraps a private copy for the immutable public view.
/// </summary>
/// <remarks>
/// Use from outside EM (online EM, HMM emissions): allocate once, let <see cref="GmmSufficientStatistics.MaximizeInto(GmmParameters, double, ReadOnlySpan{double}, Span{bool})"/>
/// fill it (it refreshes the factors), then pass it to <see cref="GmmWorkspace"/> or <see cref="LogDensitiesRow"/>.
/// If you write <see cref="Weights"/>, <see cref="Means"/> or <see cref="Covariances"/> yourself, call
/// <see cref="TryRefreshFactors"/> afterwards. Weights are ignored by the log-density kernels (HMM emissions need none).
/// Layouts: Means K×D row-major; Covariances Full K×D×D, Diag K×D (variances), Spherical K (variances), Tied D×D.
/// Cholesky: Full/Tied lower L with Σ = L·Lᵀ; Diag/Spherical standard deviations. InverseCholesky: L⁻¹ (lower) or 1/σ.
/// </remarks>
internal sealed class GmmParameters
{
    private static readonly double Log2Pi = Math.Log(2.0 * Math.PI);

    // The logarithms of a factor refresh (diagonals of L, variances) gathered for one vectorized TensorPrimitives.Log:
    // scalar Math.Log calls from code that just ran wide vector kernels were the largest single cost of an online M-step.
    private readonly double[] _logScratch;

    // Σ_k⁻¹ (d×d each; one for Tied) from the inverse factors, built on first use after a refresh, for rows with missing
    // entries through the precision (MissingData.ConditionalByPrecision). Readers may be several threads.
    private readonly Lock _precisionLock = new();
    private double[]? _precision;
    private volatile bool _precisionValid;

    public GmmParameters(int components, int dimension, CovarianceType type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Components = components;
        Dimension = dimension;
        Type = type;
        Weights = new double[components];
        LogWeights = new double[components];
        Means = new double[components * dimension];
        var covLength = CovarianceLength(type, components, dimension);
        Covariances = new double[covLength];
        Cholesky = new double[covLength];
        InverseCholesky = new double[covLength];
        LogNormalizers = new double[components];
        _logScratch = new double[type == CovarianceType.Spherical ? components : components * dimension];
    }

    public int Components { get; }

    public int Dimension { get; }

    public CovarianceType Type { get; }

    public double[] Weights { get; }

    /// <summary>ln w_k, refreshed by <see cref="TryRefreshFactors"/>.</summary>
    public double[] LogWeights { get; }

    public double[] Means { get; }

    public double[] Covariances { get; }

    public double[] Cholesky { get; }

    public double[] InverseCholesky { get; }

    /// <summary>−½(D·ln 2π + ln|Σ_k|): log N(x; μ_k, Σ_k) = LogNormalizers[k] − ½·Mahalanobis².</summary>
    public double[] LogNormalizers { get; }

    /// <summary>Length of the raw covariance layout for a covariance type.</summary>
    public static int CovarianceLength(CovarianceType type, int components, int dimension) => type switch
    {
        CovarianceType.Full => components * dimension * dimension,
        CovarianceType.Diag => components * dimension,
        CovarianceType.Spherical => components,
        CovarianceType.Tied => dimension * dimension,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown covariance type"),
    };

    /// <summary>Free parameters as scikit-learn counts them (for BIC/AIC).</summary>
    public int ParameterCount => (int)FreeParameters(Type, Components, Dimension);

    /// <summary>Free parameters of a K-component, D-dimensional mixture of a covariance type (weights, means, covariances).</summary>
    public static long FreeParameters(CovarianceType type, long components, long dimension)
    {
        var k = components;
        var d = dimension;
        var cov = type switch
        {
            CovarianceType.Full => k * d * (d + 1) / 2,
            CovarianceType.Diag => k * d,
            CovarianceType.Spherical => k,
            _ => d * (d + 1) / 2,
        };
        return cov + (k * d) + k - 1;
    }

    /// <summary>
    /// Recomputes log-weights and the Cholesky factors, inverse factors and normalizers from the covariances.
    /// Returns false with the first failing component (−1 for the tied matrix) when a covariance is not positive definite.
    /// </summary>
    public bool TryRefreshFactors(out int failedComponent)
    {
        _precisionValid = false;
        TensorPrimitives.Log(Weights, LogWeights);
        var d = Dimension;
        var dd = d * d;
        var logs = _logScratch.AsSpan();
        failedComponent = -2;
        switch (Type)
        {
            case CovarianceType.Full:
                for (var k = 0; k < Components; k++)
                {
                    if (!RefreshDense(k * dd, logs.Slice(k * d, d)))
                    {
                        failedComponent = k;
                        return false;
                    }
                }

                // log|Σ_k| = 2·Σ_i ln L_ii.
                TensorPrimitives.Log(logs, logs);
                for (var k = 0; k < Components; k++)
                {
                    LogNormalizers[k] = -0.5 * ((d * Log2Pi) + (2.0 * TensorPrimitives.Sum<double>(logs.Slice(k * d, d))));
                }

                break;
            case CovarianceType.Tied:
                {
                    var diag = logs.Slice(0, d);
                    if (!RefreshDense(0, diag))
                    {
                        failedComponent = -1;
                        return false;
                    }

                    TensorPrimitives.Log(diag, diag);
                    Array.Fill(LogNormalizers, -0.5 * ((d * Log2Pi) + (2.0 * TensorPrimitives.Sum<double>(diag))));
                    break;
                }

            default:
                {
                    // Diag: d variances per component; Spherical: one, counted d times in the determinant.
                    var perComponent = Covariances.Length / Components;
                    for (var i = 0; i < Covariances.Length; i++)
                    {
                        var v = Covariances[i];
                        if (!(v > 0) || !double.IsFinite(v))
                        {
                            failedComponent = i / perComponent;
                            return false;
                        }
                    }

                    TensorPrimitives.Sqrt(Covariances, Cholesky);
                    TensorPrimitives.Reciprocal(Cholesky, InverseCholesky);
                    TensorPrimitives.Log(Covariances, logs);
                    var multiplicity = d / perComponent;
                    for (var k = 0; k < Components; k++)
                    {
                        var logDet = multiplicity * TensorPrimitives.Sum<double>(logs.Slice(k * perComponent, perComponent));
                        LogNormalizers[k] = -0.5 * ((d * Log2Pi) + logDet);
                    }

                    break;
                }
        }

        return true;
    }

    /// <summary>Writes the D×D covariance of component <paramref name="k"/> (expanded from any layout) into <paramref name="destination"/>.</summary>
    public void ExpandCovariance(int k, Span<double> destination)
    {
        var d = Dimension;
        var dest = destination.Slice(0, d * d);
        switch (Type)
        {
            case CovarianceType.Full:
                Covariances.AsSpan(k * d * d, d * d).CopyTo(dest);
                break;
            case CovarianceType.Tied:
                Covariances.AsSpan(0, d * d).CopyTo(dest);
                break;
            case CovarianceType.Diag:
                dest.Clear();
                for (var i = 0; i < d; i++)
                {
                    dest[(i * d) + i] = Covariances[(k * d) + i];
                }

                break;
            default:
                dest.Clear();
                for (var i = 0; i < d; i++)
                {
                    dest[(i * d) + i] = Covariances[k];
                }

                break;
        }
    }

    /// <summary>Copies all values (parameters and factors) from a mixture of the same shape.</summary>
    public void CopyFrom(GmmParameters other)
    {
        if (other.Components != Components || other.Dimension != Dimension || other.Type != Type)
        {
            throw new ArgumentException("parameters differ in shape", nameof(other));
        }

        other.Weights.CopyTo(Weights, 0);
        other.LogWeights.CopyTo(LogWeights, 0);
        other.Means.CopyTo(Means, 0);
        other.Covariances.CopyTo(Covariances, 0);
        other.Cholesky.CopyTo(Cholesky, 0);
        other.InverseCholesky.CopyTo(InverseCholesky, 0);
        other.LogNormalizers.CopyTo(LogNormalizers, 0);
        _precisionValid = false;
    }

    /// <summary>Diag or Spherical: a row's missing entries are simply left out (no factor, no precision).</summary>
    internal bool IsDiagonal => Type is CovarianceType.Diag or CovarianceType.Spherical;

    /// <summary>The variance of entry <paramref name="j"/> of component <paramref name="k"/> (Diag, Spherical).</summary>
    internal double DiagonalVariance(int k, int j) => Covariances[Type == CovarianceType.Diag ? (k * Dimension) + j : k];

    /// <summary>The variance of entry <paramref name="j"/> of component <paramref name="k"/>, any covariance type.</summary>
    internal double Variance(int k, int j) => Type switch
    {
        CovarianceType.Full => Covariances[(k * Dimension * Dimension) + (j * Dimension) + j],
        CovarianceType.Tied => Covariances[(j * Dimension) + j],
        _ => DiagonalVariance(k, j),
    };

    /// <summary>
    /// log N(x_o; μ_k,o, Σ_k,oo) for a diagonal covariance, a sum over the observed entries, with its log normalizer
    /// −½(o ln 2π + ln|Σ_oo|): the complete normalizer plus ½(ln 2π + ln σ²_j) for each missing j.
    /// </summary>
    internal double LogDensityDiagonal(ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, int k, out double normalizer)
    {
        var d = Dimension;
        normalizer = LogNormalizers[k];
        foreach (var j in mis)
        {
            normalizer += 0.5 * (Log2Pi + Math.Log(DiagonalVariance(k, j)));
        }

        var maha = 0.0;
        foreach (var j in obs)
        {
            var y = (x[j] - Means[(k * d) + j]) * InverseCholesky[Type == CovarianceType.Diag ? (k * d) + j : k];
            maha += y * y;
        }

        return normalizer - (0.5 * maha);
    }

    /// <summary>Σ_k⁻¹ (d×d, row-major) from the current factors.</summary>
    internal ReadOnlySpan<double> Precision(int k)
    {
        if (!_precisionValid)
        {
            BuildPrecision();
        }

        var dd = Dimension * Dimension;
        return _precision.AsSpan(Type == CovarianceType.Tied ? 0 : k * dd, dd);
    }

    private void BuildPrecision()
    {
        lock (_precisionLock)
        {
            if (_precisionValid)
            {
                return;
            }

            var d = Dimension;
            var dd = d * d;
            var count = Type == CovarianceType.Tied ? 1 : Components;
            _precision ??= new double[count * dd];
            Array.Clear(_precision);
            for (var k = 0; k < count; k++)
            {
                var p = _precision.AsSpan(k * dd, dd);
                switch (Type)
                {
                    case CovarianceType.Full:
                    case CovarianceType.Tied:
                        MissingData.InverseFromInverseFactor(InverseCholesky.AsSpan(k * dd, dd), d, p);
                        break;

                    case CovarianceType.Diag:
                        for (var i = 0; i < d; i++)
                        {
                            var inv = InverseCholesky[(k * d) + i];
                            p[(i * d) + i] = inv * inv;
                        }

                        break;
                    default:
                        for (var i = 0; i < d; i++)
                        {
                            p[(i * d) + i] = InverseCholesky[k] * InverseCholesky[k];
                        }

                        break;
                }
            }

            _precisionValid = true;
        }
    }

    /// <summary>
    /// Whether one row with o observed and m missing entries is cheaper through the precision (<paramref name="densityOnly"/>:
    /// its log density, d²/2 + 2mo + m³/3 flops per component, against factoring Σ_oo, o³/3 + o²/2; otherwise its
    /// conditional mean and covariance, 2mo + 4m³/3 against o³/3 + m·o² + m²·o).
    /// </summary>
    internal static bool RowByPrecision(int o, int m, bool densityOnly)
    {
        double od = o, md = m, d = o + m;
        return densityOnly
            ? (d * d / 2.0) + (2.0 * md * od) + (md * md * md / 3.0) < (od * od * od / 3.0) + (od * od / 2.0)
            : (2.0 * md * od) + (4.0 * md * md * md / 3.0) < (od * od * od / 3.0) + (md * od * od) + (md * md * od);
    }

    /// <summary>
    /// log N(x_o; μ_k,o, Σ_k,oo) of a row with missing entries and its log normalizer −½(o ln 2π + ln|Σ_oo|), without
    /// factoring Σ_oo: a diagonal covariance leaves the missing entries out; Full and Tied go through the precision
    /// (<see cref="MissingData.ConditionalByPrecision"/>, ln|Σ_oo| = ln|Σ| + ln|P_mm|). <paramref name="y"/> needs d
    /// entries, <paramref name="pmm"/> m×m, <paramref name="delta"/> m. False when P_mm is numerically not positive definite
    /// (the caller factors Σ_oo instead).
    /// </summary>
    internal bool TryLogDensityMissing(
        ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, int k, Span<double> y, Span<double> pmm, Span<double> delta,
        out double logDensity, out double normalizer)
    {
        if (IsDiagonal)
        {
            logDensity = LogDensityDiagonal(x, obs, mis, k, out normalizer);
            return true;
        }

        var d = Dimension;
        var m = mis.Length;
        if (!MissingData.ConditionalByPrecision(x, obs, mis, Means.AsSpan(k * d, d), Precision(k), d, y, pmm, delta))
        {
            (logDensity, normalizer) = (0, 0);
            return false;
        }

        var logDetPmm = Linear.Cholesky.LogDeterminant(pmm, m);
        normalizer = LogNormalizers[k] + (0.5 * ((m * Log2Pi) - logDetPmm));
        // ln|Σ| from the normalizer: LogNormalizers[k] = −½(d ln 2π + ln|Σ|).
        var logDet = (-2.0 * LogNormalizers[k]) - (d * Log2Pi);
        logDensity = MissingData.LogDensityByPrecision(mis, Cholesky.AsSpan(Type == CovarianceType.Tied ? 0 : k * d * d, d * d), logDet, d, pmm, delta, y);
        return true;
    }

    /// <summary>
    /// The row completed by component k's conditional mean into <paramref name="xhat"/> and, when <paramref name="c"/> is
    /// not empty, the conditional covariance of the missing entries (m×m; <paramref name="work"/> m×m), without factoring
    /// Σ_oo: for a diagonal covariance μ_m and diag(σ²_m); for Full and Tied through the precision. Buffers as in
    /// <see cref="TryLogDensityMissing"/>. False when P_mm is numerically not positive definite.
    /// </summary>
    internal bool TryConditionalMissing(
        ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, int k, Span<double> y, Span<double> pmm, Span<double> delta,
        Span<double> xhat, Span<double> c, Span<double> work)
    {
        var d = Dimension;
        var m = mis.Length;
        var mu = Means.AsSpan(k * d, d);
        if (IsDiagonal)
        {
            // The missing entries are independent of the observed ones.
            MissingData.Complete(x, obs, mis, mu, default, xhat);
            if (!c.IsEmpty)
            {
                c.Slice(0, m * m).Clear();
                for (var a = 0; a < m; a++)
                {
                    c[(a * m) + a] = DiagonalVariance(k, mis[a]);
                }
            }

            return true;
        }

        if (!MissingData.ConditionalByPrecision(x, obs, mis, mu, Precision(k), d, y, pmm, delta))
        {
            return false;
        }

        MissingData.Complete(x, obs, mis, mu, delta, xhat);
        if (!c.IsEmpty)
        {
            MissingData.ConditionalCovarianceByPrecision(pmm, m, c, work);
        }

        return true;
    }

    public GmmParameters Clone()
    {
        var copy = new GmmParameters(Components, Dimension, Type);
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>Scratch length <see cref="LogDensitiesRow"/> and <see cref="GmmSufficientStatistics.AccumulateRow"/> need.</summary>
    public static int RowScratchLength(int dimension) => (4 * dimension * dimension) + (4 * dimension) + 8;

    /// <summary>
    /// log N(x; μ_k, Σ_k) for every component (no weights) for one observation; NaN entries of <paramref name="x"/> are
    /// marginalized. Allocation-free; <paramref name="scratch"/> needs <see cref="RowScratchLength"/> entries.
    /// Throws when no entry of <paramref name="x"/> is observed.
    /// </summary>
    /// <remarks>
    /// When <paramref name="normalizers"/> is not empty (K entries) it receives each component's log normalizer over the
    /// observed entries, −½(|o|·ln 2π + ln|Σ_k,oo|): log N(x_o; μ_k,o, Σ_k,oo) = normalizer − ½·Mahalanobis², so
    /// −normalizer + |o|/2 is the expected loss −log N of a row drawn from component k with that pattern (its differential
    /// entropy). Free: the factors are the ones the densities use.
    /// </remarks>
    public void LogDensitiesRow(ReadOnlySpan<double> x, Span<double> logDensity, Span<double> scratch, Span<double> normalizers = default)
    {
        var d = Dimension;
        var observed = CountObserved(x);
        if (observed == 0)
        {
            throw new ArgumentException("the observation has no observed value", nameof(x));
        }

        if (observed == d)
        {
            LogDensitiesComplete(x, logDensity, scratch);
            if (!normalizers.IsEmpty)
            {
                LogNormalizers.AsSpan(0, Components).CopyTo(normalizers);
            }

            return;
        }

        Span<int> indices = d <= 256 ? stackalloc int[d] : new int[d];
        MissingData.SplitIndices(x, indices, out var obs, out var mis);
        var sigma = scratch.Slice(0, d * d);
        var lo = scratch.Slice(d * d, d * d);
        var work = scratch.Slice(4 * d * d, 4 * d);
        var byPrecision = IsDiagonal || RowByPrecision(obs.Length, mis.Length, densityOnly: true);
        for (var k = 0; k < Components; k++)
        {
            // Without a factor of Σ_oo: P_mm's factor in [3d², 4d²), y and δ after 4d² (the factored way uses [0, 2d²) and 4d²+).
            if (byPrecision && TryLogDensityMissing(
                x, obs, mis, k, scratch.Slice(4 * d * d, d), scratch.Slice(3 * d * d, mis.Length * mis.Length), scratch.Slice((4 * d * d) + d, d),
                out var logDensityK, out var normalizer))
            {
                logDensity[k] = logDensityK;
                if (!normalizers.IsEmpty)
                {
                    normalizers[k] = normalizer;
                }

                continue;
            }

            ExpandCovariance(k, sigma);
            if (!MissingData.TryFactorPattern(sigma, d, obs, mis, lo, default, default, work, out var logConst))
            {
                throw new InvalidOperationException($"the covariance of component {k} is not positive definite");
            }

            logDensity[k] = MissingData.LogDensity(x, obs, Means.AsSpan(k * d, d), lo, logConst, work);
            if (!normalizers.IsEmpty)
            {
                normalizers[k] = logConst;
            }
        }
    }

    private void LogDensitiesComplete(ReadOnlySpan<double> x, Span<double> logDensity, Span<double> scratch)
    {
        var d = Dimension;
        _ = scratch;
        for (var k = 0; k < Components; k++)
        {
            var mu = Means.AsSpan(k * d, d);
            double maha = 0;
            switch (Type)
            {
                case CovarianceType.Full:
                case CovarianceType.Tied:
                    {
                        var m = InverseCholesky.AsSpan(Type == CovarianceType.Full ? k * d * d : 0, d * d);
                        for (var j = 0; j < d; j++)
                        {
                            double y = 0;
                            for (var i = 0; i <= j; i++)
                            {
                                y += m[(j * d) + i] * (x[i] - mu[i]);
                            }

                            maha += y * y;
                        }

                        break;
                    }

                case CovarianceType.Diag:
                    for (var i = 0; i < d; i++)
                    {
                        var y = (x[i] - mu[i]) * InverseCholesky[(k * d) + i];
                        maha += y * y;
                    }

                    break;
                default:
                    for (var i = 0; i < d; i++)
                    {
                        var y = (x[i] - mu[i]) * InverseCholesky[k];
                        maha += y * y;
                    }

                    break;
            }

            logDensity[k] = LogNormalizers[k] - (0.5 * maha);
        }
    }

    internal static int CountObserved(ReadOnlySpan<double> x)
    {
        var observed = 0;
        foreach (var v in x)
        {
            if (!double.IsNaN(v))
            {
                observed++;
            }
        }

        return observed;
    }

    /// <summary>Factors the dense covariance at <paramref name="offset"/>; writes the diagonal of L into <paramref name="diagonal"/>.</summary>
    private bool RefreshDense(int offset, Span<double> diagonal)
    {
        var d = Dimension;
        var dd = d * d;
        var l = Cholesky.AsSpan(offset, dd);
        Covariances.AsSpan(offset, dd).CopyTo(l);
        if (!Linear.Cholesky.TryFactor(l, d))
        {
            return false;
        }

        Linear.Cholesky.InvertLower(l, d, InverseCholesky.AsSpan(offset, dd));
        for (var i = 0; i < d; i++)
        {
            diagonal[i] = l[(i * d) + i];
        }

        return true;
    }
}
