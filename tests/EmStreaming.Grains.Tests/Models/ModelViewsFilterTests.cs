using EmStreaming.Grains.Models;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Grains.Tests.Models;

/// <summary><c>POST …/filter</c> reports each row's regime by the live filter's rule: the most likely one, or with the model's hysteresis.</summary>
public sealed class ModelViewsFilterTests
{
    [Fact]
    public void Filter_Regimes_FollowTheLiveRule_AndChangeLessOftenThanTheArgmax()
    {
        var hmm = GaussianHmm.Create([0.5, 0.5], [0.99, 0.01, 0.01, 0.99], [0.0, 0.0], [1.0, 9.0], 2, 1, CovarianceType.Diag);
        var rows = hmm.Sample(5_000, 8);
        var result = ModelViews.Filter(hmm, rows, RegimeTracking.Recommended);
        var plain = ModelViews.Filter(hmm, rows);

        int changes = 0, argmaxChanges = 0;
        for (var i = 0; i < rows.Rows; i++)
        {
            var p = result.Probabilities[i];
            Assert.Equal(RegimeTracking.Next(i == 0 ? -1 : result.Regimes[i - 1], p, RegimeTracking.Recommended), result.Regimes[i]);
            Assert.Equal(p[1] > p[0] ? 1 : 0, plain.Regimes[i]);
            changes += i > 0 && result.Regimes[i] != result.Regimes[i - 1] ? 1 : 0;
            var previous = result.Probabilities[Math.Max(i - 1, 0)];
            argmaxChanges += i > 0 && (p[1] > p[0]) != (previous[1] > previous[0]) ? 1 : 0;
        }

        Assert.True(changes < 0.7 * argmaxChanges, $"{changes} regime changes, {argmaxChanges} of the argmax");
    }
}
