using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using FsCheck;
using FsCheck.Fluent;

namespace EmStreaming.Numerics.Tests.Gmm;

/// <summary>Invariants of EM checked on generated data (FsCheck).</summary>
public sealed class PropertyTests
{
    private static readonly CovarianceType[] Types = [CovarianceType.Full, CovarianceType.Diag, CovarianceType.Spherical, CovarianceType.Tied];

    private static Arbitrary<(int Seed, int Rows, int Columns, int Components, int Type)> Cases() =>
        Arb.From(
            from seed in Gen.Choose(0, 1_000_000)
            from rows in Gen.Choose(30, 120)
            from columns in Gen.Choose(1, 4)
            from components in Gen.Choose(1, 3)
            from type in Gen.Choose(0, 3)
            select (seed, rows, columns, components, type));

    [Fact]
    public void Fit_GeneratedData_LogLikelihoodNeverDecreases()
    {
        Prop.ForAll(Cases(), c =>
        {
            var data = Synthetic.Random(c.Rows, c.Columns, (ulong)c.Seed);
            var fit = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = c.Components, Covariance = Types[c.Type], Tolerance = 1e-12, MaxIterations = 60, Seed = (ulong)c.Seed, RelativeRegCovar = 0 });
            var trace = fit.LogLikelihoodTrace;
            // EM's monotonicity theorem needs every M-step to be the exact maximizer. A component backed by no more
            // rows than dimensions has a singular sample covariance, so the regCovar floor binds and the floored
            // M-step is not the maximizer (seeded case 386580, 53×4, K=3 full: a 4-row component, −1e-5 nats a step);
            // such fits are only required to stay finite. The relative floor (1e-4 × column variance, added after the
            // maximizer) is off for the same reason: the theorem is about the exact M-step.
            var minimumRows = fit.Model.Weights.ToArray().Min() * c.Rows;
            var determined = minimumRows >= 2 * (c.Columns + 1);
            for (var i = 1; determined && i < trace.Count; i++)
            {
                // Float noise only: 1e-10 relative.
                if (trace[i] < trace[i - 1] - (1e-10 * Math.Max(1, Math.Abs(trace[i - 1]))))
                {
                    return false;
                }
            }

            return trace.All(double.IsFinite) && trace[^1] == fit.MeanLogLikelihood;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void PredictProba_GeneratedDataWithMissing_RowsSumToOne()
    {
        Prop.ForAll(Cases(), c =>
        {
            var data = Synthetic.Random(c.Rows, c.Columns, (ulong)c.Seed);
            var fit = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = c.Components, Covariance = Types[c.Type], Seed = (ulong)c.Seed });
            var holed = c.Columns > 1 ? Synthetic.RemoveAtRandom(data, 0.3, (ulong)c.Seed) : data;
            var r = new double[data.Rows * c.Components];
            fit.Model.PredictProba(holed, r);
            for (var i = 0; i < data.Rows; i++)
            {
                var sum = r.AsSpan(i * c.Components, c.Components).ToArray().Sum();
                if (Math.Abs(sum - 1) > 1e-12 || r.AsSpan(i * c.Components, c.Components).ToArray().Any(v => !(v >= 0)))
                {
                    return false;
                }
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Fit_PermutedRows_SameFitUpToFloatNoise()
    {
        Prop.ForAll(Cases(), c =>
        {
            var data = Synthetic.Random(c.Rows, c.Columns, (ulong)c.Seed);
            var type = Types[c.Type];
            var start = GaussianMixtureEM.Fit(data, new GmmFitOptions { Components = c.Components, Covariance = type, MaxIterations = 2, Seed = (ulong)c.Seed }).Model;
            var permuted = Permute(data, (ulong)c.Seed + 1);
            var options = new GmmFitOptions { Components = c.Components, Covariance = type, Tolerance = 1e-10, MaxIterations = 30, WarmStart = start };

            var a = GaussianMixtureEM.Fit(data, options);
            var b = GaussianMixtureEM.Fit(permuted, options);

            return Math.Abs(a.MeanLogLikelihood - b.MeanLogLikelihood) < 1e-9
                && a.Model.Means.ToArray().Zip(b.Model.Means.ToArray()).All(p => Math.Abs(p.First - p.Second) < 1e-6 * Math.Max(1, Math.Abs(p.First)));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Fit_DataScaledByC_MeanLogLikelihoodShiftsByMinusDLnC()
    {
        var scales = Gen.Elements(0.01, 0.5, 3.0, 100.0);
        Prop.ForAll(Arb.From(from c in Cases().Generator from scale in scales select (c, scale)), t =>
        {
            var (c, scale) = t;
            var data = Synthetic.Random(c.Rows, c.Columns, (ulong)c.Seed);
            var scaled = new DataMatrix(data.Values.ToArray().Select(v => v * scale).ToArray(), data.Rows, data.Columns);

            // RegCovar is a variance, so it scales by c² with the data to keep the identity exact.
            var options = new GmmFitOptions { Components = c.Components, Covariance = Types[c.Type], Tolerance = 1e-10, MaxIterations = 40, Seed = (ulong)c.Seed };
            var a = GaussianMixtureEM.Fit(data, options);
            var b = GaussianMixtureEM.Fit(scaled, options with { RegCovar = options.RegCovar * scale * scale });

            var expected = a.MeanLogLikelihood - (c.Columns * Math.Log(scale));
            return Math.Abs(b.MeanLogLikelihood - expected) < 1e-6;
        }).QuickCheckThrowOnFailure();
    }

    private static DataMatrix Permute(DataMatrix data, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var order = Enumerable.Range(0, data.Rows).ToArray();
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var d = data.Columns;
        var values = new double[data.Rows * d];
        for (var i = 0; i < order.Length; i++)
        {
            data.Row(order[i]).CopyTo(values.AsSpan(i * d, d));
        }

        return new DataMatrix(values, data.Rows, d);
    }
}
