namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// A scale-free anomaly measure for Gaussian mixtures (and an HMM's emissions, weighted by its predicted regimes): the tail
/// probability of a row x with observed coordinates o, an upper bound on P(p(X) ≤ p(x)), the chance that a draw X of the
/// model is at most as likely as x (on the same coordinates):
/// <code>tail(x) = Σ_k w_k · P(χ²_|o| ≥ max(0, D²_k(x) + 2 ln r_k(x))),</code>
/// with D²_k(x) = (x_o − μ_k,o)ᵀ Σ_k,oo⁻¹ (x_o − μ_k,o) and r_k(x) the posterior of component k. Term k is the mass of
/// component k outside the ellipsoid where its own weighted density w_k N_k falls to p(x); since p ≥ w_k N_k, that
/// contains the component's share of {p(X) ≤ p(x)}, so the sum is an upper bound, exact when the components do not
/// overlap (and for one component). Hence at most α of the rows the model explains score below α, whatever the data's
/// unit and however many values are missing: a threshold of 1e-4 flags at most about one such row in 10,000. The
/// negative log-density, the other anomaly score, depends on the unit and on how many values a row has.
/// </summary>
/// <remarks>
/// Factors Σ_k,oo once per missingness pattern and keeps up to <see cref="MaxPatterns"/> patterns (then starts over),
/// so a stream of complete rows costs K triangular solves and one incomplete-gamma evaluation per row. Not thread-safe:
/// one instance per caller.
/// </remarks>
internal sealed class MixtureTail
{
    /// <summary>Missingness patterns whose factors are kept.</summary>
    public const int MaxPatterns = 256;

    private readonly int _k;
    private readonly int _d;
    private readonly double[] _means;
    private readonly double[] _covariances;
    private readonly Dictionary<string, Pattern> _patterns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Pattern>.AlternateLookup<ReadOnlySpan<char>> _patternsBySpan;
    private readonly HashSet<string> _seenOnce = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _seenOnceBySpan;
    private readonly double[] _logGammaHalf;
    private readonly double[] _work;
    private readonly double[] _logJoint;
    private readonly double[] _logWeights;
    private readonly double[] _rowLogConstants;
    private double[]? _fullFactors;   // K × d×d: chol(Σ_k), for rows through the precision (made for the first such row)
    private double[]? _precisions;    // K × d×d: Σ_k⁻¹
    private double[]? _logDets;       // K: ln|Σ_k|
    private double[] _y = [];         // the precision path's row buffers, made with its factors
    private double[] _delta = [];
    private double[] _pmm = [];
    private int[] _indices = [];
    private readonly char[] _key;
    private Pattern? _complete;

    /// <summary>Components from K×d means and K full d×d covariances (row-major), both copied.</summary>
    /// <exception cref="ArgumentException">A length does not match, or a covariance is not positive definite.</exception>
    public MixtureTail(ReadOnlySpan<double> means, ReadOnlySpan<double> covariances, int components, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (means.Length != components * dimension || covariances.Length != components * dimension * dimension)
        {
            throw new ArgumentException($"expected {components}×{dimension} means and {components} covariances of {dimension}×{dimension}");
        }

        (_k, _d) = (components, dimension);
        _means = means.ToArray();
        _covariances = covariances.ToArray();
        _logGammaHalf = new double[dimension + 1];
        for (var v = 1; v <= dimension; v++)
        {
            _logGammaHalf[v] = ChiSquare.LogGammaHalf(v);
        }

        _work = new double[dimension];
        _logJoint = new double[components];
        _logWeights = new double[components];
        _rowLogConstants = new double[components];
        _key = new char[dimension];
        _patternsBySpan = _patterns.GetAlternateLookup<ReadOnlySpan<char>>(); // a pattern seen before costs no string
        _seenOnceBySpan = _seenOnce.GetAlternateLookup<ReadOnlySpan<char>>();
        _complete = Factor(Enumerable.Range(0, dimension).ToArray())
            ?? throw new ArgumentException("a covariance is not positive definite", nameof(covariances));
    }

    /// <summary>The tail of a mixture's components.</summary>
    public static MixtureTail Of(GaussianMixture mixture) => Of(mixture.Means, mixture.Components, mixture.Dimension, mixture.FullCovariance);

    /// <summary>The tail of an HMM's emissions (the weights, its predicted regimes, are given per row).</summary>
    public static MixtureTail Of(Hmm.GaussianHmm hmm) => Of(hmm.Means, hmm.States, hmm.Dimension, hmm.FullCovariance);

    private static MixtureTail Of(ReadOnlySpan<double> means, int k, int d, Func<int, double[]> fullCovariance)
    {
        var covariances = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            fullCovariance(c).CopyTo(covariances.AsSpan(c * d * d));
        }

