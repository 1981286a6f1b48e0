using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Online;

namespace EmStreaming.Numerics.Tests.Online;

public sealed class OnlineAdoptTests
{
    private const int D = 2;

    private static (OnlineGaussianMixture Online, double[] Window) Warm(int rows = 3_000, int windowRows = 800)
    {
        var truth = SyntheticMixture.ThreeComponents2D();
        var data = truth.Sample(rows, seed: 21);
        var online = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, Seed = 4, RelativeRegCovar = 0, DetectDrift = false, StepSize = StepSizeSchedule.Decaying(0.6, averagingStart: 1_000) }, D);
        for (var i = 0; i < rows; i += 64)
        {
            online.Update(data.AsSpan(i * D, Math.Min(64, rows - i) * D));
        }

        return (online, data.AsSpan((rows - windowRows) * D).ToArray());
    }

    private static GaussianMixture Refit(double[] window, int iterations, GaussianMixture? warmStart = null, ulong seed = 9) =>
        GaussianMixtureEM.Fit(
            new DataMatrix(window, window.Length / D, D),
            new GmmFitOptions { Components = 3, Seed = seed, RelativeRegCovar = 0, ShortRuns = 1, MaxIterations = iterations, Tolerance = 1e-12, WarmStart = warmStart, MaxDegreeOfParallelism = 1 }).Model;

    [Fact]
    public void Adopt_AnyModel_ParametersAreOneEmStepOfTheWindowFromThatModel()
    {
        var (online, window) = Warm();
        // In the estimator's labels: Adopt keeps them (Adopt_CandidateInAnotherOrder_KeepsTheCurrentLabels).
        var candidate = Refit(window, iterations: 3, seed: 17).AlignTo(online.Model);
        // Reference written with the batch EM: one iteration warm-started at the candidate is its E-step then M-step.
        var oneStep = Refit(window, iterations: 1, warmStart: candidate);
        var moved = 0.0;
        for (var i = 0; i < candidate.Means.Length; i++)
        {
            moved = Math.Max(moved, Math.Abs(candidate.Means[i] - oneStep.Means[i]));
        }

        Assert.True(moved > 1e-6, $"the candidate is already a fixed point (moved {moved}): adopting it unchanged would pass too");

        online.Adopt(candidate, window);

        var adopted = online.Model;
        AssertClose(oneStep.Weights, adopted.Weights, 1e-9);
        AssertClose(oneStep.Means, adopted.Means, 1e-9);
        AssertClose(oneStep.Covariances, adopted.Covariances, 1e-9);
    }

    [Fact]
    public void Adopt_BatchFixedPoint_ParametersStayAtTheFixedPointWithin1e6()
    {
        var (online, window) = Warm();
        var converged = Refit(window, iterations: 500).AlignTo(online.Model);

        online.Adopt(converged, window);

        AssertClose(converged.Weights, online.Model.Weights, 1e-6);
        AssertClose(converged.Means, online.Model.Means, 1e-6);
        AssertClose(converged.Covariances, online.Model.Covariances, 1e-6);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 0 })]
    [InlineData(new[] { 2, 1, 0 })]
    [InlineData(new[] { 0, 2, 1 })]
    public void Adopt_CandidateInAnotherOrder_KeepsTheCurrentLabels(int[] order)
    {
        // A refit's EM numbers its components in its own order; without matching, component k of the model would become
        // whichever cluster the refit happened to call k, and every label a client holds would change meaning.
        var (online, window) = Warm();
        var inOrder = Refit(window, iterations: 500).AlignTo(online.Model);
        var before = online.Model.Means.ToArray();
        for (var k = 0; k < 3; k++)
        {
            // The warm model and the refit agree on where the clusters are (else this test would not say which label is right).
            Assert.True(Math.Abs(before[2 * k] - inOrder.Means[2 * k]) < 0.3 && Math.Abs(before[(2 * k) + 1] - inOrder.Means[(2 * k) + 1]) < 0.3);
        }

        online.Adopt(LabelMatching.Reorder(inOrder, order), window);

        AssertClose(inOrder.Weights, online.Model.Weights, 1e-6);
        AssertClose(inOrder.Means, online.Model.Means, 1e-6);
        AssertClose(inOrder.Covariances, online.Model.Covariances, 1e-6);
    }

    [Fact]
    public void Adopt_Always_KeepsCountersScheduleAndRandomState()
    {
        var (online, window) = Warm();
        var (observations, batches, reseeds) = (online.Observations, online.Batches, online.Reseeds);

        online.Adopt(Refit(window, iterations: 50), window);

        Assert.Equal(observations, online.Observations);
        Assert.Equal(batches, online.Batches);
        Assert.Equal(reseeds, online.Reseeds);
    }

    [Fact]
    public void Adopt_ThenSaveRestore_ContinuesBitForBit()
    {
        var (online, window) = Warm();
        online.Adopt(Refit(window, iterations: 50), window);
        var restored = OnlineGaussianMixture.Restore(online.SaveState());
        var next = SyntheticMixture.ThreeComponents2D().Sample(640, seed: 33);

        for (var i = 0; i < 640; i += 64)
        {
            online.Update(next.AsSpan(i * D, 64 * D));
            restored.Update(next.AsSpan(i * D, 64 * D));
        }

        Assert.Equal(online.SaveState(), restored.SaveState());
    }

    [Fact]
    public void Adopt_WindowWithMissingEntries_AdoptsWithFiniteParameters()
    {
        var (online, window) = Warm();
        window[1] = double.NaN;
        window[10] = double.NaN;

        online.Adopt(Refit(Warm().Window, iterations: 50), window);

        Assert.All(online.Model.Means.ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(online.Model.Covariances.ToArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void Adopt_InvalidInput_ThrowsAndLeavesTheEstimatorUnchanged()
    {
        var (online, window) = Warm();
        var before = online.SaveState();
        var model = Refit(window, iterations: 10);
        var noObserved = (double[])window.Clone();
        noObserved[6] = double.NaN;
        noObserved[7] = double.NaN;

        Assert.Throws<ArgumentException>(() => online.Adopt(model, noObserved));
        Assert.Throws<ArgumentException>(() => online.Adopt(model, window.AsSpan(0, 3)));
        Assert.Throws<ArgumentException>(() => online.Adopt(model, []));
        var otherShape = GaussianMixtureEM.Fit(new DataMatrix(window, window.Length / D, D), new GmmFitOptions { Components = 2, Seed = 1 }).Model;
        Assert.Throws<ArgumentException>(() => online.Adopt(otherShape, window));
        Assert.Throws<ArgumentNullException>(() => online.Adopt(null!, window));
        Assert.Equal(before, online.SaveState());
    }

    [Fact]
    public void Adopt_WarmingUp_ThrowsInvalidOperation()
    {
        var (_, window) = Warm();
        var fresh = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 3, Seed = 4 }, D);

        Assert.Throws<InvalidOperationException>(() => fresh.Adopt(Refit(window, iterations: 10), window));
    }

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1.0, Math.Abs(expected[i])), $"entry {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
