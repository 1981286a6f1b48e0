using System.Text.Json;

namespace EmStreaming.Cli.Tests.Commands;

public sealed class FitCommandTests
{
    [Fact]
    public void Fit_FaithfulTwoComponentsJson_PrintsContractFields()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--model", "gmm", "--components", "2", "--json");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var root = doc.RootElement;
        foreach (var field in new[] { "model", "n", "d", "k", "covariance", "converged", "iterations", "meanLogLikelihood", "bic", "aic", "weights", "means", "covariances", "fitSeconds" })
        {
            Assert.True(root.TryGetProperty(field, out _), $"missing field {field}");
        }

        Assert.Equal("gmm", root.GetProperty("model").GetString());
        Assert.Equal(272, root.GetProperty("n").GetInt32());
        Assert.Equal(2, root.GetProperty("d").GetInt32());
        Assert.Equal(2, root.GetProperty("k").GetInt32());
        Assert.Equal("full", root.GetProperty("covariance").GetString());
        // Reference: scikit-learn 1.2 and R mclust 6.0 give -4.1554 per sample and BIC 2322.19.
        Assert.Equal(-4.1554, root.GetProperty("meanLogLikelihood").GetDouble(), 1e-4);
        Assert.Equal(2322.19, root.GetProperty("bic").GetDouble(), 0.01);
        Assert.Equal(2, root.GetProperty("weights").GetArrayLength());
        Assert.Equal(2, root.GetProperty("covariances")[0].GetArrayLength());
    }

    [Fact]
    public void Fit_FaithfulText_SaysTheIterationsContinueTheShortStarts()
    {
        // On a small file the best short start has often converged already: the bare "converged: yes after 1 iterations"
        // read as if EM had hardly run.
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--components", "2");
        Assert.True(code == 0, error);
        Assert.Matches(@"converged: yes after \d+ iterations? \(from the best of 8 short starts\) in", output);
        Assert.DoesNotContain("after 1 iterations", output);
    }

    [Fact]
    public void FitHmm_OneIteration_SaysOneIteration()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("dax-returns.csv"), "--model", "hmm", "--states", "2", "--max-iter", "1");
        Assert.True(code == 0, error);
        Assert.Contains("after 1 iteration in", output);
    }

    [Fact]
    public void Fit_SelectK_ChoosesTwoOnFaithful()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--select-k", "1..6", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(2, doc.RootElement.GetProperty("k").GetInt32());
        Assert.Equal(6, doc.RootElement.GetProperty("selection").GetArrayLength());
    }

    /// <summary>Ten rows of one Gaussian: fits with components on one or two rows (BIC falling with K) are passed over, and marked.</summary>
    [Fact]
    public void Fit_SelectK_TenRows_PassesOverComponentsOnTooFewRowsAndSaysSo()
    {
        var file = Path.Combine(Path.GetTempPath(), $"emstream-tenrows-{Guid.NewGuid():N}.csv");
        File.WriteAllText(file, "a,b\n0.3,-1.2\n-0.8,0.4\n1.1,0.9\n-0.2,-0.5\n0.7,1.6\n-1.4,0.1\n0.05,-0.9\n1.9,-0.3\n-0.6,1.2\n0.4,0.2\n");
        try
        {
            var (code, output, error) = CliRunner.Run("fit", file, "--select-k", "1..6", "--json");
            Assert.True(code == 0, error);
            using var doc = JsonDocument.Parse(output);
            var selection = doc.RootElement.GetProperty("selection");
            Assert.Equal(1, doc.RootElement.GetProperty("k").GetInt32());
            Assert.Equal(0, selection[0].GetProperty("underdetermined").GetInt32());
            Assert.True(selection[5].GetProperty("underdetermined").GetInt32() > 0);

            var (code2, text, error2) = CliRunner.Run("fit", file, "--select-k", "1..6");
            Assert.True(code2 == 0, error2);
            Assert.Contains("passed over", text);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Fit_IrisDefaultColumns_LeavesOutSpecies()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("iris.csv"), "--components", "3", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(4, doc.RootElement.GetProperty("d").GetInt32());
    }

    [Fact]
    public void Fit_SameSeed_GivesIdenticalJsonParameters()
    {
        string Parameters()
        {
            var (_, output, _) = CliRunner.Run("fit", CliRunner.DataFile("iris.csv"), "-k", "3", "--seed", "7", "--n-init", "3", "--json");
            using var doc = JsonDocument.Parse(output);
            return doc.RootElement.GetProperty("means").GetRawText() + doc.RootElement.GetProperty("covariances").GetRawText();
        }

        Assert.Equal(Parameters(), Parameters());
    }

    [Theory]
    [InlineData("--covariance", "banana", "--covariance")]
    [InlineData("--columns", "nope", "'nope'")]
    [InlineData("--columns", ",,,", "names no column")] // used every column
    [InlineData("--columns", "", "names no column")]
    [InlineData("--columns", "eruptions,,waiting", "name 2 of 'eruptions,,waiting' is empty")] // dropped the empty name
    [InlineData("--n-init", "0", "--n-init")]
    [InlineData("--n-init", "1001", "--n-init must be between 1 and 1,000, not 1001")]
    [InlineData("--select-k", "3..1", "--select-k")]
    public void Fit_BadOption_ExitsTwoNamingIt(string option, string value, string expected)
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--components", "2", option, value);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public void Fit_NonNumericValue_ExitsTwoNamingRowAndColumn()
    {
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n3,4\n5,x\n");
        var (code, _, error) = CliRunner.Run("fit", file.Path, "--components", "1");
        Assert.Equal(2, code);
        Assert.Contains("row 3", error);
        Assert.Contains("'b'", error);
    }

    /// <summary>Flags are checked before the file is opened: the bad flag is reported even when the file does not exist.</summary>
    [Theory]
    [InlineData("fit", "--max-iter", "0", "--max-iter")]
    [InlineData("fit", "--tol", "-1", "--tol")]
    [InlineData("fit", "--covariance", "banana", "--covariance")]
    [InlineData("impute", "--n-init", "0", "--n-init")]
    [InlineData("stream", "--batch-size", "0", "--batch-size")]
    // Files to be written: a missing directory was found only after the fit (or the whole stream, its reports printed).
    [InlineData("fit", "--save", "/no/such/dir/model.json", "--save: cannot write /no/such/dir/model.json: the directory /no/such/dir does not exist")]
    [InlineData("impute", "--output", "/no/such/dir/out.csv", "--output: cannot write")]
    [InlineData("stream", "--save-state", "/no/such/dir/state.bin", "--save-state: cannot write")]
    [InlineData("stream", "--save-state", "/tmp", "--save-state: /tmp is a directory")]
    public void Command_BadFlag_FailsBeforeReadingTheFile(string command, string option, string value, string expected)
    {
        var (code, output, error) = CliRunner.Run(command, "/no/such/file.csv", "--components", "2", option, value);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("not found", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public void Fit_MissingFile_ExitsTwo()
    {
        var (code, _, error) = CliRunner.Run("fit", "/no/such/file.csv", "--components", "2");
        Assert.Equal(2, code);
        Assert.Contains("not found", error);
    }

    [Fact]
    public void FitSaveThenPredict_LabelsMatchResponsibilities()
    {
        using var model = new CliRunner.TempFile(".json");
        var (code, _, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "-k", "2", "--save", model.Path, "--json");
        Assert.True(code == 0, error);
        var (pcode, output, perror) = CliRunner.Run("predict", model.Path, CliRunner.DataFile("faithful.csv"), "--json");
        Assert.True(pcode == 0, perror);
        using var doc = JsonDocument.Parse(output);
        var labels = doc.RootElement.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var probabilities = doc.RootElement.GetProperty("probabilities").EnumerateArray().ToArray();
        var logDensity = doc.RootElement.GetProperty("logDensity").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(272, labels.Length);
        Assert.Equal(-1130.264, logDensity.Sum(), 0.01);
        for (var i = 0; i < labels.Length; i++)
        {
            var p = probabilities[i].EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(1.0, p.Sum(), 1e-12);
            Assert.Equal(Array.IndexOf(p, p.Max()), labels[i]);
        }

        // Two clusters of eruptions: short (about 2 min) and long (about 4.3 min).
        Assert.Equal(2, labels.Distinct().Count());

        // The model's own rows: tail probabilities spread over (0, 1], few of them small (at most about α below α).
        var tail = doc.RootElement.GetProperty("tailProbability").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(272, tail.Length);
        Assert.All(tail, t => Assert.InRange(t, 0.0, 1.0));
        Assert.InRange(tail.Count(t => t < 0.01), 0, 8);
        Assert.InRange(tail.Average(), 0.4, 0.7);
    }

    [Fact]
    public void Predict_CsvOutput_HasHeaderAndOneLinePerRow()
    {
        using var model = new CliRunner.TempFile(".json");
        Assert.Equal(0, CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "-k", "2", "--save", model.Path).ExitCode);
        var (code, output, _) = CliRunner.Run("predict", model.Path, CliRunner.DataFile("faithful.csv"));
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("label,p0,p1,logDensity,tailProbability", lines[0].Trim());
        Assert.Equal(273, lines.Length);
    }

    [Fact]
    public void Predict_NotAModelFile_ExitsTwo()
    {
        using var bogus = new CliRunner.TempFile(".json", "{\"hello\":1}");
        var (code, _, error) = CliRunner.Run("predict", bogus.Path, CliRunner.DataFile("faithful.csv"));
        Assert.Equal(2, code);
        Assert.Contains("not an EmStreaming model file", error);
    }

    [Theory]
    // Sizes whose K × d × d overflows an int: a stack trace (exit 134) before the lengths were checked.
    [InlineData("\"components\":100000,\"dimension\":100000,", "1 weights for 100000 components")]
    [InlineData("\"components\":2,\"dimension\":2,", "1 weights for 2 components")]
    public void Predict_ModelFileSizesDisagreeWithItsArrays_ExitsTwoNamingTheFile(string sizes, string expected)
    {
        var text = "{\"format\":\"emstreaming-model\",\"version\":1,\"kind\":\"gmm\",\"covariance\":\"full\"," + sizes
            + "\"columns\":" + (sizes.Contains("100000", StringComparison.Ordinal) ? "[" + string.Join(',', Enumerable.Range(0, 100000).Select(i => $"\"c{i}\"")) + "]" : "[\"eruptions\",\"waiting\"]")
            + ",\"weights\":[1],\"means\":[[1]],\"covarianceValues\":[1]}";
        using var model = new CliRunner.TempFile(".json", text);
        var (code, output, error) = CliRunner.Run("predict", model.Path, CliRunner.DataFile("faithful.csv"));
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {model.Path}", error);
        Assert.Contains(expected, error);
        Assert.Equal(string.Empty, output);
    }

    /// <summary>
    /// fit --model hmm --save writes an HMM model file (it was refused); predict follows its regimes through a file taken as one
    /// sequence: filtered probabilities, each row's regime by the live rule, and each row's log-density knowing the rows
    /// before it, which sum to the fit's log-likelihood on the same rows.
    /// </summary>
    [Fact]
    public void FitHmmSaveThenPredict_FollowsTheRegimesThroughTheSequence()
    {
        using var model = new CliRunner.TempFile(".json");
        var dax = CliRunner.DataFile("dax-returns.csv");
        var (code, fitted, error) = CliRunner.Run("fit", dax, "--model", "hmm", "--states", "2", "--save", model.Path, "--json");
        Assert.True(code == 0, error);
        using var fit = JsonDocument.Parse(fitted);
        var n = fit.RootElement.GetProperty("n").GetInt32();
        var total = fit.RootElement.GetProperty("meanLogLikelihood").GetDouble() * n;

        var (pcode, output, perror) = CliRunner.Run("predict", model.Path, dax, "--json");
        Assert.True(pcode == 0, perror);
        using var doc = JsonDocument.Parse(output);
        var regimes = doc.RootElement.GetProperty("regimes").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var probabilities = doc.RootElement.GetProperty("probabilities").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
        var logDensity = doc.RootElement.GetProperty("logDensity").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var tail = doc.RootElement.GetProperty("tailProbability").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(n, regimes.Length);
        Assert.Equal(total, logDensity.Sum(), 1e-6 * Math.Abs(total));
        Assert.All(probabilities, p => Assert.Equal(1.0, p.Sum(), 1e-9));
        Assert.All(tail, t => Assert.InRange(t, 0.0, 1.0));
        Assert.Equal(2, regimes.Distinct().Count());
        Assert.All(probabilities.Zip(regimes), z => Assert.Equal(z.First[1] > z.First[0] ? 1 : 0, z.Second)); // by default the most likely one

        // 0.8: the live rule with hysteresis; CSV: regime, p0, p1, logDensity, tailProbability.
        var (ccode, csv, cerror) = CliRunner.Run("predict", model.Path, dax, "--regime-confidence", "0.8");
        Assert.True(ccode == 0, cerror);
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("regime,p0,p1,logDensity,tailProbability", lines[0]);
        Assert.Equal(n + 1, lines.Length);
        var previous = -1;
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',').Select(c => double.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            previous = EmStreaming.Numerics.Hmm.RegimeTracking.Next(previous, cells[1..3], EmStreaming.Numerics.Hmm.RegimeTracking.Recommended);
            Assert.Equal(previous, (int)cells[0]);
        }

        // A mixture's file takes no regime confidence; a malformed HMM file is named.
        using var gmm = new CliRunner.TempFile(".json");
        Assert.Equal(0, CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "-k", "2", "--save", gmm.Path).ExitCode);
        var (gcode, _, gerror) = CliRunner.Run("predict", gmm.Path, CliRunner.DataFile("faithful.csv"), "--regime-confidence", "0.9");
        Assert.Equal(2, gcode);
        Assert.Contains("--regime-confidence applies to an hmm model file", gerror);
        using var broken = new CliRunner.TempFile(".json", File.ReadAllText(model.Path).Replace("\"states\": 2", "\"states\": 3", StringComparison.Ordinal));
        var (bcode, _, berror) = CliRunner.Run("predict", broken.Path, dax);
        Assert.Equal(2, bcode);
        Assert.Contains($"{broken.Path}: 2 start probabilities for 3 states", berror);
    }

    [Fact]
    public void Predict_ModelFileNamesAColumnTwice_SaysSoOfTheModelFileNotOfColumns()
    {
        var text = "{\"format\":\"emstreaming-model\",\"version\":1,\"kind\":\"gmm\",\"covariance\":\"diag\",\"components\":1,\"dimension\":2,"
            + "\"columns\":[\"waiting\",\"waiting\"],\"weights\":[1],\"means\":[[1,2]],\"covarianceValues\":[1,1]}";
        using var model = new CliRunner.TempFile(".json", text);
        var (code, _, error) = CliRunner.Run("predict", model.Path, CliRunner.DataFile("faithful.csv"));
        Assert.Equal(2, code);
        Assert.Contains($"{model.Path}: the model file names column 'waiting' twice", error);
        Assert.DoesNotContain("--columns", error);
    }

    [Fact]
    public void Fit_NoNumericColumn_NamesTheFile()
    {
        using var file = new CliRunner.TempFile(content: "name,colour\nx,red\ny,blue\n");
        var (code, _, error) = CliRunner.Run("fit", file.Path, "-k", "1");
        Assert.Equal(2, code);
        Assert.Contains($"{file.Path}: ", error);
        Assert.Contains("no numeric column", error);
    }

    [Theory]
    [InlineData("faithful.csv")]
    [InlineData("dax-returns.csv")]
    public void FitHmm_ReadableSummary_PrintsEachStatesMean(string data)
    {
        // The means were printed as "[...]" inside Spectre markup, which took them for a style: every text-mode HMM fit crashed.
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile(data), "--model", "hmm", "--states", "2", "--max-iter", "5");
        Assert.True(code == 0, error);
        Assert.Contains("state 0: start ", output);
        Assert.Contains("state 1: start ", output);
        Assert.Contains(", mean [", output);
    }

    [Fact]
    public void FitHmm_ViterbiIntoAMissingDirectory_FailsBeforeTheFit()
    {
        var (code, output, error) = CliRunner.Run("fit", "/no/such/file.csv", "--model", "hmm", "--states", "2", "--viterbi", "/no/such/dir/path.csv");
        Assert.Equal(2, code);
        Assert.Contains("--viterbi: cannot write /no/such/dir/path.csv", error);
        Assert.Equal(string.Empty, output);
    }

    /// <summary>Without --states (it was an error) the number of states is chosen by BIC: two on faithful, as for DAX returns.</summary>
    [Fact]
    public void FitHmm_NoStates_ChoosesThemByBicAndSaysWhy()
    {
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--model", "hmm", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(2, doc.RootElement.GetProperty("k").GetInt32());
        var chosen = doc.RootElement.GetProperty("chosen");
        Assert.Equal("bic", chosen.GetProperty("by").GetString());
        Assert.Contains("chose 2 state(s)", chosen.GetProperty("why").GetString());
        Assert.True(chosen.GetProperty("candidates").GetArrayLength() >= 3);

        var (code2, text, error2) = CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "--model", "hmm");
        Assert.True(code2 == 0, error2);
        Assert.Contains("model choice: chose 2 state(s)", text);
    }

    /// <summary>
    /// Without --states and --covariance the covariance type is chosen with the states, as a mixture's is: 8 independent
    /// columns in two regimes give diag (each candidate reported with its type); --covariance full keeps full.
    /// </summary>
    [Fact]
    public void FitHmm_NoStatesNoCovariance_ChoosesFullOrDiagToo()
    {
        var text = new System.Text.StringBuilder("a,b,c,d,e,f,g,h\n");
        var rng = new Random(4);
        var regime = 0;
        for (var t = 0; t < 1_500; t++)
        {
            regime = rng.NextDouble() < 0.02 ? 1 - regime : regime;
            text.AppendLine(string.Join(',', Enumerable.Range(0, 8).Select(j =>
                ((regime * 5.0 * (j % 2)) + Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())).ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        }

        using var file = new CliRunner.TempFile(content: text.ToString());
        var (code, output, error) = CliRunner.Run("fit", file.Path, "--model", "hmm", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("diag", doc.RootElement.GetProperty("covariance").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("k").GetInt32());
        var chosen = doc.RootElement.GetProperty("chosen");
        Assert.StartsWith("chose 2 state(s), covariance=diag: the lowest BIC", chosen.GetProperty("why").GetString());
        Assert.Contains("K = 1..8 × full/diag", chosen.GetProperty("why").GetString());
        var types = chosen.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("covariance").GetString()).Distinct().Order().ToArray();
        Assert.Equal(new[] { "diag", "full" }, types!);

        var (code2, output2, error2) = CliRunner.Run("fit", file.Path, "--model", "hmm", "--covariance", "full", "--json");
        Assert.True(code2 == 0, error2);
        using var doc2 = JsonDocument.Parse(output2);
        Assert.Equal("full", doc2.RootElement.GetProperty("covariance").GetString());
        Assert.All(doc2.RootElement.GetProperty("chosen").GetProperty("candidates").EnumerateArray(), c => Assert.False(c.TryGetProperty("covariance", out _)));
    }

    [Theory]
    [InlineData("fit", "-k", "1")]
    [InlineData("fit", "--model", "hmm")]
    [InlineData("stream", "-k", "1")]
    public void Command_ValueBeyondTheModelsRange_ExitsTwoNamingRowAndColumn(string command, string option, string value)
    {
        // 1e200 is finite, but its square is not: fit died with "could not build the provisional model" and a stack trace.
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n3,1e200\n5,6\n");
        string[] args = option == "--model" ? [command, file.Path, option, value, "--states", "1"] : [command, file.Path, option, value];
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Contains("row 2 (line 3), column 'b': '1e200' is beyond ±1e100", error);
    }

    [Fact]
    public void FitHmm_ColumnWithNoObservedValue_LeftOutByDefaultAndRefusedWhenNamed()
    {
        // Column c is empty in every row. By default it is left out (not a numeric column); named with --columns, the fit used
        // to report μ = 0, σ² = 1 for it as if estimated. It is now refused naming the column, as the mixture fit refuses it.
        var lines = Enumerable.Range(0, 60).Select(i => FormattableString.Invariant($"{(i / 20 % 2 == 0 ? 0 : 10) + (0.1 * (i % 7))},{(i % 5) - 2},"));
        using var file = new CliRunner.TempFile(content: "a,b,c\n" + string.Join("\n", lines) + "\n");

        var (code, output, error) = CliRunner.Run("fit", file.Path, "--model", "hmm", "--states", "2", "--json");
        Assert.True(code == 0, error);
        Assert.Contains("\"d\":2", output.Replace(" ", string.Empty, StringComparison.Ordinal));

        (code, output, error) = CliRunner.Run("fit", file.Path, "--model", "hmm", "--states", "2", "--columns", "a,c", "--json");
        Assert.Equal(2, code);
        Assert.Contains("column 1 has no observed value", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public void Predict_ModelColumnMissingFromTheFile_NamesTheFile()
    {
        using var model = new CliRunner.TempFile(".json");
        Assert.Equal(0, CliRunner.Run("fit", CliRunner.DataFile("faithful.csv"), "-k", "2", "--save", model.Path).ExitCode);
        using var other = new CliRunner.TempFile(content: "eruptions\n1.5\n");
        var (code, _, error) = CliRunner.Run("predict", model.Path, other.Path);
        Assert.Equal(2, code);
        Assert.Contains($"{other.Path}: column 'waiting' is not in the file; its columns are: eruptions", error);
    }

    [Theory]
    [InlineData("stream", "--model", "gmm", "--components", "2")]
    [InlineData("impute", "--components", "2")]
    public void OtherCommands_EmptyColumnName_ExitTwoLikeFit(params string[] command)
    {
        var (code, output, error) = CliRunner.Run([command[0], CliRunner.DataFile("faithful.csv"), .. command[1..], "--columns", "eruptions,"]);
        Assert.Equal(2, code);
        Assert.Contains("is empty", error);
        Assert.Equal(string.Empty, output);
    }

    [Theory]
    [InlineData("--select-k", "1..10", "fewer than the 10 components --select-k 1..10 asks for")]
    [InlineData("--components", "9", "fewer than the 9 components --components 9 asks for")]
    public void Fit_MoreComponentsThanRows_ExitsTwoBeforeFittingNamingTheFile(string option, string value, string expected)
    {
        using var file = new CliRunner.TempFile(content: "a,b\n1,2\n2,3\n3,1\n4,4\n");
        var (code, output, error) = CliRunner.Run("fit", file.Path, option, value, "--json");
        Assert.Equal(2, code);
        Assert.Contains($"{file.Path}: 4 rows, {expected}", error);
        Assert.Equal(string.Empty, output);
    }

    [Theory]
    [InlineData("--components", "2")]
    [InlineData("--components", "4")]
    [InlineData("--select-k", "1..6")]
    public void Fit_ValuesWhoseSquaredDistancesOverflow_Fits(string option, string value)
    {
        // 300 rows at a scale of 1e-60 and a reading of 1e100: every k-means++ potential was +∞, no trial beat it, and the
        // seeding took row −1: "unexpected failure (a bug: please report it): IndexOutOfRangeException".
        var (code, output, error) = CliRunner.Run("fit", CliRunner.DataFile("extreme-scale.csv"), "--model", "gmm", option, value, "--json");

        Assert.True(code == 0, error);
        Assert.Contains("\"meanLogLikelihood\"", output);
    }
}

