using System.Globalization;
using System.Text;
using System.Text.Json;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;

namespace EmStreaming.Cli.Tests.Commands;

public sealed class StreamCommandTests
{
    private static string Csv(DataMatrix data)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Join(',', Enumerable.Range(0, data.Columns).Select(j => $"x{j}")));
        for (var i = 0; i < data.Rows; i++)
        {
            text.AppendLine(string.Join(',', data.Row(i).ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }

        return text.ToString();
    }

    private static DataMatrix MixtureRows(int n, ulong seed)
    {
        var truth = GaussianMixture.Create([0.5, 0.5], [0, 0, 6, 6], [1, 1], 2, 2, CovarianceType.Spherical);
        return truth.Sample(n, seed);
    }

    private static DataMatrix TwoRegimeSeries()
    {
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [0.0, 5.0], [1.0, 1.0], 2, 1, CovarianceType.Diag);
        return truth.Sample(3000, 11);
    }

    [Fact]
    public void Stream_GmmJson_PrintsOneLinePerReportAndTheFinalState()
    {
        using var file = new CliRunner.TempFile(content: Csv(MixtureRows(5000, 3)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "gmm", "--components", "2", "--report-every", "1000", "--json");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        using var last = JsonDocument.Parse(lines[^1]);
        Assert.True(last.RootElement.GetProperty("final").GetBoolean());
        Assert.Equal(5000, last.RootElement.GetProperty("observations").GetInt64());
        using var report = JsonDocument.Parse(lines[4]);
        Assert.Equal(5000, report.RootElement.GetProperty("rows").GetInt32());
        // Two well separated spherical unit components in 2-D: log p ≈ -ln(2π) - 1 - ln 2 ≈ -3.53 per row.
        Assert.InRange(report.RootElement.GetProperty("meanLogLikelihood").GetDouble(), -3.75, -3.3);
        var means = report.RootElement.GetProperty("means").EnumerateArray()
            .Select(m => m.EnumerateArray().Select(e => e.GetDouble()).ToArray()).OrderBy(m => m[0]).ToArray();
        Assert.Equal(0.0, means[0][0], 0.2);
        Assert.Equal(6.0, means[1][1], 0.2);
    }

    [Fact]
    public void Stream_SaveThenResume_EqualsOneUninterruptedRun()
    {
        var rows = MixtureRows(4000, 5);
        var first = new DataMatrix(rows.Values[..(2000 * 2)].ToArray(), 2000, 2);
        var second = new DataMatrix(rows.Values[(2000 * 2)..].ToArray(), 2000, 2);
        using var all = new CliRunner.TempFile(content: Csv(rows));
        using var a = new CliRunner.TempFile(content: Csv(first));
        using var b = new CliRunner.TempFile(content: Csv(second));
        using var state = new CliRunner.TempFile(".bin");
        var whole = CliRunner.Run("stream", all.Path, "-k", "2", "--report-every", "500", "--json");
        Assert.Equal(0, CliRunner.Run("stream", a.Path, "-k", "2", "--report-every", "500", "--json", "--save-state", state.Path).ExitCode);
        var resumed = CliRunner.Run("stream", b.Path, "--resume-state", state.Path, "--report-every", "500", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        static JsonElement Final(string output) => JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(Final(whole.Out).GetProperty("means").GetRawText(), Final(resumed.Out).GetProperty("means").GetRawText());
        Assert.Equal(Final(whole.Out).GetProperty("covariances").GetRawText(), Final(resumed.Out).GetProperty("covariances").GetRawText());
    }

    [Fact]
    public void Stream_HmmJson_ReportsRegimesAndTransitions()
    {
        using var file = new CliRunner.TempFile(content: Csv(TwoRegimeSeries()));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "hmm", "--states", "2", "--report-every", "1000", "--json");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        using var doc = JsonDocument.Parse(lines[2]);
        var root = doc.RootElement;
        foreach (var field in new[] { "rows", "meanLogLikelihood", "transitions", "means", "covariances", "regimeProbabilities", "regime" })
        {
            Assert.True(root.TryGetProperty(field, out _), $"missing {field}");
        }

        var p = root.GetProperty("regimeProbabilities").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(1.0, p.Sum(), 1e-9);
        var stay = root.GetProperty("transitions").EnumerateArray().Select((row, i) => row[i].GetDouble()).ToArray();
        Assert.All(stay, s => Assert.InRange(s, 0.9, 1.0));
    }

    [Fact]
    public void FitHmm_Viterbi_WritesOneStatePerRow()
    {
        using var file = new CliRunner.TempFile(content: Csv(TwoRegimeSeries()));
        using var path = new CliRunner.TempFile();
        var (code, output, error) = CliRunner.Run("fit", file.Path, "--model", "hmm", "--states", "2", "--json", "--viterbi", path.Path);
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        foreach (var field in new[] { "meanLogLikelihood", "bic", "startProbabilities", "transitions", "means", "covariances", "iterations", "converged" })
        {
            Assert.True(doc.RootElement.TryGetProperty(field, out _), $"missing {field}");
        }

        var lines = File.ReadAllLines(path.Path);
        Assert.Equal("state", lines[0]);
        Assert.Equal(3001, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Contains(l, new[] { "0", "1" }));
    }

    [Theory]
    [InlineData("--alpha", "0.4", "--alpha")]
    [InlineData("--half-life", "0", "--half-life")]
    [InlineData("--batch-size", "0", "--batch-size")]
    public void Stream_BadSchedule_ExitsTwo(string option, string value, string expected)
    {
        using var file = new CliRunner.TempFile(content: Csv(MixtureRows(100, 1)));
        var (code, _, error) = CliRunner.Run("stream", file.Path, "-k", "2", option, value);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }
}
