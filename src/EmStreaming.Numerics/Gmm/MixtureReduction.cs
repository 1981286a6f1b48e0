using EmStreaming.Numerics.Linear;

namespace EmStreaming.Numerics.Gmm;

/// <summary>
/// Runnalls' greedy Gaussian mixture reduction (Runnalls 2007, "Kullback-Leibler approach to Gaussian mixture reduction"):
/// while there are too many components, merge the pair whose moment-matched merge loses the least,
/// ½[(w_a + w_b)·ln|Σ_ab| − w_a·ln|Σ_a| − w_b·ln|Σ_b|] (an upper bound on the KL divergence the merge costs), so near
/// duplicates merge before distinct modes do. Roles say which pairs may merge: two <see cref="Role.Fresh"/> components
/// never do (a fit chose them), a <see cref="Role.Locked"/> one never merges at all, and a <see cref="Role.Kept"/> one
/// merges only with another kept one.
/// </summary>
internal static class MixtureReduction
{
    /// <summary>
    /// The most merges may cost to make room for kept components or states (Runnalls' bound, nats per unit of merged weight):
    /// two halves of one mode or regime that a refit split merge for far less, two distinct ones for more. When a component
    /// is absent because its mode moved (the rows show it elsewhere), the refit has no halves to merge and is taken as it is.
    /// Used by the service's GMM and HMM refits and the CLI's HMM drift refit.
    /// </summary>
    public const double MaxSplitMergeCost = 0.5;

    /// <summary>What a component may merge with.</summary>
    public enum Role
    {
        /// <summary>Anything but a locked component.</summary>
        Free,

        /// <summary>Free components only; the merge stays fresh.</summary>
        Fresh,

        /// <summary>Nothing: kept as it is.</summary>
        Locked,

        /// <summary>Other kept components only (two copies of one thing an earlier model held); the merge stays kept.</summary>
        Kept,
    }

    /// <summary>Components to reduce: weight, mean and full covariance each, and a role.</summary>
    public sealed class Pool(int count, int dimension)
    {
        private readonly double[] _w = new double[count];
        private readonly double[] _mu = new double[count * dimension];
        private readonly double[][] _sigma = new double[count][];
        private readonly double[] _logDet = new double[count];
        private readonly Role[] _role = new Role[count];
        private readonly List<int>[] _members = [.. Enumerable.Range(0, count).Select(i => new List<int> { i })];
        private List<int>? _result;

        /// <summary>Entry <paramref name="i"/> is component <paramref name="k"/> of <paramref name="model"/> with <paramref name="weight"/>.</summary>
        public void Set(int i, GaussianMixture model, int k, double weight, Role role) =>
            Set(i, model.Means.Slice(k * dimension, dimension), model.FullCovariance(k), weight, role);

        /// <summary>Entry <paramref name="i"/> is the Gaussian (<paramref name="mean"/>, <paramref name="fullCovariance"/>, d×d row-major) with <paramref name="weight"/>.</summary>
        public void Set(int i, ReadOnlySpan<double> mean, double[] fullCovariance, double weight, Role role)
        {
            _w[i] = weight;
            mean.CopyTo(_mu.AsSpan(i * dimension, dimension));
            _sigma[i] = fullCovariance;
            _logDet[i] = LogDeterminant(_sigma[i], dimension);
            _role[i] = role;
        }

        /// <summary>The entries merged into component <paramref name="component"/> of the last <see cref="ReduceTo"/>'s result (ascending).</summary>
        public IReadOnlyList<int> Members(int component) =>
            _result is { } result ? _members[result[component]] : throw new InvalidOperationException("the pool has not been reduced");

