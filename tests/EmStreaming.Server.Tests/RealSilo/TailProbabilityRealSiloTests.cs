using System.Text.Json;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.RealSilo;

/// <summary>
/// <c>tailProbability</c> end to end through the real model grains: predict (gmm) and filter (hmm, each row under its
/// one-step-ahead regime prediction) return one per row, small for a row far from every component or regime.
/// </summary>
public sealed class TailProbabilityRealSiloTests(RealSiloFactory factory) : IClassFixture<RealSiloFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task WarmAsync(string id, string kind, int dimension, int batches)
    {
        await Http.CreateAsync(_client, id, kind, dimension);
        for (var batch = 0; batch < batches; batch++)
        {
            // Small batches: this factory's body limit is 8 KB.
            await Http.FeedAsync(_client, id, 100, dimension, seed: batch);
        }

        for (var attempt = 0; attempt < 300; attempt++)
        {
            var status = (await (await _client.GetAsync($"/v1/models/{id}")).ReadJsonAsync()).GetProperty("status");
            if (!status.GetProperty("warmingUp").GetBoolean() && status.GetProperty("pendingObservations").GetInt64() == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{id} did not finish warming up");
    }

    private static double[] Tails(JsonElement json) => [.. json.GetProperty("tailProbability").EnumerateArray().Select(t => t.GetDouble())];

    [Fact]
    public async Task Predict_Gmm_TailPerRow_TinyBetweenTheClusters()
    {
        // Clusters at 0 and 8, 1 wide: (4, 4) is 14 standard deviations from both; 4 alone in one column is too.
        await WarmAsync("real:tail-gmm", "gmm", 2, 6);
        var tails = Tails(await (await _client.PostAsync("/v1/models/real:tail-gmm/predict", Http.Json("""{"rows":[[0.1,-0.1],[8,8.2],[4,4],[null,4]]}"""))).ReadJsonAsync());
        Assert.Equal(4, tails.Length);
        Assert.True(tails[0] > 0.01 && tails[1] > 0.01, $"in the clusters: {tails[0]}, {tails[1]}");
        Assert.True(tails[2] < 1e-9 && tails[3] < 1e-4, $"between them: {tails[2]}, {tails[3]}");
    }

    [Fact]
    public async Task Filter_Hmm_TailPerRowUnderItsPrediction_TinyBetweenTheRegimes()
    {
        // Regimes at 0 and 8 that switch every 50 rows: a row at 8 after rows at 0 is a switch (a few percent), one at 4 fits
        // neither regime.
        await WarmAsync("real:tail-hmm", "hmm", 1, 12);
        var json = await (await _client.PostAsync("/v1/models/real:tail-hmm/filter", Http.Json("""{"rows":[[0.1],[0.2],[8.1],[4]]}"""))).ReadJsonAsync();
        var tails = Tails(json);
        Assert.Equal(4, tails.Length);
        Assert.True(tails[1] > 0.01 && tails[2] > 1e-3, $"a calm row and a switch: {tails[1]}, {tails[2]}");
        Assert.True(tails[3] < 1e-9, $"between the regimes: {tails[3]}");

        // Each row's log-density knowing the rows before it: their mean is the answer's meanLogLikelihood, and the row between
        // the regimes scores far below the others.
        var logDensity = json.GetProperty("logDensity").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(4, logDensity.Length);
        Assert.Equal(json.GetProperty("meanLogLikelihood").GetDouble(), logDensity.Average(), 1e-9);
        Assert.True(logDensity[3] < logDensity[1] - 5, string.Join(", ", logDensity));
    }
}
