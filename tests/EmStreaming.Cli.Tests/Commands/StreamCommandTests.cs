using System.Globalization;
using System.Text;
using System.Text.Json;
using EmStreaming.Numerics;
using EmStreaming.Numerics.Gmm;
using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;

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

    /// <summary>3,000 rows of a two-regime series, then 3,000 of the same process with every mean 10 higher.</summary>
    private static DataMatrix JumpingSeries()
    {
        var before = TwoRegimeSeries();
        var after = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [10.0, 15.0], [1.0, 1.0], 2, 1, CovarianceType.Diag).Sample(3000, 12);
        return new DataMatrix([.. before.Values.ToArray(), .. after.Values.ToArray()], 6000, 1);
    }

    private static JsonElement FinalState(string output) =>
        JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    [Fact]
    public void Stream_HmmJump_DetectsTheDriftAndRefitsOntoTheNewMeans()
    {
        using var file = new CliRunner.TempFile(content: Csv(JumpingSeries()));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "hmm", "--states", "2", "--report-every", "1000");
        Assert.True(code == 0, error);
        var alarm = output.Split('\n').Single(l => l.StartsWith("drift detected at row ", StringComparison.Ordinal));
        Assert.InRange(int.Parse(alarm.Split(' ')[4].TrimEnd(':'), CultureInfo.InvariantCulture), 3001, 3100);

        var json = CliRunner.Run("stream", file.Path, "--model", "hmm", "--states", "2", "--report-every", "1000", "--json");
        var final = FinalState(json.Out);
        Assert.Equal(1, final.GetProperty("drifts").GetInt64());
        var means = final.GetProperty("means").EnumerateArray().Select(m => m[0].GetDouble()).Order().ToArray();
        Assert.Equal(10.0, means[0], 0.5);
        Assert.Equal(15.0, means[1], 0.5);
    }

    [Fact]
    public void Stream_HmmStationary_NoDrift()
    {
        using var file = new CliRunner.TempFile(content: Csv(TwoRegimeSeries()));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "hmm", "--states", "2", "--report-every", "1000", "--json");
        Assert.True(code == 0, error);
        Assert.All(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains("\"drifts\":0", line));
    }

    [Fact]
    public void Stream_HmmSaveThenResumeWhileRecoveringFromADrift_EqualsOneUninterruptedRun()
    {
        var rows = JumpingSeries();
        using var all = new CliRunner.TempFile(content: Csv(rows));
        var text = CliRunner.Run("stream", all.Path, "--model", "hmm", "--states", "2", "--report-every", "500");
        var alarm = int.Parse(text.Out.Split('\n').Single(l => l.StartsWith("drift detected", StringComparison.Ordinal)).Split(' ')[4].TrimEnd(':'), CultureInfo.InvariantCulture);

        // Cut 300 rows after the alarm: the post-drift rows collected so far, and the detector, must travel in the state.
        var cut = alarm + 300;
        using var a = new CliRunner.TempFile(content: Csv(new DataMatrix(rows.Values[..cut].ToArray(), cut, 1)));
        using var b = new CliRunner.TempFile(content: Csv(new DataMatrix(rows.Values[cut..].ToArray(), rows.Rows - cut, 1)));
        using var state = new CliRunner.TempFile(".bin");
        var whole = CliRunner.Run("stream", all.Path, "--model", "hmm", "--states", "2", "--report-every", "500", "--json");
        Assert.Equal(0, CliRunner.Run("stream", a.Path, "--model", "hmm", "--states", "2", "--json", "--save-state", state.Path).ExitCode);
        var resumed = CliRunner.Run("stream", b.Path, "--model", "hmm", "--resume-state", state.Path, "--report-every", "500", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        foreach (var field in new[] { "observations", "drifts", "transitions", "means", "covariances", "regimeProbabilities" })
        {
            Assert.Equal(FinalState(whole.Out).GetProperty(field).GetRawText(), FinalState(resumed.Out).GetProperty(field).GetRawText());
        }
    }

    [Fact]
    public void Stream_HmmResumeFromABareEstimatorState_StillLoads()
    {
        // States written before the HMM had a drift watch hold the estimator alone.
        var series = TwoRegimeSeries();
        using var file = new CliRunner.TempFile(content: Csv(series));
        using var state = new CliRunner.TempFile(".bin");
        var hmm = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2 }, 1);
        hmm.Update(series);
        File.WriteAllBytes(state.Path, hmm.SaveState());
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "hmm", "--resume-state", state.Path, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(6000, FinalState(output).GetProperty("observations").GetInt64());
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
    [InlineData("gmm", "json")]
    [InlineData("gmm", "text")]
    [InlineData("hmm", "json")]
    [InlineData("gmm", "auto")]
    [InlineData("hmm", "auto")]
    public void Stream_AnyChunkSize_SameOutput(string model, string mode)
    {
        // 2,345 rows, reports every 300 and batches of 64: batches end on report boundaries, straddle chunks, and the file
        // ends in a short batch and a short report.
        var data = model == "gmm" ? MixtureRows(2345, 21) : TwoRegimeSeries();
        using var file = new CliRunner.TempFile(content: Csv(data));
        var size = model == "gmm" ? "--components" : "--states";
        var outputs = new[] { "1", "7", "4096" }.Select(chunk =>
        {
            string[] args = mode == "auto"
                ? ["stream", file.Path, "--model", model, "--report-every", "300", "--batch-size", "64", "--chunk-rows", chunk, "--json"] // K chosen on the first rows
                : ["stream", file.Path, "--model", model, size, "2", "--report-every", "300", "--batch-size", "64", "--chunk-rows", chunk];
            var (code, output, error) = CliRunner.Run(mode == "json" ? [.. args, "--json"] : args);
            Assert.True(code == 0, error);
            return output;
        }).ToArray();
        Assert.True(outputs[0].Split('\n').Length > 8, outputs[0]);
        Assert.Equal(outputs[0], outputs[1]);
        Assert.Equal(outputs[0], outputs[2]);
    }

    [Fact]
    public void Stream_Gmm_EqualsTheEstimatorFedTheWholeFileInBatches()
    {
        var data = MixtureRows(3001, 8);
        using var file = new CliRunner.TempFile(content: Csv(data));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "-k", "2", "--report-every", "1000", "--batch-size", "64", "--chunk-rows", "5", "--json");
        Assert.True(code == 0, error);

        // The reference: the whole file in memory, cut into batches of 64 that never straddle a report.
        var estimator = OnlineGaussianMixture.Create(new OnlineGmmOptions { Components = 2 }, 2);
        for (var rows = 0; rows < data.Rows;)
        {
            var next = Math.Min(data.Rows, Math.Min(rows + 64, ((rows / 1000) + 1) * 1000));
            estimator.Update(data.Values.Slice(rows * 2, (next - rows) * 2));
            rows = next;
        }

        Assert.True(estimator.TryGetModel(out var model));
        using var last = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var means = last.RootElement.GetProperty("means").EnumerateArray().SelectMany(m => m.EnumerateArray().Select(e => e.GetDouble())).ToArray();
        Assert.Equal(model.Means.ToArray(), means);
        Assert.Equal(3001, last.RootElement.GetProperty("observations").GetInt64());
    }

    /// <summary>Three well separated spherical components in 2-D (sd 1, centres 8 apart).</summary>
    private static DataMatrix ThreeClusterRows(int n, ulong seed) =>
        GaussianMixture.Create([0.3, 0.3, 0.4], [0, 0, 8, 0, 4, 8], [1, 1, 1], 3, 2, CovarianceType.Spherical).Sample(n, seed);

    [Fact]
    public void Stream_GmmWithoutComponents_ChoosesKOnTheFirstRowsThenLearnsEveryRowOnce()
    {
        // 3,001 rows: the choice holds back the first 590 (K = 10 full in 2-D: 10 × 59 free parameters), which are then
        // learned first, exactly as a K = 3 estimator whose warm-up is those rows learns the file.
        var data = ThreeClusterRows(3001, 4);
        using var file = new CliRunner.TempFile(content: Csv(data));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--report-every", "1000", "--batch-size", "64", "--chunk-rows", "7", "--json");
        Assert.True(code == 0, error);
        var final = FinalState(output);
        var chosen = final.GetProperty("chosen");
        Assert.StartsWith("chose K=3, covariance=", chosen.GetProperty("why").GetString());
        Assert.Contains("on the first 590 rows", chosen.GetProperty("why").GetString());
        Assert.True(chosen.GetProperty("candidates").GetArrayLength() >= 3);
        var covariance = chosen.GetProperty("why").GetString()!.Split("covariance=")[1].Split(':')[0];
        Assert.Equal(3001, final.GetProperty("observations").GetInt64());

        var estimator = OnlineGaussianMixture.Create(
            new OnlineGmmOptions { Components = 3, Covariance = Enum.Parse<CovarianceType>(covariance, ignoreCase: true), WarmUpObservations = 590 }, 2);
        for (var rows = 0; rows < data.Rows;)
        {
            var next = Math.Min(data.Rows, Math.Min(rows + 64, ((rows / 1000) + 1) * 1000));
            estimator.Update(data.Values.Slice(rows * 2, (next - rows) * 2));
            rows = next;
        }

        Assert.True(estimator.TryGetModel(out var model));
        var means = final.GetProperty("means").EnumerateArray().SelectMany(m => m.EnumerateArray().Select(e => e.GetDouble())).ToArray();
        Assert.Equal(model.Means.ToArray(), means);

        // Every report but the first (its rows were the warm-up) scores its rows prequentially: about −ln(2π) − 1 = −2.84 each, plus ln w.
        var reports = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[..^1].Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([1000, 2000, 3000, 3001], reports.Select(r => r.GetProperty("rows").GetInt32()));
        Assert.All(reports[1..3], r => Assert.InRange(r.GetProperty("meanLogLikelihood").GetDouble(), -4.3, -3.6));
    }

    [Fact]
    public void Stream_GmmWithoutComponents_TextSaysWhatWasChosen_AndCovarianceGivenIsKept()
    {
        using var file = new CliRunner.TempFile(content: Csv(ThreeClusterRows(2000, 5)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--covariance", "diag");
        Assert.True(code == 0, error);
        Assert.StartsWith("model choice: chose K=3, covariance=diag: the lowest BIC", output);
        Assert.Contains("(K = 1..10 × diag; give --components to fix K)", output);
        Assert.Equal(3, output.Split('\n').Count(l => l.StartsWith("  component ", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A column with no value in the first 1,000 rows: the choice waits for it, as the estimator's warm-up does, and is made on
    /// the newest rows once that column has two values among them (it failed: "column 1 has no observed value"). A column
    /// that never has two values in any window is an error naming it.
    /// </summary>
    [Theory]
    [InlineData("gmm")]
    [InlineData("hmm")]
    public void Stream_WithoutK_AColumnObservedLate_ChoosesOnTheNewestRowsOnceItHasValues(string model)
    {
        var data = ThreeClusterRows(3000, 7);
        var values = data.Values.ToArray();
        for (var i = 0; i < 1000; i++)
        {
            values[(i * 2) + 1] = double.NaN;
        }

        using var file = new CliRunner.TempFile(content: Csv(new DataMatrix(values, 3000, 2)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", model, "--report-every", "1000", "--json");
        Assert.True(code == 0, error);
        var final = FinalState(output);
        var n = model == "gmm" ? 590 : 1000;
        Assert.Contains($"on rows {1003 - n}..1002 (the first {n} had a column with fewer than two observed values)", final.GetProperty("chosen").GetProperty("why").GetString());
        Assert.Equal(3000, final.GetProperty("observations").GetInt64());
        Assert.Equal(3, final.GetProperty("means").GetArrayLength());

        var once = new StringBuilder("a,b\n1,2\n");
        for (var i = 0; i < 2000; i++)
        {
            once.Append(CultureInfo.InvariantCulture, $"{i % 7},\n");
        }

        using var never = new CliRunner.TempFile(content: once.ToString());
        var (code2, _, error2) = CliRunner.Run("stream", never.Path, "--model", model);
        Assert.Equal(2, code2);
        Assert.Contains($"column 'b' has fewer than two observed values in any {n} consecutive rows of the first 2001, so no model can be chosen", error2);
    }

    /// <summary>By default the most likely regime is reported at every row; --regime-confidence 0.8 changes it less often.</summary>
    [Fact]
    public void Stream_HmmRegimeConfidence_HalfIsTheArgmax_TheDefaultChangesLessOften()
    {
        var truth = GaussianHmm.Create([0.5, 0.5], [0.98, 0.02, 0.02, 0.98], [0.0, 0.0], [1.0, 9.0], 2, 1, CovarianceType.Diag);
        using var file = new CliRunner.TempFile(content: Csv(truth.Sample(4000, 6)));
        int Changes(params string[] extra)
        {
            var (code, output, error) = CliRunner.Run(["stream", file.Path, "--model", "hmm", "--states", "2", "--covariance", "diag", "--report-every", "1", "--json", .. extra]);
            Assert.True(code == 0, error);
            var regimes = new List<int>();
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[..^1])
            {
                var report = JsonDocument.Parse(line).RootElement;
                if (!report.TryGetProperty("regime", out var regime))
                {
                    continue; // warming up
                }

                regimes.Add(regime.GetInt32());
                if (extra.Length == 0)
                {
                    var p = report.GetProperty("regimeProbabilities").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    Assert.Equal(p[1] > p[0] ? 1 : 0, regimes[^1]);
                }
            }

            Assert.True(regimes.Count > 2_900, $"{regimes.Count} reports with a regime");
            return regimes.Zip(regimes.Skip(1)).Count(z => z.First != z.Second);
        }

        var recommended = Changes("--regime-confidence", "0.8");
        var byDefault = Changes();
        Assert.True(recommended < 0.8 * byDefault, $"{recommended} changes at 0.8, {byDefault} by default");

        Assert.Contains("--regime-confidence applies to --model hmm", CliRunner.Run("stream", file.Path, "-k", "2", "--regime-confidence", "0.9").Error);
        Assert.Contains("--regime-confidence must be at least 0.5 and below 1", CliRunner.Run("stream", file.Path, "--model", "hmm", "--regime-confidence", "0.3").Error);
    }

    [Fact]
    public void Stream_HmmWithoutStates_ChoosesTheStatesOnTheFirstThousandRows()
    {
        // Three sticky regimes at 0, 5 and 10: a mixture of 3 in the values, and a chain.
        var truth = GaussianHmm.Create(
            [0.4, 0.3, 0.3], [0.97, 0.02, 0.01, 0.02, 0.97, 0.01, 0.01, 0.02, 0.97], [0.0, 5.0, 10.0], [1.0, 1.0, 1.0], 3, 1, CovarianceType.Diag);
        using var file = new CliRunner.TempFile(content: Csv(truth.Sample(4000, 6)));
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", "hmm", "--report-every", "1000", "--json");
        Assert.True(code == 0, error);
        var final = FinalState(output);
        Assert.StartsWith("chose 3 state(s), covariance=", final.GetProperty("chosen").GetProperty("why").GetString());
        Assert.Contains("on the first 1000 rows", final.GetProperty("chosen").GetProperty("why").GetString());
        Assert.Equal(4000, final.GetProperty("observations").GetInt64());
        var means = final.GetProperty("means").EnumerateArray().Select(m => m[0].GetDouble()).Order().ToArray();
        Assert.Equal(0.0, means[0], 0.3);
        Assert.Equal(5.0, means[1], 0.3);
        Assert.Equal(10.0, means[2], 0.3);
        // The rows after the first fit are scored one step ahead: each report after the first has a likelihood.
        var second = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]).RootElement;
        Assert.InRange(second.GetProperty("meanLogLikelihood").GetDouble(), -1.8, -1.2);
    }

    [Fact]
    public void Stream_BadValueMidFile_ReportsTheRowsBeforeItThenNamesRowAndColumn()
    {
        var text = Csv(MixtureRows(2500, 4)) + "1.5,abc\n0,0\n";
        using var file = new CliRunner.TempFile(content: text);
        var runs = new[] { "1", "4096" }.Select(chunk => CliRunner.Run("stream", file.Path, "-k", "2", "--report-every", "1000", "--json", "--chunk-rows", chunk)).ToArray();
        foreach (var (code, _, error) in runs)
        {
            Assert.Equal(2, code);
            Assert.Contains("row 2501 (line 2502), column 'x1': 'abc' is not a number", error);
        }

        // The reports of rows 1,000 and 2,000 came before the error, whatever the chunk size; no final state after it.
        Assert.Equal(runs[0].Out, runs[1].Out);
        var lines = runs[0].Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.DoesNotContain("final", runs[0].Out);
    }

    [Fact]
    public void Stream_LabelColumn_IsLeftOutAsFitLeavesItOut()
    {
        // A text column is told apart from a numeric one only at the end of the file: stream scans it first, then streams.
        var rows = Csv(MixtureRows(2000, 6)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var labelled = string.Join('\n', rows.Select((line, i) => i == 0 ? $"kind,{line}" : $"{(i % 2 == 0 ? "a" : "b")},{line}")) + "\n";
        using var file = new CliRunner.TempFile(content: labelled);
        using var plain = new CliRunner.TempFile(content: Csv(MixtureRows(2000, 6)));
        var withLabel = CliRunner.Run("stream", file.Path, "-k", "2", "--report-every", "500", "--json");
        var without = CliRunner.Run("stream", plain.Path, "-k", "2", "--report-every", "500", "--json");
        Assert.True(withLabel.ExitCode == 0, withLabel.Error);
        Assert.Equal(without.Out, withLabel.Out);
        using var last = JsonDocument.Parse(withLabel.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.Equal(2, last.RootElement.GetProperty("means")[0].GetArrayLength());
    }

    [Fact]
    public void Stream_ResumeStateOfAnotherWidth_ExitsTwoBeforeLearning()
    {
        using var narrow = new CliRunner.TempFile(content: "x\n" + string.Concat(Enumerable.Range(0, 300).Select(i => $"{i % 10}\n")));
        using var wide = new CliRunner.TempFile(content: Csv(MixtureRows(300, 2)));
        using var state = new CliRunner.TempFile(".bin");
        Assert.Equal(0, CliRunner.Run("stream", narrow.Path, "-k", "2", "--save-state", state.Path).ExitCode);
        var (code, output, error) = CliRunner.Run("stream", wide.Path, "--resume-state", state.Path);
        Assert.Equal(2, code);
        Assert.Contains("the state was learned on 1 column(s) but 2 are selected", error);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("--chunk-rows", "0", "--chunk-rows")]
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

    [Theory]
    [InlineData("gmm", "--components", "5", "--components 5 does not match the 2 components")]
    [InlineData("gmm", "--covariance", "diag", "--covariance diag does not match")]
    [InlineData("gmm", "--half-life", "100", "--half-life: a stream resumed with --resume-state keeps the step size")]
    [InlineData("hmm", "--states", "3", "--states 3 does not match the 2 states")]
    [InlineData("hmm", "--alpha", "0.7", "--alpha: a stream resumed with --resume-state keeps the step size")]
    public void Stream_ResumeWithAFlagTheStateContradicts_ExitsTwoNamingIt(string model, string option, string value, string expected)
    {
        // These flags used to be ignored on a resume: a run asked for K = 5 went on with the saved K = 2 and exited 0.
        var rows = model == "gmm" ? MixtureRows(600, 4) : TwoRegimeSeries();
        using var file = new CliRunner.TempFile(content: Csv(rows));
        using var state = new CliRunner.TempFile(".bin");
        var count = model == "gmm" ? "--components" : "--states";
        Assert.Equal(0, CliRunner.Run("stream", file.Path, "--model", model, count, "2", "--save-state", state.Path).ExitCode);
        var (code, output, error) = CliRunner.Run("stream", file.Path, "--model", model, "--resume-state", state.Path, option, value);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Equal(string.Empty, output);
    }
}
