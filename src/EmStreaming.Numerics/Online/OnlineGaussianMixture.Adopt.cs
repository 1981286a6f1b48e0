using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

public sealed partial class OnlineGaussianMixture
{
    /// <summary>
    /// Restarts the recursion from externally fitted parameters (a batch EM refit over a window of recent rows) without
    /// losing the schedule position or the labels (the model's components are first reordered to match the current ones,
    /// <see cref="LabelMatching"/>): the sufficient statistics become the E-step of <paramref name="window"/> under
    /// <paramref name="model"/> (the fixed point batch EM converged to), the parameters become their M-step, and the
    /// Polyak–Ruppert average, when it is on, restarts at those parameters.
    /// </summary>
    /// <remarks>
    /// Kept as they were: the observation and mini-batch counters (so the step size continues where it was), the random
    /// state, the re-seeding ring of recent rows and the last mean log-likelihood. The covariance floor is taken from
    /// <paramref name="window"/>, as the refit's own. Rows of <paramref name="window"/> may
    /// hold NaN (missing entries, replaced by their conditional expectation under <paramref name="model"/>). Everything
    /// is computed before anything is replaced: when this throws, the estimator is unchanged. Deterministic: the same
    /// state, model and window give the same bits.
    /// </remarks>
    /// <param name="model">Parameters to adopt; same components, dimension and covariance type as this estimator.</param>
    /// <param name="window">Row-major rows (a whole number of <see cref="Dimension"/>-wide rows, at least one), each with an observed entry.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">The model's shape differs, or the window is empty, ragged or holds a row with no observed entry.</exception>
    /// <exception cref="InvalidOperationException">The estimator is warming up (it has no recursion to restart), or the model or the result is not positive definite.</exception>
    public void Adopt(GaussianMixture model, ReadOnlySpan<double> window)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Components != _k || model.Dimension != _d || model.CovarianceType != _type)
        {
            throw new ArgumentException(
                $"the model has {model.Components} components, dimension {model.Dimension} and {model.CovarianceType} covariances; this estimator has {_k}, {_d} and {_type}",
                nameof(model));
        }

        if (window.IsEmpty || window.Length % _d != 0)
        {
            throw new ArgumentException($"the window must hold a whole, positive number of rows of {_d} values; it has {window.Length} values", nameof(window));
        }

        if (IsWarmingUp)
        {
            throw new InvalidOperationException("a warming-up estimator has no statistics to restart: it adopts parameters from its own first fit");
        }

        var (theta, stats) = Aligned(model, window);

        // E-step of the window under θ, each row weighted 1/n: the statistics the recursion would hold at θ's fixed point.
        var rows = window.Length / _d;
        var scratch = new double[GmmParameters.RowScratchLength(_d)];
        var resp = new double[_k];
        var weight = 1.0 / rows;
        var lo = new double[_d];
        var hi = new double[_d];
        var bounded = new double[_d];
        InfluenceBound.Range(theta, lo, hi); // as the recursion learns: a glitch in the window does not enter the adopted parameters whole
        for (var i = 0; i < rows; i++)
        {
            var x = window.Slice(i * _d, _d);
            if (GmmParameters.CountObserved(x) == 0)
            {
                throw new ArgumentException($"row {i} of the window has no observed value", nameof(window));
            }

            x = InfluenceBound.Within(x, lo, hi, bounded);
            theta.LogDensitiesRow(x, resp, scratch);
            var max = double.NegativeInfinity;
            for (var k = 0; k < _k; k++)
            {
                resp[k] += theta.LogWeights[k];
                max = Math.Max(max, resp[k]);
            }

            var sum = 0.0;
            for (var k = 0; k < _k; k++)
            {
                resp[k] = Math.Exp(resp[k] - max);
                sum += resp[k];
            }

            for (var k = 0; k < _k; k++)
            {
                resp[k] /= sum;
            }

            stats.AccumulateRow(x, resp, theta, scratch, weight);
        }

        // The covariance floor follows the window, as the refit's own did: data that drifted to another scale keep a floor in
        // their own unit (one from the warm-up rows could be far larger than the new variances, or far smaller).
        Install(stats, CovarianceFloor.FromData(window, _d, _options.RelativeRegCovar));
    }

    /// <summary>
    /// <paramref name="model"/>'s parameters with the labels kept (a refit's EM numbers its components in its own order, so
    /// component i of the result is the model's component matched to the current component i, <see cref="LabelMatching"/>,
    /// and a cluster keeps its id across refits), and empty statistics about the window's own centre (after a jump of many
    /// standard deviations, a sensor re-zeroed or a price 1e8 of its noise away, second moments about the old origin would
    /// cancel to nothing: gap 1.9 nats/row at 1e8, a covariance of 6e16 at 1e9, measured) and each component's about its own
    /// mean (modes far apart: FarApartModesTests).
    /// </summary>
    private (GmmParameters Theta, GmmSufficientStatistics Stats) Aligned(GaussianMixture model, ReadOnlySpan<double> window)
    {
        model = model.AlignTo(new GaussianMixture(_params!));
        var theta = model.Parameters.Clone();
        if (!theta.TryRefreshFactors(out var failed))
        {
            throw new InvalidOperationException($"component {failed} of the adopted model is not positive definite");
        }

        var stats = new GmmSufficientStatistics(_k, _d, _type, DataMatrix.ObservedColumnCentres(window, _d));
        stats.ResetOrigins(theta.Means);
        return (theta, stats);
    }

    /// <summary>
    /// The M-step of <paramref name="stats"/> with <paramref name="floor"/>, then the swap: statistics, parameters, floor and
    /// the Polyak–Ruppert average (restarted there when it is on). Nothing is touched before the M-step succeeded.
    /// </summary>
    private void Install(GmmSufficientStatistics stats, double[] floor)
    {
        var next = new GmmParameters(_k, _d, _type);
        stats.MaximizeInto(next, _options.RegCovar, floor, default);
        if (!next.TryRefreshFactors(out var failed))
        {
            throw new InvalidOperationException($"component {failed} is not positive definite after adoption");
        }

        UseStatistics(stats);
        _params = next;
        floor.CopyTo(_floor, 0);
        if (_averaging)
        {
            _average = next.Clone();
        }

        _view = null;
    }
}
