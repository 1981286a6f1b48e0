using System.Numerics.Tensors;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Expected complete-data sufficient statistics of a Gaussian mixture: s0_k = Σ r_k, s1_k = Σ r_k·x, and s2 = Σ r_k·x·xᵀ
/// in the layout of the covariance type, each component's taken about its own centre c_k (<see cref="ComponentOrigins"/>;
/// x − c_k) so that the M-step does not lose digits when the data sit far from zero or the components far from each other.
/// </summary>
/// <remarks>
/// <para>Layouts: S0 K; S1 K×D; S2 Full K×D×D, Diag K×D (diagonals), Spherical K (Σ r_k‖x‖²), Tied D×D pooled over
/// components. For Full and Tied only the upper triangle (column ≥ row) is accumulated; the lower part stays zero.</para>
/// <para>Use from outside batch EM: responsibilities can come from anywhere (an HMM passes smoothed state posteriors).
/// Accumulate rows with <see cref="AccumulateRow"/> or a whole data set with <see cref="GmmWorkspace.Accumulate"/>;
/// combine with <see cref="Add"/>, <see cref="Scale"/>, or <see cref="StepToward"/> (Cappé–Moulines S ← S + γ(s̄ − S));
/// then <see cref="MaximizeInto(GmmParameters, double, ReadOnlySpan{double}, Span{bool})"/> maps the statistics to parameters. Missing entries enter through the conditional mean
/// x̂ = E[x_m | x_o, k] and add the conditional covariance to the missing block of s2, so the model whose posterior
/// produced the responsibilities must be passed for rows with NaN. Statistics combine only with statistics of the same
/// shape and origins.</para>
/// <para>Why a centre per component: with one origin for all, s2_k ≈ s0_k·(Δ² + σ²) for a component Δ away from it, and
/// Σ = s2/s0 − μμᵀ keeps only ε·Δ²/σ² of the variance (a variance of 1 came out 0.97 at Δ = 1e7 σ and 0 at 1e8 before).
/// About a centre near its mean the subtraction loses nothing. <see cref="Origin"/> stays one point for all components:
/// it is what a tile of rows is shifted by (<see cref="GmmTileKernel"/>); <see cref="ResetOrigins"/> picks the centres of
/// fresh statistics (batch EM: the means the E-step runs under), <see cref="Recentre"/> moves one component's centre
/// exactly (the online estimators, when a mean has moved away from it).</para>
/// </remarks>
internal sealed class GmmSufficientStatistics
{
    /// <summary>A component whose share Σ r_k / Σ r falls below this is degenerate (re-seeded instead of turned into NaN).</summary>
    public const double DegenerateFraction = 1e-10;

    private readonly double[] _s0;
    private readonly double[] _s1;
    private readonly double[] _s2;
    private readonly double[] _origin;
    private readonly double[] _centres;

    /// <param name="components">K ≥ 1.</param>
    /// <param name="dimension">D ≥ 1.</param>
    /// <param name="type">Covariance type (fixes the layout of S2).</param>
    /// <param name="origin">Centre of the statistics (D entries, default zero), every component's until <see cref="ResetOrigins"/>; pick it close to the data, e.g. a first batch's mean.</param>
    public GmmSufficientStatistics(int components, int dimension, CovarianceType type, ReadOnlySpan<double> origin = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (!origin.IsEmpty && origin.Length != dimension)
        {
            throw new ArgumentException($"origin has {origin.Length} entries, expected {dimension}", nameof(origin));
        }

        Components = components;
        Dimension = dimension;
        Type = type;
        _s0 = new double[components];
        _s1 = new double[components * dimension];
        _s2 = new double[S2Length(type, components, dimension)];
        _origin = origin.IsEmpty ? new double[dimension] : origin.ToArray();
        _centres = new double[components * dimension];
        for (var k = 0; k < components; k++)
        {
            _origin.CopyTo(_centres, k * dimension);
        }
    }

