using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;
using Xunit.Abstractions;

namespace EmStreaming.Numerics.Tests.Hmm;

/// <summary>
/// The drift test the model grain and <c>emstream stream</c> run on an online HMM: Page–Hinkley on each row's surprise,
/// −log p(x_n | past) − <see cref="OnlineGaussianHmm.LastExpectedLoss"/>. On the raw loss it alarmed whenever a wide regime
/// lasted, on streams that never change.
/// </summary>
public sealed class HmmDriftSignalTests(ITestOutputHelper output)
{
    /// <summary>A stationary regime-switching stream: state s has mean means[s] and standard deviation sds[s] in every column; switch probability p per row.</summary>
    private static double[] Stream(int n, int d, double[] means, double[] sds, double p, int seed, double missing = 0, Func<int, int, (double Mean, double Sd)>? change = null)
    {
        var random = new Random(seed);
        var values = new double[n * d];
        var s = 0;
        for (var t = 0; t < n; t++)
        {
            if (random.NextDouble() < p)
            {
                s = (s + 1 + random.Next(means.Length - 1)) % means.Length;
            }

            var (mean, sd) = change?.Invoke(t, s) ?? (means[s], sds[s]);
            var observed = 0;
            for (var j = 0; j < d; j++)
            {
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                var z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                var hide = j < d - 1 || observed > 0 ? random.NextDouble() < missing : false;
                values[(t * d) + j] = hide ? double.NaN : mean + (sd * z) + (0.3 * j);
                observed += hide ? 0 : 1;
            }
        }

        return values;
    }

    /// <summary>Alarms (rows at which they fired) of a detector fed the surprise (or the raw loss) of each row.</summary>
    private static List<int> Alarms(double[] values, int d, int states, bool surprise, GaussianHmm? truth = null)
    {
        var hmm = new OnlineGaussianHmm(new OnlineHmmOptions { States = states, BufferFit = new HmmFitOptions { States = states, Seed = 1 }, InitialModel = truth }, d);
        var detector = new PageHinkley();
        var alarms = new List<int>();
        for (var t = 0; t < values.Length / d; t++)
        {
            var logDensity = hmm.Update(values.AsSpan(t * d, d));
            if (!double.IsFinite(logDensity))
            {
                continue;
            }

            if (detector.Add(surprise ? -logDensity - hmm.LastExpectedLoss : -logDensity))
            {
                alarms.Add(t);
                detector.Reset();
            }
        }

        return alarms;
    }

    public static TheoryData<string, int, double[], double[], double, double> Stationary => new()
    {
        { "calm/volatile, 1-D, variance ratio 36", 1, [0.0, 0.0], [0.5, 3.0], 0.02, 0.0 },
        { "three regimes, 2-D, levels and spreads", 2, [0.0, 4.0, -3.0], [0.3, 1.0, 2.5], 0.01, 0.0 },
        { "calm/volatile, 3-D, 20 % missing entries", 3, [0.0, 1.0], [0.4, 2.0], 0.02, 0.2 },
    };

    [Theory]
    [MemberData(nameof(Stationary))]
    public void StationaryRegimeSwitching_SurpriseRaisesAtMostOneAlarmIn40000Rows(string name, int d, double[] means, double[] sds, double p, double missing)
    {
        var alarms = new List<int>();
        var raw = new List<int>();
        for (var seed = 1; seed <= 2; seed++)
        {
            var values = Stream(40_000, d, means, sds, p, seed, missing);
            alarms.AddRange(Alarms(values, d, means.Length, surprise: true));
            raw.AddRange(Alarms(values, d, means.Length, surprise: false));
        }

        output.WriteLine($"{name}: surprise {alarms.Count} alarms, raw loss {raw.Count} (two seeds of 40,000 rows)");
        Assert.True(alarms.Count <= 1, $"{name}: {alarms.Count} false alarms on a stationary stream (rows {string.Join(", ", alarms)})");
    }

    /// <summary>The calm/volatile process the slow and change cases draw from: sd 0.5 and 3 around 0, switch probability p.</summary>
    private static GaussianHmm CalmVolatile(double p) => GaussianHmm.Create([0.5, 0.5], [1 - p, p, p, 1 - p], [0.0, 0.0], [0.25, 9.0], 2, 1, CovarianceType.Full);

    [Fact]
    public void SlowSwitching_WithTheTrueParameters_SurpriseRaisesNoAlarmWhereTheRawLossRaisesMany()
    {
        // Long regimes (200 rows on average) make long runs of the wide regime's higher loss: the raw loss alarms on them.
        var alarms = 0;
        var raw = 0;
        for (var seed = 1; seed <= 2; seed++)
        {
            var values = Stream(40_000, 1, [0.0, 0.0], [0.5, 3.0], 0.005, seed);
            alarms += Alarms(values, 1, 2, surprise: true, CalmVolatile(0.005)).Count;
            raw += Alarms(values, 1, 2, surprise: false, CalmVolatile(0.005)).Count;
        }

        output.WriteLine($"slow switching, true start: surprise {alarms} alarms, raw loss {raw}");
        Assert.True(alarms <= 1, $"{alarms} false alarms");
        Assert.True(raw >= 5, $"the raw loss raised only {raw} alarms: the case no longer shows what it is for");
    }

    public static TheoryData<string, int> Changes => new()
    {
        { "the whole process moves by 6 (12 sd of the calm regime)", 0 },
        { "volatile regime's sd doubles", 1 },
        { "a third regime appears at level 10", 2 },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void RealChange_DetectedWithin500Rows(string name, int kind)
    {
        const int At = 20_000;
        var values = Stream(30_000, 1, [0.0, 0.0], [0.5, 3.0], 0.02, 7, change: (t, s) => t < At ? (0.0, s == 0 ? 0.5 : 3.0) : kind switch
        {
            0 => (6.0, s == 0 ? 0.5 : 3.0),
            1 => s == 0 ? (0.0, 0.5) : (0.0, 6.0),
            _ => t % 300 < 100 ? (10.0, 0.5) : (0.0, s == 0 ? 0.5 : 3.0),
        });

        var alarms = Alarms(values, 1, 2, surprise: true, CalmVolatile(0.02));
        output.WriteLine($"{name}: alarms at {string.Join(", ", alarms)}");
        Assert.DoesNotContain(alarms, a => a < At);
        Assert.Contains(alarms, a => a >= At && a < At + 500);
    }
}
