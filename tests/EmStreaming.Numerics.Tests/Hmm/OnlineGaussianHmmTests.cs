using EmStreaming.Numerics.Hmm;
using EmStreaming.Numerics.Online;
using static EmStreaming.Numerics.Tests.Hmm.HmmTestData;

namespace EmStreaming.Numerics.Tests.Hmm;

public sealed class OnlineGaussianHmmTests
{
    [Fact]
    public void Update_StickyStream100k_RecoversTransitionsMeansAndFiltersAbove97Percent()
    {
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = K }, D);
        var regimes = new int[N];
        for (var t = 0; t < N; t++)
        {
            online.Update(Data.Row(t));
            regimes[t] = online.Regime;
        }

        Assert.Equal(OnlineHmmPhase.Online, online.Phase);
        var model = online.Model!;
        var perm = MatchByMeans(model.Means, TrueMeans, K, D);
        for (var i = 0; i < K; i++)
        {
            for (var j = 0; j < K; j++)
            {
                Assert.Equal(TrueTransitions[(i * K) + j], model.Transitions[(perm[i] * K) + perm[j]], 0.02);
            }

            for (var c = 0; c < D; c++)
            {
                Assert.Equal(TrueMeans[(i * D) + c], model.Means[(perm[i] * D) + c], 0.05);
            }
        }

        // Filtered (not smoothed) regimes, from the first observation that had parameters: the buffer's end.
        var from = OnlineHmmOptions.DefaultBufferSize - 1;
        var accuracy = Accuracy(regimes.AsSpan(from), States.AsSpan(from), perm);
        Assert.True(accuracy >= 0.97, $"filtered accuracy {accuracy}");
        Assert.Equal(N - OnlineHmmOptions.DefaultBufferSize, online.PrequentialCount);
        Assert.True(double.IsFinite(online.PrequentialLogLikelihoodSum));
    }

    [Fact]
    public void Update_DuringBurnIn_RegimeProbabilitiesMoveWhileParametersStayFrozen()
    {
        var options = new OnlineHmmOptions { States = K, InitialModel = Truth, BurnIn = 50 };
        var online = new OnlineGaussianHmm(options, D);
        var seen = new HashSet<int>();
        for (var t = 0; t < 50; t++)
        {
            online.Update(Data.Row(t));
            Assert.Equal(OnlineHmmPhase.BurnIn, online.Phase);
            Assert.Equal(Truth.Means.ToArray(), online.CurrentModel!.Means.ToArray());
            Assert.Equal(1.0, online.RegimeProbabilities.ToArray().Sum(), 1e-12);
            seen.Add(online.Regime);
        }

        // The filter must equal the batch filter under the same (frozen) parameters.
        var filtered = new double[50 * K];
        Truth.Filter(new DataMatrix(Data.Values[..(50 * D)].ToArray(), 50, D), filtered);
        for (var k = 0; k < K; k++)
        {
            Assert.Equal(filtered[(49 * K) + k], online.RegimeProbabilities[k], 1e-12);
        }

        online.Update(Data.Row(50));
        Assert.Equal(OnlineHmmPhase.Online, online.Phase);
        Assert.NotEqual(Truth.Means.ToArray(), online.CurrentModel!.Means.ToArray());
    }

    [Fact]
    public void Update_RunLength_CountsConsecutiveObservationsOfTheCurrentRegime()
    {
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = K, InitialModel = Truth, BurnIn = 100_000 }, D);
        var previous = -1;
        long run = 0;
        for (var t = 0; t < 2000; t++)
        {
            online.Update(Data.Row(t));
            run = online.Regime == previous ? run + 1 : 1;
            previous = online.Regime;
            Assert.Equal(run, online.RunLength);
        }
    }

    [Theory]
    [InlineData(500)]
    [InlineData(1200)]
    [InlineData(7000)]
    public void RestoreState_SavedMidStream_FutureIsBitIdentical(int saveAfter)
    {
        // 500: still buffering; 1200: burn-in over, M-steps running; 7000: Polyak–Ruppert averaging active.
        var options = new OnlineHmmOptions { States = K, BurnIn = 1100 };
        var a = new OnlineGaussianHmm(options, D);
        for (var t = 0; t < saveAfter; t++)
        {
            a.Update(Data.Row(t));
        }

        var bytes = a.SaveState();
        var b = OnlineGaussianHmm.RestoreState(bytes);
        Assert.Equal(bytes, b.SaveState());
        for (var t = saveAfter; t < saveAfter + 2500; t++)
        {
            var la = a.Update(Data.Row(t));
            var lb = b.Update(Data.Row(t));
            Assert.Equal(BitConverter.DoubleToInt64Bits(la), BitConverter.DoubleToInt64Bits(lb));
            Assert.Equal(a.Regime, b.Regime);
            Assert.Equal(a.RunLength, b.RunLength);
        }

        Assert.Equal(a.SaveState(), b.SaveState());
        Assert.Equal(a.Model!.Means.ToArray(), b.Model!.Means.ToArray());
    }

    [Fact]
    public void RestoreState_CorruptedByte_ThrowsInvalidData()
    {
        var a = new OnlineGaussianHmm(new OnlineHmmOptions { States = K, InitialModel = Truth }, D);
        a.Update(Data.Row(0));
        var bytes = a.SaveState();
        bytes[20] ^= 1;
        Assert.Throws<InvalidDataException>(() => OnlineGaussianHmm.RestoreState(bytes));
    }

    [Fact]
    public void Update_MissingEntriesAndHalfLife_StaysFiniteAndTracksRegimes()
    {
        var options = new OnlineHmmOptions { States = K, StepSize = StepSizeSchedule.FromHalfLife(2000), BufferSize = 1000 };
        var online = new OnlineGaussianHmm(options, D);
        var row = new double[D];
        var rng = new Random(3);
        var hits = 0;
        var counted = 0;
        var regimes = new int[20_000];
        for (var t = 0; t < 20_000; t++)
        {
            Data.Row(t).CopyTo(row);
            if (rng.NextDouble() < 0.1)
            {
                row[rng.Next(D)] = double.NaN;
            }

            var lp = online.Update(row);
            Assert.True(t < 1000 ? double.IsNaN(lp) : double.IsFinite(lp));
            regimes[t] = online.Regime;
        }

        var model = online.Model!;
        GaussianHmmEMTests.AssertFinite(model);
        var perm = MatchByMeans(model.Means, TrueMeans, K, D);
        for (var t = 1000; t < 20_000; t++)
        {
            counted++;
            hits += regimes[t] == perm[States[t]] ? 1 : 0;
        }

        Assert.True((double)hits / counted >= 0.95, $"accuracy {(double)hits / counted}");
        Assert.Throws<ArgumentException>(() => online.Update([double.NaN, double.NaN]));
    }

    [Fact]
    public void StartNewSequence_NextPredictionUsesStartProbabilities()
    {
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = K, InitialModel = Truth, BurnIn = 1000 }, D);
        for (var t = 0; t < 10; t++)
        {
            online.Update(Data.Row(t));
        }

        online.StartNewSequence();
        var lp = online.Update(Data.Row(10));
        var single = new DataMatrix(Data.Row(10).ToArray(), 1, D);
        Assert.Equal(Truth.LogLikelihood(single), lp, 1e-12);
    }

    [Fact]
    public void TryInitializeFromBuffer_StreamShorterThanBuffer_FitsWhatWasBuffered()
    {
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = K }, D);
        Assert.False(online.TryInitializeFromBuffer());
        for (var t = 0; t < 400; t++)
        {
            online.Update(Data.Row(t));
        }

        Assert.Equal(OnlineHmmPhase.Buffering, online.Phase);
        Assert.Null(online.Model);
        Assert.Equal(-1, online.Regime);
        Assert.True(online.TryInitializeFromBuffer());
        Assert.Equal(OnlineHmmPhase.BurnIn, online.Phase);
        Assert.Equal(400, online.StatisticsCount);
        GaussianHmmEMTests.AssertFinite(online.Model!);
        Assert.InRange(online.Regime, 0, K - 1);
        Assert.False(online.TryInitializeFromBuffer());
    }

    /// <summary>Two sticky regimes: column 0 near 1000 / 1010, column 1 near 500 / 520 (unit variances).</summary>
    private static readonly GaussianHmm TwoColumns =
        GaussianHmm.Create([0.5, 0.5], [0.95, 0.05, 0.05, 0.95], [1000, 500, 1010, 520], [1, 0, 0, 1, 1, 0, 0, 1], 2, 2, CovarianceType.Full);

    [Fact]
    public void Update_BufferWithAColumnNeverObserved_WaitsKeepingTheNewestRowsThenFitsOnceObserved()
    {
        // Column 1 is missing from the first 130 rows. The buffer fit used to run at row 50 anyway and invent μ = 0, σ² = 1 for
        // it (every later density, score and imputation used them). Now the full buffer slides and the fit waits for two
        // observed values of the column; every row is counted once and the buffer replayed once.
        var rows = TwoColumns.Sample(200, 7);
        var options = new OnlineHmmOptions { States = 2, BufferSize = 50, BurnIn = 10 };
        var online = new OnlineGaussianHmm(options, 2);
        var x = new double[2];
        for (var t = 0; t < 130; t++)
        {
            x[0] = rows[t, 0];
            x[1] = double.NaN;
            Assert.True(double.IsNaN(online.Update(x)));
        }

        Assert.False(online.HasModel);
        Assert.Null(online.Model);
        Assert.Equal(1, online.WaitingForColumn);
        Assert.Equal(1, online.WarmUpRemaining);
        Assert.Equal(130, online.Observations);
        Assert.False(online.TryInitializeFromBuffer());

        // One observed value gives no spread: still waiting.
        online.Update(rows.Row(130));
        Assert.False(online.HasModel);
        Assert.Equal(1, online.WaitingForColumn);

        // The state of a waiting estimator round-trips (it used to be refused as "buffered out of range").
        var restored = OnlineGaussianHmm.RestoreState(online.SaveState());
        Assert.Equal(1, restored.WaitingForColumn);

        online.Update(rows.Row(131));
        restored.Update(rows.Row(131));

        Assert.True(online.HasModel);
        Assert.Equal(-1, online.WaitingForColumn);
        Assert.Equal(0, online.WarmUpRemaining);
        Assert.Equal(132, online.Observations);
        Assert.Equal(50, online.StatisticsCount);
        Assert.Equal(online.SaveState(), restored.SaveState());
        var model = online.Model!;
        GaussianHmmEMTests.AssertFinite(model);
        for (var s = 0; s < 2; s++)
        {
            Assert.InRange(model.Means[(s * 2) + 1], 490, 530);
            Assert.InRange(model.Means[s * 2], 995, 1015);
        }
    }

    [Theory]
    [InlineData(new[] { 2, 0, 1 })]
    [InlineData(new[] { 1, 0, 2 })]
    public void Adopt_StatesInAnotherOrder_KeepsTheLabelsAndTheRegime(int[] order)
    {
        // A refit's Baum–Welch numbers its states in its own order: without matching, "regime 1" would name another regime
        // after every adoption, and the live regime would jump although nothing happened in the data.
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = K, InitialModel = Truth, BurnIn = 100_000 }, D);
        for (var t = 0; t < 2_000; t++)
        {
            online.Update(Data.Row(t));
        }

        var before = online.Model!;
        var regime = online.Regime;
        var window = new DataMatrix(Data.Values.Slice(1_000 * D, 1_000 * D).ToArray(), 1_000, D);

        online.Adopt(LabelMatching.Reorder(before, order), window);

        var after = online.Model!;
        for (var i = 0; i < K * D; i++)
        {
            Assert.Equal(before.Means[i], after.Means[i], 1e-12);
        }

        for (var i = 0; i < K * K; i++)
        {
            Assert.Equal(before.Transitions[i], after.Transitions[i], 1e-12);
        }

        Assert.Equal(regime, online.Regime);
    }

    [Fact]
    public void Adopt_RegimeConfidence_TheReportedRegimeContinuesByItsRule()
    {
        // Calm at 0, the other regime at 3. After 50 rows at 0 a row at 2.3 makes the other regime the more likely one, but
        // below 0.8: with hysteresis the reported regime stays, and an adoption must not turn it into the plain argmax.
        var model = GaussianHmm.Create([0.5, 0.5], [0.9, 0.1, 0.1, 0.9], [0.0, 3.0], [1.0, 1.0], 2, 1, CovarianceType.Full);
        var online = new OnlineGaussianHmm(new OnlineHmmOptions { States = 2, InitialModel = model, BurnIn = 100_000 }, 1) { RegimeConfidence = 0.8 };
        var rows = Enumerable.Repeat(0.0, 50).Append(2.3).ToArray();
        foreach (var x in rows)
        {
            online.Update([x]);
        }

        var window = new DataMatrix(rows, rows.Length, 1);
        var probabilities = new double[rows.Length * 2];
        model.Filter(window, probabilities);
        Assert.InRange(probabilities[^1], 0.5, 0.8); // the other regime leads, below the bar
        Assert.Equal(0, online.Regime);

        online.Adopt(model, window);

        Assert.Equal(0, online.Regime);
    }
}
