using EmStreaming.Grains.Models;
using EmStreaming.Grains.Tests.TestSupport;

namespace EmStreaming.Grains.Tests.Models;

public sealed class ModelCoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void SaveRestore_MidStream_ContinuesBitForBit()
    {
        var definition = ModelHarness.Gmm(window: 300);
        var a = new ModelCore(definition, 1);
        for (var i = 0; i < 12; i++)
        {
            a.Apply(Obs(1, 0, ModelHarness.Rows(100, 2, i)), "m");
        }

        var b = ModelCore.Restore(definition, a.Save());
        for (var i = 12; i < 20; i++)
        {
            a.Apply(Obs(1, 0, ModelHarness.Rows(100, 2, i)), "m");
            b.Apply(Obs(1, 0, ModelHarness.Rows(100, 2, i)), "m");
        }

        Assert.Equal(a.Save(), b.Save());
        Assert.Equal(2000, b.Observations);
    }

    [Fact]
    public void RefitResult_ArrivesAfterNewerObservations_JudgedOnTheCurrentWindowAndKeepsCounters()
    {
        var definition = ModelHarness.Gmm(window: 400, refitEvery: 1000);
        var core = new ModelCore(definition, 1);
        RefitJob? job = null;
        for (var i = 0; job is null && i < 50; i++)
        {
            job = core.Apply(Obs(1, 0, ModelHarness.Rows(100, 2, i)), "m").Refit;
        }

        Assert.NotNull(job);
        var parameters = RefitCodec.Run(job, default);
        var observations = core.Observations;
        core.Apply(Obs(1, 0, ModelHarness.Rows(150, 2, 99)), "m"); // newer rows arrive first

        var (events, _) = core.Apply(Result(job.Sequence, parameters, T0.AddMinutes(1)), "m");

        var e = Assert.Single(events!);
        Assert.Contains(e.Type, new[] { ModelEventType.RefitAdopted, ModelEventType.RefitRejected });
        Assert.Equal(e.Type == ModelEventType.RefitAdopted, e.After > e.Before);
        Assert.Equal(observations + 150, core.Observations);
        Assert.Equal(observations + 150, core.Gmm!.Observations); // adoption keeps the schedule position
        Assert.False(core.RefitInFlight);
        // The same result again (a re-run after a crash) is inert.
        var before = core.Save();
        Assert.Null(core.Apply(Result(job.Sequence, parameters, T0), "m").Events);
        Assert.Equal(before, core.Save());
    }

    [Fact]
    public void Apply_SameIdempotencyKeyTwice_AppliedOnce()
    {
        var core = new ModelCore(ModelHarness.Gmm(), 1);
        // Two records (two producers after a crash: the retry is a new append), one key: applied once.
        core.Apply(Obs(1, ModelStreamRecord.HashKey("k"), ModelHarness.Rows(10, 2, 1)), "m");
        core.Apply(Obs(1, ModelStreamRecord.HashKey("k"), ModelHarness.Rows(10, 2, 1)) with { ProducerId = "q" }, "m");
        Assert.Equal(10, core.Observations);
    }

    [Fact]
    public void Apply_OtherGeneration_Inert()
    {
        var core = new ModelCore(ModelHarness.Gmm(), 2);
        core.Apply(Obs(1, 0, ModelHarness.Rows(10, 2, 1)), "m");
        Assert.Equal(0, core.Observations);
        core.Apply(Obs(0, 0, ModelHarness.Rows(10, 2, 1)), "m"); // an external producer's batch: the current generation
        Assert.Equal(10, core.Observations);
    }

    private static ModelStreamRecord Obs(long generation, ulong keyHash, Numerics.DataMatrix rows) => new()
    {
        Kind = ModelRecordKind.Observations, ProducerId = "p", Sequence = 1, Generation = generation, Timestamp = T0, KeyHash = keyHash,
        Values = rows.Values.ToArray(), Columns = rows.Columns,
    };

    private static ModelStreamRecord Result(long refitSequence, double[] parameters, DateTimeOffset at) => new()
    {
        Kind = ModelRecordKind.RefitResult, ProducerId = ModelGrain.ControlProducer, Sequence = 1, Generation = 1, Timestamp = at,
        RefitSequence = refitSequence, Parameters = parameters,
    };
}