    public int Components { get; }

    public int Dimension { get; }

    public CovarianceType Type { get; }

    /// <summary>The point rows are shifted by before a tile kernel reads them (D); components' statistics are about <see cref="ComponentOrigins"/>.</summary>
    public ReadOnlySpan<double> Origin => _origin;

    /// <summary>c_k, the centre component k's statistics are taken about (K×D).</summary>
    public ReadOnlySpan<double> ComponentOrigins => _centres;

    /// <summary>s0 (K).</summary>
    public Span<double> S0 => _s0;

    /// <summary>s1 about each component's centre (K×D).</summary>
    public Span<double> S1 => _s1;

    /// <summary>s2 about each component's centre (layout per type, see the class remarks; Tied: the sum of the components' own).</summary>
    public Span<double> S2 => _s2;

    /// <summary>Σ_k s0_k: the total weight accumulated.</summary>
    public double TotalWeight => TensorPrimitives.Sum<double>(_s0);

    /// <summary>Length of S2: the layout of the covariances themselves (<see cref="GmmParameters.CovarianceLength"/>).</summary>
    public static int S2Length(CovarianceType type, int components, int dimension) => GmmParameters.CovarianceLength(type, components, dimension);

    /// <summary>Same shape and origins, zero statistics.</summary>
    public GmmSufficientStatistics CreateEmpty()
    {
        var empty = new GmmSufficientStatistics(Components, Dimension, Type, _origin);
        _centres.CopyTo(empty._centres, 0);
        return empty;
    }

    /// <summary>Clears the statistics and makes <paramref name="centres"/> (K×D, finite) the components' centres.</summary>
    public void ResetOrigins(ReadOnlySpan<double> centres)
    {
        if (centres.Length != _centres.Length)
        {
            throw new ArgumentException($"centres have {centres.Length} entries, expected {_centres.Length}", nameof(centres));
        }

        if (!TensorPrimitives.IsFiniteAll(centres))
        {
            throw new ArgumentException("centres must be finite", nameof(centres));
        }

        centres.CopyTo(_centres);
        Clear();
    }

    /// <summary>Takes <paramref name="other"/>'s centres (same shape and <see cref="Origin"/>) and clears the statistics.</summary>
    public void CopyOriginsFrom(GmmSufficientStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Components != Components || other.Dimension != Dimension || other.Type != Type || !other._origin.AsSpan().SequenceEqual(_origin))
        {
            throw new ArgumentException("statistics differ in shape, covariance type or origin", nameof(other));
        }

