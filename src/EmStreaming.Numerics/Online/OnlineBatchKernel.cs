using System.Numerics.Tensors;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Numerics.Online;

/// <summary>
/// Mini-batch fast path for complete rows and dense (full or tied) covariances: the batch is transposed once to
/// column-major (d × m) so every operation runs along the m rows with TensorPrimitives, instead of d·K short per-row
/// calls. Computes the same quantities as <see cref="GmmParameters.LogDensitiesRow"/> and
/// <see cref="GmmSufficientStatistics.AccumulateRow"/> (equal to rounding; checked by the tests) and exists only because
/// the GMM core's tiled kernels are bound to a <see cref="DataMatrix"/> workspace that cannot be re-used across batches
/// without allocating. Delete it once the core exposes a span-based tile kernel.
/// </summary>
internal sealed class OnlineBatchKernel(int components, int dimension)
{
    private readonly int _k = components;
    private readonly int _d = dimension;
    private double[] _xt = [];
    private double[] _work = [];
    private double[] _z = [];
    private double[] _maha = [];
    private int _capacity;

    public static bool Applies(CovarianceType type) => type is CovarianceType.Full or CovarianceType.Tied;

    /// <summary>Transposes the m complete rows of <paramref name="rows"/> into the kernel's column-major buffer.</summary>
    public void Load(ReadOnlySpan<double> rows, int m)
    {
        if (_capacity < m)
        {
            _capacity = m;
            _xt = new double[_d * m];
            _work = new double[_d * m];
            _z = new double[m];
            _maha = new double[m];
        }

        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < _d; j++)
            {
                _xt[(j * m) + i] = rows[(i * _d) + j];
            }
        }
    }

    /// <summary>logJoint (K × m, component-major) = ln w_k + log N(x_i; μ_k, Σ_k) for the loaded rows.</summary>
    public void LogJoint(GmmParameters p, int m, Span<double> logJoint)
    {
        var d = _d;
        var z = _z.AsSpan(0, m);
        var maha = _maha.AsSpan(0, m);
        for (var k = 0; k < _k; k++)
        {
            var mu = p.Means.AsSpan(k * d, d);
            for (var i = 0; i < d; i++)
            {
                TensorPrimitives.Subtract(_xt.AsSpan(i * m, m), mu[i], _work.AsSpan(i * m, m));
            }

            var linv = p.InverseCholesky.AsSpan(p.Type == CovarianceType.Full ? k * d * d : 0, d * d);
            maha.Clear();
            for (var j = 0; j < d; j++)
            {
                TensorPrimitives.Multiply(_work.AsSpan(0, m), linv[j * d], z);
                for (var i = 1; i <= j; i++)
                {
                    TensorPrimitives.MultiplyAdd(_work.AsSpan(i * m, m), linv[(j * d) + i], z, z);
                }

                TensorPrimitives.MultiplyAdd(z, z, maha, maha);
            }

            var dest = logJoint.Slice(k * m, m);
            TensorPrimitives.Multiply(maha, -0.5, dest);
            TensorPrimitives.Add(dest, p.LogNormalizers[k] + p.LogWeights[k], dest);
        }
    }

    /// <summary>Adds the loaded rows with responsibilities (K × m, component-major) to <paramref name="stats"/>.</summary>
    public void Accumulate(ReadOnlySpan<double> responsibilities, int m, GmmSufficientStatistics stats)
    {
        var d = _d;
        var origin = stats.Origin;
        for (var i = 0; i < d; i++)
        {
            // Reuse the work buffer for y = x − origin (column-major).
            TensorPrimitives.Subtract(_xt.AsSpan(i * m, m), origin[i], _work.AsSpan(i * m, m));
        }

        var s0 = stats.S0;
        var s1 = stats.S1;
        var s2 = stats.S2;
        var tied = stats.Type == CovarianceType.Tied;
        var w = _z.AsSpan(0, m);
        for (var k = 0; k < _k; k++)
        {
            var r = responsibilities.Slice(k * m, m);
            s0[k] += TensorPrimitives.Sum<double>(r);
            var s2k = tied ? s2[..(d * d)] : s2.Slice(k * d * d, d * d);
            for (var i = 0; i < d; i++)
            {
                TensorPrimitives.Multiply(r, _work.AsSpan(i * m, m), w);
                s1[(k * d) + i] += TensorPrimitives.Sum<double>(w);
                for (var j = i; j < d; j++)
                {
                    s2k[(i * d) + j] += TensorPrimitives.Dot<double>(w, _work.AsSpan(j * m, m));
                }
            }
        }
    }
}
