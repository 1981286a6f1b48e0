using System.Globalization;
using System.Text;
using System.Text.Json;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;

namespace EmStreaming.Cli.Tests.Commands;

/// <summary>Issue 11: defaults that stay right (model choice, Baum–Welch convergence, drift recovery) through the CLI.</summary>
public sealed class DefaultsTests
{
    private static readonly GaussianMixture Before = GaussianMixture.Create(
        [0.5, 0.3, 0.2], [0, 0, 4, 4, -4, 3], [1, 0.3, 0.3, 0.5, 0.6, -0.2, -0.2, 0.8, 0.4, 0, 0, 1.2], 3, 2, CovarianceType.Full);

    private static readonly GaussianMixture After = GaussianMixture.Create(
        [0.5, 0.3, 0.2], [6, -5, 10, -1, 2, -2], [1, 0.3, 0.3, 0.5, 0.6, -0.2, -0.2, 0.8, 0.4, 0, 0, 1.2], 3, 2, CovarianceType.Full);

    private static string Csv(params DataMatrix[] parts)
    {
        var text = new StringBuilder("x0,x1\n");
        foreach (var data in parts)
        {
            for (var i = 0; i < data.Rows; i++)
            {
                text.Append(data[i, 0].ToString("R", CultureInfo.InvariantCulture)).Append(',').Append(data[i, 1].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        return text.ToString();
    }

    private static double[] Numbers(JsonElement e) => e.ValueKind == JsonValueKind.Array
        ? e.EnumerateArray().SelectMany(Numbers).ToArray()
        : [e.GetDouble()];

    [Fact]
    public void Stream_AllMeansJumpHalfLife2000_Within005NatsOfNewTruth5000RowsLater()
    {
        using var file = new CliRunner.TempFile(content: Csv(Before.Sample(20_000, 1), After.Sample(5_000, 2)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--components", "3", "--half-life", "2000", "--report-every", "5000", "--json");
        Assert.True(code == 0, error);
        using var final = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var root = final.RootElement;
        Assert.True(root.GetProperty("drifts").GetInt64() >= 1);
        var model = GaussianMixture.Create(
            Numbers(root.GetProperty("weights")), Numbers(root.GetProperty("means")), Numbers(root.GetProperty("covariances")), 3, 2, CovarianceType.Full);
        var held = After.Sample(20_000, 3);
        var gap = After.Score(held) - model.Score(held);
        Assert.True(gap < 0.05, $"gap {gap:F4} nats/row 5,000 rows after the jump");
    }

    [Fact]
    public void Stream_TextJump_SaysDriftDetected()
    {
        using var file = new CliRunner.TempFile(content: Csv(Before.Sample(3_000, 1), After.Sample(1_000, 2)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--components", "3", "--half-life", "2000");
        Assert.True(code == 0, error);
        Assert.Contains("drift detected at row 30", output);
    }

    [Fact]
    public void Fit_NoComponents_ChoosesKAndCovarianceByBicAndSaysWhy()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var chosen = json.RootElement.GetProperty("chosen");
        Assert.Equal("bic", chosen.GetProperty("by").GetString());
        var candidates = chosen.GetProperty("candidates").EnumerateArray().ToArray();
        Assert.Equal(4, candidates.Select(c => c.GetProperty("covariance").GetString()).Distinct().Count());
        var lowest = candidates.MinBy(c => c.GetProperty("bic").GetDouble());
        Assert.Equal(lowest.GetProperty("k").GetInt32(), json.RootElement.GetProperty("k").GetInt32());
        Assert.Equal(lowest.GetProperty("covariance").GetString(), json.RootElement.GetProperty("covariance").GetString());
        Assert.Equal(lowest.GetProperty("bic").GetDouble(), json.RootElement.GetProperty("bic").GetDouble(), 1e-6);
        Assert.Contains("lowest BIC", chosen.GetProperty("why").GetString());
    }

    [Fact]
    public void Fit_NoComponentsCovarianceGiven_OnlyThatTypeTried()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--covariance", "diag");
        Assert.True(code == 0, error);
        Assert.Contains("model choice: chose K=", output);
        Assert.Contains("× diag;", output);
        Assert.Contains("covariance=diag", output);
    }

    [Fact]
    public void Impute_NoComponents_ChoosesAModelAndSaysWhyOnStderr()
    {
        var lines = File.ReadAllLines(CliRunner.DataFile("iris.csv"));
        var edited = lines.Select((l, i) => i > 0 && i % 7 == 0 ? string.Join(',', l.Split(',').Select((f, c) => c == (i % 4) ? "" : f)) : l).ToArray();
        using var input = new CliRunner.TempFile(content: string.Join('\n', edited) + "\n");
        using var output = new CliRunner.TempFile();
        var (code, _, error) = CliRunner.Run("impute", input.Path, "--output", output.Path);
        Assert.True(code == 0, error);
        Assert.Contains("model choice: chose K=", error);
        Assert.Contains("hidden", error);
        var result = File.ReadAllLines(output.Path);
        Assert.Equal(lines.Length, result.Length);
        Assert.DoesNotContain(result.Skip(1), l => l.Split(',').Any(string.IsNullOrEmpty));
    }

    [Fact]
    public void FitHmm_DaxDefaults_ReachesStatsmodelsMaximum()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("dax-returns.csv"), "--model", "hmm", "--states", "2", "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        // statsmodels 0.13.5 MarkovRegression, switching variance: 3.25035 nats/row (the HMM also fits start probabilities).
        Assert.True(json.RootElement.GetProperty("meanLogLikelihood").GetDouble() >= 3.25035 - 2e-5, output);
    }
}