        ResetOrigins(other._centres);
    }

    /// <summary>
    /// Re-expresses component k's statistics about <paramref name="centre"/> (D, finite): exact algebra (s1 − s0·δ, s2 − δs1ᵀ
    /// − s1δᵀ + s0·δδᵀ with δ = centre − c_k), which loses nothing when the new centre is near the component's mean (s1 ≈ s0·δ).
    /// </summary>
    public void Recentre(int k, ReadOnlySpan<double> centre)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(k, Components);
        var d = Dimension;
        if (centre.Length != d || !TensorPrimitives.IsFiniteAll(centre))
        {
            throw new ArgumentException($"the centre must hold {d} finite values", nameof(centre));
        }

        var c = _centres.AsSpan(k * d, d);
        Span<double> delta = d <= 256 ? stackalloc double[d] : new double[d];
        TensorPrimitives.Subtract(centre, c, delta);
        var block = Type switch
        {
            CovarianceType.Full => _s2.AsSpan(k * d * d, d * d),
            CovarianceType.Tied => _s2.AsSpan(0, d * d),
            CovarianceType.Diag => _s2.AsSpan(k * d, d),
            _ => _s2.AsSpan(k, 1),
        };
        Shift(Type, _s0[k], _s1.AsSpan(k * d, d), block, delta);
        centre.CopyTo(c);
    }

    /// <summary>
    /// Whether component k's mean in <paramref name="p"/> has left its centre by more than one standard deviation in some
    /// column: then <see cref="Recentre"/> it there, before the subtraction in the M-step starts to cost digits (the online
    /// estimators' rule).
    /// </summary>
    public bool HasLeftCentre(int k, GmmParameters p)
    {
        var d = Dimension;
        var mean = p.Means.AsSpan(k * d, d);
        var centre = _centres.AsSpan(k * d, d);
        for (var i = 0; i < d; i++)
        {
            var gap = mean[i] - centre[i];
            if (gap * gap > p.Variance(k, i))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Moves one component's statistics (s0, s1 and its s2 block in the layout of <paramref name="type"/>) to a centre
    /// <paramref name="delta"/> further: s2 ← s2 − δs1ᵀ − s1δᵀ + s0·δδᵀ (upper triangle), s1 ← s1 − s0·δ.
    /// </summary>
    internal static void Shift(CovarianceType type, double s0, Span<double> s1, Span<double> s2, ReadOnlySpan<double> delta)
    {
        var d = s1.Length;
        switch (type)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
                for (var i = 0; i < d; i++)
                {
                    for (var j = i; j < d; j++)
                    {
                        s2[(i * d) + j] += (s0 * delta[i] * delta[j]) - (delta[i] * s1[j]) - (s1[i] * delta[j]);
                    }
                }

                break;
            case CovarianceType.Diag:
                for (var i = 0; i < d; i++)
                {
                    s2[i] += (s0 * delta[i] * delta[i]) - (2 * delta[i] * s1[i]);
                }

                break;
            default:
                s2[0] += (s0 * TensorPrimitives.Dot(delta, delta)) - (2 * TensorPrimitives.Dot(delta, (ReadOnlySpan<double>)s1));
                break;
        }

        TensorPrimitives.MultiplyAdd(delta, -s0, s1, s1);
    }

    public void Clear()
    {
        Array.Clear(_s0);
        Array.Clear(_s1);
        Array.Clear(_s2);
    }

    /// <summary>S ← factor·S.</summary>
    public void Scale(double factor)
    {
        TensorPrimitives.Multiply(_s0, factor, _s0);
        TensorPrimitives.Multiply(_s1, factor, _s1);
        TensorPrimitives.Multiply(_s2, factor, _s2);
    }

    /// <summary>S ← S + factor·other.</summary>
    public void Add(GmmSufficientStatistics other, double factor = 1.0)
    {
        CheckCompatible(other);
        TensorPrimitives.MultiplyAdd(other._s0, factor, _s0, _s0);
        TensorPrimitives.MultiplyAdd(other._s1, factor, _s1, _s1);
        TensorPrimitives.MultiplyAdd(other._s2, factor, _s2, _s2);
    }

    /// <summary>S ← S + γ·(target − S): the stochastic-approximation step of online EM (Cappé–Moulines 2009).</summary>
    public void StepToward(GmmSufficientStatistics target, double gamma)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gamma);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(gamma, 1.0);
        Scale(1.0 - gamma);
        Add(target, gamma);
    }

    /// <summary>S ← factor·other (one pass; the same values as <see cref="CopyFrom"/> then <see cref="Scale"/>).</summary>
    public void ScaledCopyOf(GmmSufficientStatistics other, double factor)
    {
        CheckCompatible(other);
        TensorPrimitives.Multiply(other._s0, factor, _s0);
        TensorPrimitives.Multiply(other._s1, factor, _s1);
        TensorPrimitives.Multiply(other._s2, factor, _s2);
    }

    public void CopyFrom(GmmSufficientStatistics other)
    {
        CheckCompatible(other);
        other._s0.CopyTo(_s0, 0);
        other._s1.CopyTo(_s1, 0);
        other._s2.CopyTo(_s2, 0);
    }

    /// <summary>
    /// Adds one observation with responsibilities <paramref name="responsibilities"/> (K, any non-negative values; they are
    /// multiplied by <paramref name="weight"/>). NaN entries use the conditional mean and covariance under
    /// <paramref name="model"/> (required then). <paramref name="scratch"/> needs <see cref="GmmParameters.RowScratchLength"/>
    /// entries. Allocation-free for D ≤ 256.
    /// </summary>
    public void AccumulateRow(ReadOnlySpan<double> x, ReadOnlySpan<double> responsibilities, GmmParameters? model, Span<double> scratch, double weight = 1.0)
    {
        var d = Dimension;
        if (x.Length != d || responsibilities.Length != Components)
        {
            throw new ArgumentException("row or responsibilities have the wrong length");
        }

        var observed = GmmParameters.CountObserved(x);
        if (observed == d)
        {
            for (var k = 0; k < Components; k++)
            {
                AddPoint(k, weight * responsibilities[k], x, default, default);
            }

            return;
        }

        if (observed == 0)
        {
            throw new ArgumentException("the observation has no observed value", nameof(x));
        }

        if (model is null)
        {
            throw new ArgumentNullException(nameof(model), "a model is needed to take the conditional expectation of missing entries");
        }

        CheckModel(model);
        Span<int> indices = d <= 256 ? stackalloc int[d] : new int[d];
        MissingData.SplitIndices(x, indices, out var obs, out var mis);
        var o = obs.Length;
        var m = mis.Length;
        var sigma = scratch.Slice(0, d * d);
        var lo = scratch.Slice(d * d, o * o);
        var b = scratch.Slice(2 * d * d, m * o);
        var c = scratch.Slice(3 * d * d, m * m);
        var work = scratch.Slice(4 * d * d, 2 * d);
        var xhat = scratch.Slice((4 * d * d) + (2 * d), d);
        var byPrecision = model.IsDiagonal || GmmParameters.RowByPrecision(o, m, densityOnly: false);
        for (var k = 0; k < Components; k++)
        {
            var r = weight * responsibilities[k];
            if (r == 0)
            {
                continue;
            }

            // Without a factor of Σ_oo (diagonal, or through the precision): y and δ where the factored way keeps L_oo, P_mm's
            // factor where it keeps B, the inverse's work where it expands Σ.
            if (byPrecision && model.TryConditionalMissing(
                x, obs, mis, k, scratch.Slice(d * d, d), scratch.Slice(2 * d * d, m * m), scratch.Slice((d * d) + d, m), xhat, c, sigma))
            {
                AddPoint(k, r, xhat, mis, c);
                continue;
            }

            model.ExpandCovariance(k, sigma);
            if (!MissingData.TryFactorPattern(sigma, d, obs, mis, lo, b, c, work, out _))
            {
                throw new InvalidOperationException($"the covariance of component {k} is not positive definite");
            }

            MissingData.ConditionalMean(x, obs, mis, model.Means.AsSpan(k * d, d), b, work, xhat);
            AddPoint(k, r, xhat, mis, c);
        }
    }

    /// <summary>
    /// Adds r·(x̂ − c_k) to component k, plus r·C on the missing block of s2 when <paramref name="missing"/> is not empty.
    /// </summary>
    internal void AddPoint(int k, double r, ReadOnlySpan<double> xhat, ReadOnlySpan<int> missing, ReadOnlySpan<double> conditionalCovariance)
    {
        if (r == 0)
        {
            return;
        }

        var d = Dimension;
        Span<double> y = d <= 256 ? stackalloc double[d] : new double[d];
        TensorPrimitives.Subtract(xhat, _centres.AsSpan(k * d, d), y);

        _s0[k] += r;
        var s1 = _s1.AsSpan(k * d, d);
        TensorPrimitives.MultiplyAdd(y, r, s1, s1);
        var m = missing.Length;
        switch (Type)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
                {
                    var s2 = Type == CovarianceType.Full ? _s2.AsSpan(k * d * d, d * d) : _s2.AsSpan();
                    for (var i = 0; i < d; i++)
                    {
                        var ri = r * y[i];
                        var row = s2.Slice((i * d) + i, d - i);
                        TensorPrimitives.MultiplyAdd(y.Slice(i), ri, row, row);
                    }

                    for (var a = 0; a < m; a++)
                    {
                        for (var e = a; e < m; e++)
                        {
                            s2[(missing[a] * d) + missing[e]] += r * conditionalCovariance[(a * m) + e];
                        }
                    }

                    break;
                }

            case CovarianceType.Diag:
                {
                    var s2 = _s2.AsSpan(k * d, d);
                    for (var i = 0; i < d; i++)
                    {
                        s2[i] += r * y[i] * y[i];
                    }

                    for (var a = 0; a < m; a++)
                    {
                        s2[missing[a]] += r * conditionalCovariance[(a * m) + a];
                    }

                    break;
                }

            default:
                {
                    var s = TensorPrimitives.Dot<double>(y, y);
                    for (var a = 0; a < m; a++)
                    {
                        s += conditionalCovariance[(a * m) + a];
                    }

                    _s2[k] += r * s;
                    break;
                }
        }
    }

    /// <summary>
    /// M-step: writes weights, means and covariances (+ <paramref name="regCovar"/> on the diagonal) into
    /// <paramref name="target"/> and refreshes its factors. A component whose share of the total weight is below
    /// <see cref="DegenerateFraction"/>, or whose covariance stays singular even after jitter, is flagged in
    /// <paramref name="degenerate"/> (K entries, may be empty) and given the pooled mean and covariance of all statistics
    /// with its (tiny) weight, so the result never holds NaN; the caller may re-seed flagged components.
    /// Returns the number of degenerate components. Throws <see cref="InvalidOperationException"/> when the statistics are
    /// empty (total weight zero or not finite).
    /// </summary>
    public int MaximizeInto(GmmParameters target, double regCovar, Span<bool> degenerate) => MaximizeInto(target, regCovar, default, degenerate);

    /// <summary>
    /// M-step as <see cref="MaximizeInto(GmmParameters, double, Span{bool})"/>, with a per-dimension covariance floor added
    /// to the diagonal on top of <paramref name="regCovar"/>: <paramref name="diagonalFloor"/> (empty, or d non-negative
    /// entries) is typically a small fraction of each column's within-cluster scale (<see cref="CovarianceFloor"/>), so the floor follows
    /// the data's scale: every eigenvalue of a full covariance is then at least min_i floor_i, whatever the data (exact
    /// duplicates, a constant stretch).
    /// </summary>
    public int MaximizeInto(GmmParameters target, double regCovar, ReadOnlySpan<double> diagonalFloor, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(target);
        CheckModel(target);
        ArgumentOutOfRangeException.ThrowIfNegative(regCovar);
        var kCount = Components;
        var d = Dimension;
        if (!diagonalFloor.IsEmpty && diagonalFloor.Length != d)
        {
            throw new ArgumentException($"the covariance floor has {diagonalFloor.Length} entries; the dimension is {d}", nameof(diagonalFloor));
        }

        Span<double> reg = d <= 256 ? stackalloc double[d] : new double[d];
        for (var i = 0; i < d; i++)
        {
            reg[i] = regCovar + (diagonalFloor.IsEmpty ? 0.0 : diagonalFloor[i]);
        }

        var total = TotalWeight;
        if (!(total > 0) || !double.IsFinite(total))
        {
            throw new InvalidOperationException("the sufficient statistics are empty: no weight was accumulated");
        }

        Span<bool> flags = kCount <= 1024 ? stackalloc bool[kCount] : new bool[kCount];
        if (!degenerate.IsEmpty)
        {
            flags = degenerate.Slice(0, kCount);
        }

        flags.Clear();

        // Weights as scikit-learn: a 10·ε floor keeps ln w finite for an empty component.
        const double floor = 10 * 2.220446049250313e-16;
        var norm = total + (kCount * floor * total);
        for (var k = 0; k < kCount; k++)
        {
            target.Weights[k] = (_s0[k] + (floor * total)) / norm;
        }

        var count = 0;
        for (var k = 0; k < kCount; k++)
        {
            var isDegenerate = !(_s0[k] > DegenerateFraction * total);
            if (isDegenerate)
            {
                count++;
                flags[k] = true;
                WritePooledMean(target.Means.AsSpan(k * d, d), total);
            }
            else
            {
                var mu = target.Means.AsSpan(k * d, d);
                var inv = 1.0 / _s0[k];
                for (var i = 0; i < d; i++)
                {
                    mu[i] = (_s1[(k * d) + i] * inv) + _centres[(k * d) + i];
                }
            }
        }

        WriteCovariances(target, reg, total, flags, ref count);
        return count;
    }

    /// <summary>Allocating convenience: the M-step into a new immutable mixture.</summary>
    public GaussianMixture ToMixture(double regCovar)
    {
        var p = new GmmParameters(Components, Dimension, Type);
        MaximizeInto(p, regCovar, default);
        return new GaussianMixture(p);
    }

    private void WriteCovariances(GmmParameters target, ReadOnlySpan<double> reg, double total, Span<bool> degenerate, ref int count)
    {
        var kCount = Components;
        var d = Dimension;
        var dd = d * d;
        var cov = target.Covariances;
        switch (Type)
        {
            case CovarianceType.Full:
                for (var k = 0; k < kCount; k++)
                {
                    var dest = cov.AsSpan(k * dd, dd);
                    if (degenerate[k])
                    {
                        WritePooledDense(dest, total, reg);
                        continue;
                    }

                    var s0 = _s0[k];
                    var mu = _s1.AsSpan(k * d, d);
                    WriteDense(_s2.AsSpan(k * dd, dd), s0, mu, s0, reg, dest);
                }

                break;
            case CovarianceType.Tied:
                {
                    // Σ = (S2 − Σ_k s1_k·s1_kᵀ / s0_k) / N + reg·I.
                    var dest = cov.AsSpan(0, dd);
                    for (var i = 0; i < d; i++)
                    {
                        for (var j = i; j < d; j++)
                        {
                            var s = _s2[(i * d) + j];
                            for (var k = 0; k < kCount; k++)
                            {
                                if (_s0[k] > 0)
                                {
                                    s -= _s1[(k * d) + i] * _s1[(k * d) + j] / _s0[k];
                                }
                            }

                            s /= total;
                            dest[(i * d) + j] = s;
                            dest[(j * d) + i] = s;
                        }

                        dest[(i * d) + i] += reg[i];
                    }

                    break;
                }

            case CovarianceType.Diag:
                for (var k = 0; k < kCount; k++)
                {
                    var dest = cov.AsSpan(k * d, d);
                    if (degenerate[k])
                    {
                        WritePooledDiagonal(dest, total, reg);
                        continue;
                    }

                    var inv = 1.0 / _s0[k];
                    for (var i = 0; i < d; i++)
                    {
                        var mu = _s1[(k * d) + i] * inv;
                        dest[i] = Math.Max((_s2[(k * d) + i] * inv) - (mu * mu), 0) + reg[i];
                    }
                }

                break;
            default:
                Span<double> diag = d <= 256 ? stackalloc double[d] : new double[d];
                for (var k = 0; k < kCount; k++)
                {
                    if (degenerate[k])
                    {
                        WritePooledDiagonal(diag, total, reg);
                        cov[k] = TensorPrimitives.Sum<double>(diag) / d;
                        continue;
                    }

                    var inv = 1.0 / _s0[k];
                    double mu2 = 0;
                    for (var i = 0; i < d; i++)
                    {
                        var mu = _s1[(k * d) + i] * inv;
                        mu2 += mu * mu;
                    }

                    cov[k] = (Math.Max((_s2[k] * inv) - mu2, 0) / d) + (TensorPrimitives.Sum(reg) / d);
                }

                break;
        }

        // Rounding (or regCovar = 0 on a flat direction) can leave a covariance singular: add growing jitter, and only if
        // that fails treat the component as degenerate.
        for (var attempt = 0; ; attempt++)
        {
            if (target.TryRefreshFactors(out var failed))
            {
                return;
            }

            if (attempt >= 20)
            {
                throw new InvalidOperationException("could not obtain a positive definite covariance from the statistics");
            }

            if (attempt >= 10 && failed >= 0)
            {
                if (!degenerate[failed])
                {
                    degenerate[failed] = true;
                    count++;
                }

                ReplaceWithPooled(target, failed, total, reg);
                continue;
            }

            AddJitter(target, failed, attempt, PooledVarianceScale(total));
        }
    }

    /// <summary>Average pooled variance: the scale for jitter when a component's own variance has collapsed to zero.</summary>
    private double PooledVarianceScale(double total)
    {
        var d = Dimension;
        Span<double> diag = d <= 256 ? stackalloc double[d] : new double[d];
        WritePooledDiagonal(diag, total, default);
        var mean = TensorPrimitives.Sum<double>(diag) / d;
        return mean > 0 && double.IsFinite(mean) ? mean : 1.0;
    }

    private void ReplaceWithPooled(GmmParameters target, int k, double total, ReadOnlySpan<double> reg)
    {
        var d = Dimension;
        WritePooledMean(target.Means.AsSpan(k * d, d), total);
        switch (Type)
        {
            case CovarianceType.Full:
                WritePooledDense(target.Covariances.AsSpan(k * d * d, d * d), total, reg);
                break;
            case CovarianceType.Diag:
                WritePooledDiagonal(target.Covariances.AsSpan(k * d, d), total, reg);
                break;
            default:
                {
                    Span<double> diag = d <= 256 ? stackalloc double[d] : new double[d];
                    WritePooledDiagonal(diag, total, reg);
                    target.Covariances[k] = TensorPrimitives.Sum<double>(diag) / d;
                    break;
                }
        }
    }

    private static void AddJitter(GmmParameters target, int failed, int attempt, double pooledScale)
    {
        var d = target.Dimension;
        var cov = target.Covariances;
        var (offset, isDense) = target.Type switch
        {
            CovarianceType.Full => (failed * d * d, true),
            CovarianceType.Tied => (0, true),
            CovarianceType.Diag => (failed * d, false),
            _ => (failed, false),
        };
        var count = target.Type == CovarianceType.Spherical ? 1 : d;
        double scale = 0;
        for (var i = 0; i < count; i++)
        {
            scale += Math.Abs(isDense ? cov[offset + (i * d) + i] : cov[offset + i]);
        }

        scale = Math.Max(scale / count, pooledScale * 1e-6);
        var jitter = scale * 1e-12 * Math.Pow(10, attempt);
        for (var i = 0; i < count; i++)
        {
            if (isDense)
            {
                cov[offset + (i * d) + i] += jitter;
            }
            else
            {
                cov[offset + i] = Math.Max(cov[offset + i], 0) + jitter;
            }
        }
    }

    /// <summary>The mean of all statistics: Σ_k (s1_k + s0_k·c_k) / total.</summary>
    private void WritePooledMean(Span<double> mu, double total)
    {
        var d = Dimension;
        for (var i = 0; i < d; i++)
        {
            double s = 0;
            for (var k = 0; k < Components; k++)
            {
                s += _s1[(k * d) + i] + (_s0[k] * _centres[(k * d) + i]);
            }

            mu[i] = s / total;
        }
    }

    /// <summary>The covariance of all statistics (Full only): every component's second moments moved to the pooled mean, summed, / total.</summary>
    private void WritePooledDense(Span<double> dest, double total, ReadOnlySpan<double> reg)
    {
        var d = Dimension;
        var dd = d * d;
        Span<double> s2 = dd <= 4096 ? stackalloc double[dd] : new double[dd];
        Span<double> s1 = d <= 256 ? stackalloc double[d] : new double[d];
        Span<double> mean = d <= 256 ? stackalloc double[d] : new double[d];
        Span<double> delta = d <= 256 ? stackalloc double[d] : new double[d];
        s2.Clear();
        WritePooledMean(mean, total);

        // Only reached for Full: a tied covariance is shared, so a degenerate tied component only needs a new mean.
        for (var k = 0; k < Components; k++)
        {
            _s1.AsSpan(k * d, d).CopyTo(s1);
            var block = _s2.AsSpan(k * dd, dd).ToArray();
            TensorPrimitives.Subtract(mean, _centres.AsSpan(k * d, d), delta);
            Shift(CovarianceType.Full, _s0[k], s1, block, delta);
            TensorPrimitives.Add(s2, block, s2);
        }

        s1.Clear();
        WriteDense(s2, total, s1, total, reg, dest);
    }

    /// <summary>The diagonal of the covariance of all statistics, plus <paramref name="reg"/> (may be empty).</summary>
    private void WritePooledDiagonal(Span<double> dest, double total, ReadOnlySpan<double> reg)
    {
        var d = Dimension;
        Span<double> mean = d <= 256 ? stackalloc double[d] : new double[d];
        WritePooledMean(mean, total);
        for (var i = 0; i < d; i++)
        {
            // Σ_k Σ r (x_i − m_i)² = Σ_k [s2_k,ii + 2·δ_ki·s1_ki + s0_k·δ_ki²] with δ_k = c_k − m (a spherical s2_k split evenly).
            double s2 = Type == CovarianceType.Tied ? _s2[(i * d) + i] : 0.0;
            for (var k = 0; k < Components; k++)
            {
                var delta = _centres[(k * d) + i] - mean[i];
                s2 += (2 * delta * _s1[(k * d) + i]) + (_s0[k] * delta * delta);
                s2 += Type switch
                {
                    CovarianceType.Full => _s2[(k * d * d) + (i * d) + i],
                    CovarianceType.Diag => _s2[(k * d) + i],
                    CovarianceType.Tied => 0.0,
                    _ => _s2[k] / d,
                };
            }

            dest[i] = Math.Max(s2 / total, 0) + (reg.IsEmpty ? 0.0 : reg[i]);
        }
    }

    /// <summary>dest = s2/s0 − (s1/n1)(s1/n1)ᵀ + reg·I from the upper triangle of s2, symmetric output.</summary>
    private void WriteDense(ReadOnlySpan<double> s2, double s0, ReadOnlySpan<double> s1, double n1, ReadOnlySpan<double> reg, Span<double> dest)
    {
        var d = Dimension;
        var inv0 = 1.0 / s0;
        var inv1 = 1.0 / n1;
        for (var i = 0; i < d; i++)
        {
            var mi = s1[i] * inv1;
            for (var j = i; j < d; j++)
            {
                var v = (s2[(i * d) + j] * inv0) - (mi * s1[j] * inv1);
                dest[(i * d) + j] = v;
                dest[(j * d) + i] = v;
            }

            dest[(i * d) + i] = Math.Max(dest[(i * d) + i], 0) + reg[i];
        }
    }

    private void CheckCompatible(GmmSufficientStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Components != Components || other.Dimension != Dimension || other.Type != Type
            || !other._origin.AsSpan().SequenceEqual(_origin) || !other._centres.AsSpan().SequenceEqual(_centres))
        {
            throw new ArgumentException("statistics differ in shape, covariance type or origins", nameof(other));
        }
    }

    private void CheckModel(GmmParameters model)
    {
        if (model.Components != Components || model.Dimension != Dimension || model.Type != Type)
        {
            throw new ArgumentException("model and statistics differ in shape or covariance type", nameof(model));
        }
    }
}
