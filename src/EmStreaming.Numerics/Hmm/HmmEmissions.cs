using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Hmm;

/// <summary>
/// Gaussian emission densities of the K states, built on the mixture core: <see cref="GmmParameters"/> holds the
/// means, covariances and cached factors and supplies the log-density kernel (missing entries marginalized);
/// <see cref="GmmSufficientStatistics"/> accumulates s0, s1, s2 from state posteriors given as responsibilities
/// (missing entries through their conditional expectation) and maps them back to parameters with the covariance
/// floor. This class only adds the HMM-specific glue: a flat view of the statistics (s0 | s1 | s2) for the online
/// recursion and per-state statistics ψ_k(x). Mixture weights are unused (held uniform).
/// </summary>
internal sealed class HmmEmissions
{
    private readonly double[] _ones;

    public HmmEmissions(int states, int dimension, CovarianceType type)
    {
        K = states;
        D = dimension;
        Type = type;
        Parameters = new GmmParameters(states, dimension, type);
        Array.Fill(Parameters.Weights, 1.0 / states);
        CovarianceLength = GmmParameters.CovarianceLength(type, 1, dimension);
        S2Length = GmmSufficientStatistics.S2Length(type, 1, dimension);
        StatLength = 1 + D + S2Length;
        _ones = new double[states];
        Array.Fill(_ones, 1.0);
    }

    public int K { get; }

    public int D { get; }

    public CovarianceType Type { get; }

    public GmmParameters Parameters { get; }

    public double[] Means => Parameters.Means;

    public double[] Covariances => Parameters.Covariances;

    /// <summary>Covariance entries per state (D×D for Full, D for Diag).</summary>
    public int CovarianceLength { get; }

    /// <summary>s2 entries per state.</summary>
    public int S2Length { get; }

    /// <summary>P = 1 + D + S2: statistics per state.</summary>
    public int StatLength { get; }

    public int ScratchLength => GmmParameters.RowScratchLength(D);

    public HmmEmissions Clone()
    {
        var c = new HmmEmissions(K, D, Type);
        c.CopyFrom(this);
        return c;
    }

    public void CopyFrom(HmmEmissions other) => Parameters.CopyFrom(other.Parameters);

    /// <summary>Refreshes the cached factors after Means/Covariances were written; false when one is not positive definite.</summary>
    public bool TryRefreshFactors(out int failedState)
    {
        Array.Fill(Parameters.Weights, 1.0 / K);
        return Parameters.TryRefreshFactors(out failedState);
    }

    /// <summary>log g_k(x) for every state into <paramref name="destination"/> (K); missing entries marginalized.</summary>
    /// <remarks>With <paramref name="normalizers"/> (K entries), also each state's log normalizer over the observed entries (<see cref="GmmParameters.LogDensitiesRow"/>).</remarks>
    public void LogDensity(ReadOnlySpan<double> x, Span<double> destination, Span<double> scratch, Span<double> normalizers = default)
        => Parameters.LogDensitiesRow(x, destination, scratch, normalizers);

    /// <summary>Log densities of rows [start, start+count) into <paramref name="destination"/> (count×K).</summary>
    public void LogDensities(DataMatrix data, int start, int count, Span<double> destination, Span<double> scratch)
    {
        var k = K;
        for (var t = 0; t < count; t++)
        {
            Parameters.LogDensitiesRow(data.Row(start + t), destination.Slice(t * k, k), scratch);
        }
    }

    /// <summary>
    /// ψ_k(x) for every state, flat (s0 | s1 | s2, K·P values), into <paramref name="psi"/>, using
    /// <paramref name="buffer"/> (same shape and origin as the statistics it will be mixed with) as the accumulator.
    /// </summary>
    public void Statistics(ReadOnlySpan<double> x, GmmSufficientStatistics buffer, Span<double> psi, Span<double> scratch)
    {
        buffer.Clear();
        buffer.AccumulateRow(x, _ones, Parameters, scratch);
        CopyOut(buffer, psi);
    }

    /// <summary>Writes the statistics flat (s0 | s1 | s2).</summary>
    public void CopyOut(GmmSufficientStatistics statistics, Span<double> flat)
    {
        statistics.S0.CopyTo(flat);
        statistics.S1.CopyTo(flat[K..]);
        statistics.S2.CopyTo(flat[(K + (K * D))..]);
    }

    /// <summary>Loads flat statistics (s0 | s1 | s2) into <paramref name="statistics"/>.</summary>
    public void CopyIn(ReadOnlySpan<double> flat, GmmSufficientStatistics statistics)
    {
        flat[..K].CopyTo(statistics.S0);
        flat.Slice(K, K * D).CopyTo(statistics.S1);
        flat.Slice(K + (K * D), K * S2Length).CopyTo(statistics.S2);
    }

    /// <summary>
    /// M-step with the covariance floor <paramref name="regCovar"/>. A state with (near) zero occupancy gets the
    /// pooled mean and covariance of all statistics (never NaN). Returns the number of such states.
    /// </summary>
    public int MStep(GmmSufficientStatistics statistics, double regCovar, Span<bool> degenerate) => MStep(statistics, regCovar, default, degenerate);

    /// <summary>M-step with <paramref name="regCovar"/> plus a per-dimension floor (<see cref="CovarianceFloor"/>) on every diagonal.</summary>
    public int MStep(GmmSufficientStatistics statistics, double regCovar, ReadOnlySpan<double> diagonalFloor, Span<bool> degenerate)
    {
        var count = statistics.MaximizeInto(Parameters, regCovar, diagonalFloor, degenerate);
        Array.Fill(Parameters.Weights, 1.0 / K);
        return count;
    }
}