        return new MixtureTail(means, covariances, k, d);
    }

    /// <summary>Number of components.</summary>
    public int Components => _k;

    /// <summary>
    /// tail(x) under component weights <paramref name="weights"/> (K entries, summing to 1: the mixture's weights, or an
    /// HMM's predicted regime probabilities). NaN entries of <paramref name="x"/> are missing; a row with none observed has
    /// nothing to judge and gets 1. In [0, 1]; 0 when the row is so far out that every density underflows.
    /// </summary>
    public double Probability(ReadOnlySpan<double> x, ReadOnlySpan<double> weights) => Probability(x, weights, double.PositiveInfinity);

    /// <summary>
    /// As <see cref="Probability(ReadOnlySpan{double}, ReadOnlySpan{double})"/>, but once the sum reaches
    /// <paramref name="stopAt"/> it returns what it has (a value ≥ <paramref name="stopAt"/>, not the tail): enough to tell
    /// whether a row is below an anomaly threshold, usually after one incomplete-gamma evaluation instead of K.
    /// </summary>
    public double Probability(ReadOnlySpan<double> x, ReadOnlySpan<double> weights, double stopAt)
    {
        if (x.Length != _d || weights.Length != _k)
        {
            throw new ArgumentException($"expected a row of {_d} values and {_k} weights");
        }

        var pattern = PatternOf(x, out var observed);
        if (observed == 0)
        {
            return 1.0;
        }

        var o = observed;
        var best = double.NegativeInfinity;
        if (pattern is null)
        {
            // A pattern not seen before, missing few of many values: through the precision, nothing factored or kept.
            PreparePrecision();
            MissingData.SplitIndices(x, _indices, out var obs, out var mis);
            for (var c = 0; c < _k; c++)
            {
                _logWeights[c] = Math.Log(weights[c]);
                _logJoint[c] = weights[c] > 0 && DirectLogDensity(x, obs, mis, c, out _rowLogConstants[c]) is var rowLogDensity
                    ? _logWeights[c] + rowLogDensity
                    : double.NegativeInfinity;
                best = Math.Max(best, _logJoint[c]);
            }
        }
        else
        {
            for (var c = 0; c < _k; c++)
            {
                var lo = pattern.Factors[c];
                _logWeights[c] = Math.Log(weights[c]);
                _rowLogConstants[c] = pattern.LogConstants[c];
                _logJoint[c] = lo is null || !(weights[c] > 0)
                    ? double.NegativeInfinity
                    : _logWeights[c] + MissingData.LogDensity(x, pattern.Observed, _means.AsSpan(c * _d, _d), lo, pattern.LogConstants[c], _work);
                best = Math.Max(best, _logJoint[c]);
            }
        }

        if (double.IsNegativeInfinity(best) || double.IsNaN(best))
        {
            return 0.0;
        }

        var sum = 0.0;
        for (var c = 0; c < _k; c++)
        {
            sum += Math.Exp(_logJoint[c] - best);
        }

        var logDensity = best + Math.Log(sum);
        // The most probable component first: its term is usually the largest, so a threshold is passed soonest.
        var first = _logJoint.AsSpan(0, _k).IndexOf(best);
        var tail = Term(first, o, logDensity, weights);
        for (var c = 0; c < _k && tail < stopAt; c++)
        {
            if (c != first && !double.IsNegativeInfinity(_logJoint[c]))
            {
                tail += Term(c, o, logDensity, weights);
            }
        }

        return Math.Clamp(tail, 0.0, 1.0);
    }

    /// <summary>
    /// w_k·P(χ²_o ≥ D*²_k), D*²_k = max(0, D²_k + 2 ln r_k) = max(0, 2 (ln w_k + ln c_k − ln p(x))), c_k the component's
    /// normalizing constant on these coordinates: the distance at which component k's own weighted density falls to p(x).
    /// </summary>
    private double Term(int c, int o, double logDensity, ReadOnlySpan<double> weights)
    {
        var radius = Math.Max(0.0, 2.0 * (_logWeights[c] + _rowLogConstants[c] - logDensity));
        return weights[c] * (radius == 0 ? 1.0 : ChiSquare.UpperRegularizedGammaHalf(o, 0.5 * radius, _logGammaHalf[o]));
    }

    /// <summary>The precision path's factors and buffers, made for its first row.</summary>
    private void PreparePrecision()
    {
        if (_logDets is not null)
        {
            return;
        }

        var dd = _d * _d;
        var (factors, precisions, logDets, square) = (new double[_k * dd], new double[_k * dd], new double[_k], new double[dd]);
        for (var k = 0; k < _k; k++)
        {
            // Positive definite: the complete pattern was factored in the constructor.
            MissingData.TryPrepareByPrecision(_covariances.AsSpan(k * dd, dd), _d, factors.AsSpan(k * dd, dd), precisions.AsSpan(k * dd, dd), square, out logDets[k]);
        }

        (_fullFactors, _precisions, _logDets) = (factors, precisions, logDets);
        (_y, _delta, _pmm, _indices) = (new double[_d], new double[_d], new double[dd], new int[_d]);
    }

    /// <summary>
    /// log N(x_o; μ_c,o, Σ_c,oo) through the precision (<see cref="MissingData.ConditionalByPrecision"/>), with the log
    /// normalizer over the observed coordinates; −∞ when P_mm is numerically not positive definite (a covariance that nearly
    /// determines the missing values from the observed ones: the component is left out of this row's sum, as a pattern
    /// whose Σ_oo cannot be factored is).
    /// </summary>
    private double DirectLogDensity(ReadOnlySpan<double> x, ReadOnlySpan<int> obs, ReadOnlySpan<int> mis, int c, out double logConstant)
    {
        var dd = _d * _d;
        if (!MissingData.ConditionalByPrecision(x, obs, mis, _means.AsSpan(c * _d, _d), _precisions.AsSpan(c * dd, dd), _d, _y, _pmm, _delta))
        {
            logConstant = 0;
            return double.NegativeInfinity;
        }

        var logDet = _logDets![c];
        var logDensity = MissingData.LogDensityByPrecision(mis, _fullFactors.AsSpan(c * dd, dd), logDet, _d, _pmm, _delta, _y);
        // −½(o ln 2π + ln|Σ_oo|), with ln|Σ_oo| = ln|Σ| + ln|P_mm| (_pmm still holds P_mm's factor).
        logConstant = -0.5 * ((obs.Length * Math.Log(2.0 * Math.PI)) + logDet + Linear.Cholesky.LogDeterminant(_pmm, mis.Length));
        return logDensity;
    }

    /// <summary>
    /// The cached factors of the row's pattern (factored now if new and worth keeping), or null: none observed
    /// (<paramref name="observed"/> 0), or a pattern seen for the first time that misses few of many values, cheaper
    /// through the precision than factored for one row (<see cref="GmmParameters.RowByPrecision"/>).
    /// </summary>
    private Pattern? PatternOf(ReadOnlySpan<double> x, out int observed)
    {
        observed = 0;
        for (var j = 0; j < _d; j++)
        {
            var missing = double.IsNaN(x[j]);
            _key[j] = missing ? '0' : '1';
            observed += missing ? 0 : 1;
        }

        if (observed == _d)
        {
            return _complete;
        }

        if (observed == 0)
        {
            return null;
        }

        if (_patternsBySpan.TryGetValue(_key, out var pattern))
        {
            return pattern;
        }

        // A pattern seen for the first time, missing few of many values, goes through the precision (cheaper for one row);
        // one that comes back is factored and kept (cheaper from then on: o²/2 per row).
        if (GmmParameters.RowByPrecision(observed, _d - observed, densityOnly: true) && !_seenOnceBySpan.Contains(_key))
        {
            if (_seenOnce.Count >= 4 * MaxPatterns)
            {
                _seenOnce.Clear();
            }

            _seenOnceBySpan.Add(_key);
            return null;
        }

        if (_patterns.Count >= MaxPatterns)
        {
            _patterns.Clear();
        }

        var obs = new int[observed];
        for (int j = 0, i = 0; j < _d; j++)
        {
            if (!double.IsNaN(x[j]))
            {
                obs[i++] = j;
            }
        }

        pattern = Factor(obs);
        if (pattern is not null)
        {
            _patterns[new string(_key)] = pattern;
        }

        return pattern;
    }

    /// <summary>Cholesky factors of every Σ_k,oo; null when the complete pattern's are not positive definite.</summary>
    private Pattern? Factor(int[] obs)
    {
        var o = obs.Length;
        var factors = new double[]?[_k];
        var logConstants = new double[_k];
        var work = new double[_d];
        var any = false;
        for (var c = 0; c < _k; c++)
        {
            var lo = new double[o * o];
            if (MissingData.TryFactorPattern(_covariances.AsSpan(c * _d * _d, _d * _d), _d, obs, [], lo, [], [], work, out var logConst))
            {
                (factors[c], logConstants[c], any) = (lo, logConst, true);
            }
            else if (o == _d)
            {
                return null;
            }
        }

        return any ? new Pattern(obs, factors, logConstants) : null;
    }

    private sealed record Pattern(int[] Observed, double[]?[] Factors, double[] LogConstants);
}
