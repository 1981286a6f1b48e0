using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

/// <summary>
/// States saved before the statistics had a centre per component (EOGM and EHMM version 2, data/state-v2, written by commit
/// 14657bf) restore with the parameters they were saved with and keep learning: a stored model survives the upgrade.
/// </summary>
public sealed class StateCompatibilityTests
{
    [Fact]
    public void OnlineGmm_Version2State_RestoresAndKeepsLearning()
    {
        var restored = OnlineGaussianMixture.Restore(Load("online-gmm.b64"));
        Assert.Equal([0.04233497499864236, -0.0040776938397668605, 5.972885071607549, -3.9738792574481647], restored.Model.Means.ToArray());

        var rows = Rows(3_000, 43);
        for (var i = 0; i < 3_000; i += 50)
        {
            restored.Update(rows.AsSpan(i * 2, 100));
        }

        AssertNearTruth(restored.Model.Means, restored.Model.FullCovariance(0), restored.Model.FullCovariance(1));
        var again = OnlineGaussianMixture.Restore(restored.SaveState());
        Assert.Equal(restored.SaveState(), again.SaveState());
    }

    [Fact]
    public void OnlineHmm_Version2State_RestoresAndKeepsLearning()
    {
        var restored = OnlineGaussianHmm.RestoreState(Load("online-hmm.b64"));
        Assert.Equal([0.0422463449401711, -0.004509231651094514, 5.972582154514422, -3.973898650822131], restored.CurrentModel!.Means.ToArray());

        var rows = Rows(3_000, 43);
        for (var t = 0; t < 3_000; t++)
        {
            restored.Update(rows.AsSpan(t * 2, 2));
        }

        var model = restored.CurrentModel!;
        AssertNearTruth(model.Means, model.FullCovariance(0), model.FullCovariance(1));
        var again = OnlineGaussianHmm.RestoreState(restored.SaveState());
        Assert.Equal(restored.SaveState(), again.SaveState());
    }

    [Fact]
    public void OnlineGmm_Version3StatePartWayThroughTheDetectorsFirstRows_RestoresAndKeepsLearning()
    {
        // Saved 6 rows after the warm-up fit (data/state-v3), before the detector kept its first losses after a reset.
        var restored = OnlineGaussianMixture.Restore(Load("online-gmm.b64", "state-v3"));
        Assert.Equal([0.08234041696233056, -0.06275616499710758, 5.984022152063701, -3.9503066552127617], restored.Model.Means.ToArray());

        var rows = Rows(3_000, 43);
        for (var i = 0; i < 3_000; i += 50)
        {
            restored.Update(rows.AsSpan(i * 2, 100));
        }

        AssertNearTruth(restored.Model.Means, restored.Model.FullCovariance(0), restored.Model.FullCovariance(1));
        Assert.Equal(0, restored.DriftsDetected);
        var again = OnlineGaussianMixture.Restore(restored.SaveState());
        Assert.Equal(restored.SaveState(), again.SaveState());
    }

    [Fact]
    public void PageHinkley_Version1StatePartWayThroughItsFirstRows_RestoresAndKeepsDetecting()
    {
        // Five losses (3, 3.25, …, 4) learned, saved as version 1 (data/state-v3).
        var restored = PageHinkley.Restore(Load("page-hinkley.b64", "state-v3"));
        Assert.Equal(5, restored.Rows);
        var rng = new Random(5);
        for (var t = 0; t < 2_000; t++)
        {
            Assert.False(restored.Add(3.5 + (0.3 * (rng.NextDouble() - 0.5))));
        }

        Assert.Equal(restored.Save(), PageHinkley.Restore(restored.Save()).Save());
        var alarmAt = Enumerable.Range(1, 100).First(t => restored.Add(10));
        Assert.InRange(alarmAt, 1, 20);
    }

    /// <summary>The generator the saved states learned from: two clusters alternating every 37 rows (an LCG and Box–Muller).</summary>
    internal static double[] Rows(int n, ulong seed)
    {
        var s = seed;
        double U()
        {
            s = (s * 6364136223846793005UL) + 1442695040888963407UL;
            return ((s >> 11) + 0.5) / 9007199254740992.0;
        }

        var x = new double[n * 2];
        for (var t = 0; t < n; t++)
        {
            var k = (t / 37) % 2;
            var z0 = Math.Sqrt(-2 * Math.Log(U())) * Math.Cos(2 * Math.PI * U());
            var z1 = Math.Sqrt(-2 * Math.Log(U())) * Math.Cos(2 * Math.PI * U());
            x[2 * t] = (k * 6.0) + z0;
            x[(2 * t) + 1] = (k * -4.0) + (0.5 * z1);
        }

        return x;
    }

    private static void AssertNearTruth(ReadOnlySpan<double> means, double[] cov0, double[] cov1)
    {
        var first = means[0] < 3 ? 0 : 1;
        var (near, far) = first == 0 ? (cov0, cov1) : (cov1, cov0);
        Assert.InRange(means[first * 2], -0.2, 0.2);
        Assert.InRange(means[((1 - first) * 2) + 1], -4.1, -3.9);
        Assert.InRange(near[0], 0.8, 1.25);
        Assert.InRange(far[3], 0.2, 0.31);
    }

    private static byte[] Load(string file, string folder = "state-v2") =>
        Convert.FromBase64String(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", folder, file)));
}