        /// <summary>
        /// The pool merged down to <paramref name="components"/> (weights normalized, covariances projected onto
        /// <paramref name="type"/>: the diagonal, or its mean), or null when the roles allow no further merge first, or when
        /// the cheapest allowed merge costs more than <paramref name="maxCostPerWeight"/> nats per unit of the weight it
        /// merges (two distinct modes, not two halves of one). Tied
        /// covariances are not supported (one matrix cannot hold components from different fits).
        /// </summary>
        public GaussianMixture? ReduceTo(int components, CovarianceType type, double maxCostPerWeight = double.PositiveInfinity)
        {
            if (type == CovarianceType.Tied)
            {
                throw new ArgumentException("a tied covariance cannot hold components from different fits", nameof(type));
            }

            var d = dimension;
            var alive = Enumerable.Range(0, count).ToList();
            var merged = new double[d * d];
            var mean = new double[d];
            while (alive.Count > components)
            {
                var (a, b, cost) = (-1, -1, double.PositiveInfinity);
                for (var i = 0; i < alive.Count; i++)
                {
                    for (var j = i + 1; j < alive.Count; j++)
                    {
                        var (p, q) = (alive[i], alive[j]);
                        if (_role[p] == Role.Locked || _role[q] == Role.Locked || (_role[p] == Role.Fresh && _role[q] == Role.Fresh)
                            || ((_role[p] == Role.Kept) != (_role[q] == Role.Kept)))
                        {
                            continue;
                        }

                        var c = 0.5 * (((_w[p] + _w[q]) * LogDeterminant(Merge(p, q, mean, merged), d)) - (_w[p] * _logDet[p]) - (_w[q] * _logDet[q]));
                        if (a < 0 || c < cost)
                        {
                            (a, b, cost) = (p, q, c);
                        }
                    }
                }

                if (a < 0 || cost / (_w[a] + _w[b]) > maxCostPerWeight)
                {
                    return null;
                }

                _sigma[a] = (double[])Merge(a, b, mean, merged).Clone();
                mean.CopyTo(_mu.AsSpan(a * d, d));
                _w[a] += _w[b];
                _logDet[a] = LogDeterminant(_sigma[a], d);
                _role[a] = _role[a] == Role.Kept ? Role.Kept : _role[a] == Role.Fresh || _role[b] == Role.Fresh ? Role.Fresh : Role.Free;
                _members[a].AddRange(_members[b]);
                _members[a].Sort();
                alive.Remove(b);
            }

            _result = alive;

            var total = alive.Sum(k => _w[k]);
            var weights = new double[alive.Count];
            var means = new double[alive.Count * d];
            var covariances = new double[GmmParameters.CovarianceLength(type, alive.Count, d)];
            for (var i = 0; i < alive.Count; i++)
            {
                var k = alive[i];
                weights[i] = _w[k] / total;
                _mu.AsSpan(k * d, d).CopyTo(means.AsSpan(i * d, d));
                var full = _sigma[k];
                switch (type)
                {
                    case CovarianceType.Full:
                        full.CopyTo(covariances.AsSpan(i * d * d, d * d));
                        break;
                    case CovarianceType.Diag:
                        for (var j = 0; j < d; j++)
                        {
                            covariances[(i * d) + j] = full[(j * d) + j];
                        }

                        break;
                    default:
                        var trace = 0.0;
                        for (var j = 0; j < d; j++)
                        {
                            trace += full[(j * d) + j];
                        }

                        covariances[i] = trace / d;
                        break;
                }
            }

            return GaussianMixture.Create(weights, means, covariances, alive.Count, d, type);
        }

        /// <summary>The moment-matched merge of entries p and q: its mean into <paramref name="mean"/>, its covariance into (and returned as) <paramref name="into"/>.</summary>
        private double[] Merge(int p, int q, double[] mean, double[] into)
        {
            var d = dimension;
            var (wp, wq) = (_w[p] / (_w[p] + _w[q]), _w[q] / (_w[p] + _w[q]));
            for (var j = 0; j < d; j++)
            {
                mean[j] = (wp * _mu[(p * d) + j]) + (wq * _mu[(q * d) + j]);
            }

            for (var r = 0; r < d; r++)
            {
                for (var c = 0; c < d; c++)
                {
                    var (dpr, dpc) = (_mu[(p * d) + r] - mean[r], _mu[(p * d) + c] - mean[c]);
                    var (dqr, dqc) = (_mu[(q * d) + r] - mean[r], _mu[(q * d) + c] - mean[c]);
                    into[(r * d) + c] = (wp * (_sigma[p][(r * d) + c] + (dpr * dpc))) + (wq * (_sigma[q][(r * d) + c] + (dqr * dqc)));
                }
            }

            return into;
        }
    }

    /// <summary>ln|Σ| of a d×d symmetric matrix; +∞ when it is not positive definite (a merge never to choose).</summary>
    private static double LogDeterminant(double[] matrix, int d)
    {
        var l = (double[])matrix.Clone();
        return Cholesky.TryFactor(l, d) ? Cholesky.LogDeterminant(l, d) : double.PositiveInfinity;
    }
}
