using EmStreaming.Grains.Definitions;
using EmStreaming.Grains.Models;
using EmStreaming.Grains.Registry;
using EmStreaming.Grains.Tests.TestSupport;
using EmStreaming.Numerics;
using Microsoft.Extensions.Configuration;

namespace EmStreaming.Grains.Tests.Models;

/// <summary>
/// A definition's <c>warmUp</c> and what a user's refit request does to a model that cannot refit: while warming up it ends
/// the warm-up (a first fit on the rows buffered so far) or is refused with a refitRejected event saying how many rows are
/// missing; a request during a running refit or with a too small window is refused with its reason. The grain's own timer
/// requests stay silent. Every decision is the log's, so a replay makes it again.
/// </summary>
public sealed class ModelCoreWarmUpTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static long _sequence;

    /// <summary>The iris set's shape: 3 components in 4 dimensions (first fit needs 3 × 5 = 15 rows).</summary>
    private static ModelDefinition Iris(ModelKind kind = ModelKind.Gmm, int? warmUp = null, int window = 5_000) => new()
    {
        Kind = kind, Dimension = 4, Components = 3, WarmUp = warmUp, Seed = 3, BatchSize = 64,
        Covariance = kind == ModelKind.Hmm ? CovarianceType.Diag : CovarianceType.Full,
        Refit = new RefitPolicy { Window = window, EveryObservations = null, Restarts = 1 },
    };

    /// <summary>Three clusters in 4 dimensions, deterministic (NaN at every <paramref name="missingEvery"/>-th entry when set).</summary>
    private static DataMatrix Rows(int n, int seed, int missingEvery = 0)
    {
        var random = new Random(seed);
        var values = new double[n * 4];
        for (var i = 0; i < n; i++)
        {
            var centre = random.Next(3) * 4.0;
            for (var j = 0; j < 4; j++)
            {
                var v = centre + (j * 0.5) + (Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble()));
                values[(i * 4) + j] = missingEvery > 0 && ((i * 4) + j) % missingEvery == 0 ? double.NaN : v;
            }
        }

        return new DataMatrix(values, n, 4);
    }

    private static ModelStreamRecord Obs(DataMatrix rows) => ModelStreamRecord.Observations("svc", Interlocked.Increment(ref _sequence), 1, rows, T0);

    private static ModelStreamRecord UserRequest() => ModelStreamRecord.RefitRequest("svc", Interlocked.Increment(ref _sequence), 1, T0);

    private static ModelStreamRecord TimerRequest() => ModelStreamRecord.RefitRequest(ModelGrain.ControlProducer, Interlocked.Increment(ref _sequence), 1, T0);

    [Theory]
    [InlineData(ModelKind.Gmm, 0)]
    [InlineData(ModelKind.Gmm, 7)]
    [InlineData(ModelKind.Hmm, 0)]
    [InlineData(ModelKind.Hmm, 7)]
    public void Apply_UserRefitWhileWarmingUpWith150Rows_FitsNowAndEmitsReady(ModelKind kind, int missingEvery)
    {
        var core = new ModelCore(Iris(kind), 1);
        core.Apply(Obs(Rows(150, 1, missingEvery)), "iris");
        Assert.True(core.WarmingUp);
        Assert.Equal(0, core.EarlyFitRemaining);

        var (events, job) = core.Apply(UserRequest(), "iris");

        Assert.Null(job);
        var ready = Assert.Single(events!);
        Assert.Equal(ModelEventType.Ready, ready.Type);
        Assert.Contains("150 rows", ready.Message);
        Assert.False(core.WarmingUp);
        Assert.Equal(150, core.Observations);
        Assert.Equal(0, core.WarmUpRemaining);

        // It learns on from there, scoring rows under the fitted parameters.
        core.Apply(Obs(Rows(64, 2, missingEvery)), "iris");
        Assert.NotNull(core.RecentMeanLogLikelihood);
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void Apply_UserRefitWhileWarmingUpWithTooFewRows_EmitsRefitRejectedSayingHowManyMoreAndChangesNothing(ModelKind kind)
    {
        var core = new ModelCore(Iris(kind), 1);
        core.Apply(Obs(Rows(10, 1)), "iris");
        Assert.Equal(5, core.EarlyFitRemaining);
        var before = core.Save();

        var (events, job) = core.Apply(UserRequest(), "iris");

        Assert.Null(job);
        var rejected = Assert.Single(events!);
        Assert.Equal(ModelEventType.RefitRejected, rejected.Type);
        Assert.Contains("holds 10 rows", rejected.Message);
        Assert.Contains("once it holds 15", rejected.Message);
        Assert.Contains("5 more rows are needed", rejected.Message);
        Assert.True(core.WarmingUp);
        Assert.Equal(before, core.Save());
    }

    [Fact]
    public void Apply_UserRefitWhileAColumnIsUnobserved_EmitsRefitRejectedNamingTheColumn()
    {
        var rows = Rows(40, 1);
        var values = rows.Values.ToArray();
        for (var i = 0; i < 40; i++)
        {
            values[(i * 4) + 2] = double.NaN;
        }

        var core = new ModelCore(Iris(), 1);
        core.Apply(Obs(new DataMatrix(values, 40, 4)), "iris");
        Assert.Equal(1, core.EarlyFitRemaining);

        var rejected = Assert.Single(core.Apply(UserRequest(), "iris").Events!);

        Assert.Equal(ModelEventType.RefitRejected, rejected.Type);
        Assert.Contains("column 2", rejected.Message);
        Assert.True(core.WarmingUp);
    }

    [Fact]
    public void Apply_TimerRefitWhileWarmingUp_StaysSilentAndWarming()
    {
        var core = new ModelCore(Iris(), 1);
        core.Apply(Obs(Rows(150, 1)), "iris");

        var (events, job) = core.Apply(TimerRequest(), "iris");

        Assert.Null(events);
        Assert.Null(job);
        Assert.True(core.WarmingUp);
    }

    [Fact]
    public void Apply_SameLogReplayedFromASnapshot_MakesTheSameEarlyFit()
    {
        var definition = Iris();
        var a = new ModelCore(definition, 1);
        a.Apply(Obs(Rows(80, 1)), "iris");
        var snapshot = a.Save();
        var request = UserRequest();
        var more = Obs(Rows(64, 2));
        a.Apply(request, "iris");
        a.Apply(more, "iris");

        var b = ModelCore.Restore(definition, snapshot);
        b.Apply(request, "iris");
        b.Apply(more, "iris");

        Assert.False(b.WarmingUp);
        Assert.Equal(a.Save(), b.Save());
    }

    [Fact]
    public void Apply_UserRefitWhileARefitRuns_EmitsRefitRejectedAndLeavesTheRunningOne()
    {
        var core = new ModelCore(Iris(warmUp: 200), 1);
        core.Apply(Obs(Rows(300, 1)), "iris");
        var (_, job) = core.Apply(UserRequest(), "iris");
        Assert.NotNull(job);
        Assert.True(core.RefitInFlight);

        var (events, second) = core.Apply(UserRequest(), "iris");

        Assert.Null(second);
        var rejected = Assert.Single(events!);
        Assert.Equal(ModelEventType.RefitRejected, rejected.Type);
        Assert.Contains($"refit {job!.Sequence} is still running", rejected.Message);
        Assert.Equal(job.Sequence, core.RefitRequested);

        // The running refit's result is still applied and answers with its own event.
        var result = core.Apply(ModelStreamRecord.RefitResult(ModelGrain.ControlProducer, Interlocked.Increment(ref _sequence), 1, job.Sequence, RefitCodec.Run(job, default), T0), "iris");
        Assert.Contains(Assert.Single(result.Events!).Type, new[] { ModelEventType.RefitAdopted, ModelEventType.RefitRejected });
        Assert.False(core.RefitInFlight);
    }

    [Fact]
    public void Apply_UserRefitWithATooSmallWindow_EmitsRefitRejectedNamingTheWindow()
    {
        // An early first fit of 2 components in 2 dimensions runs on 6 rows and leaves a window of 6: a refit needs 10.
        var definition = new ModelDefinition
        {
            Kind = ModelKind.Gmm, Dimension = 2, Components = 2, Seed = 1, Refit = new RefitPolicy { Window = 100, EveryObservations = null },
        };
        var core = new ModelCore(definition, 1);
        core.Apply(ModelStreamRecord.Observations("svc", Interlocked.Increment(ref _sequence), 1, ModelHarness.Rows(6, 2, 4), T0), "m");
        Assert.Equal(ModelEventType.Ready, Assert.Single(core.Apply(UserRequest(), "m").Events!).Type);

        var (events, job) = core.Apply(UserRequest(), "m");

        Assert.Null(job);
        var rejected = Assert.Single(events!);
        Assert.Equal(ModelEventType.RefitRejected, rejected.Type);
        Assert.Contains("the window holds 6 rows and a refit needs at least 10", rejected.Message);
    }

    [Theory]
    [InlineData(ModelKind.Gmm)]
    [InlineData(ModelKind.Hmm)]
    public void Apply_DefinitionWarmUp_FirstFitAfterThatManyRows(ModelKind kind)
    {
        var core = new ModelCore(Iris(kind, warmUp: 40), 1);
        core.Apply(Obs(Rows(39, 1)), "iris");
        Assert.True(core.WarmingUp);
        Assert.Equal(1, core.WarmUpRemaining);

        var (events, _) = core.Apply(Obs(Rows(1, 2)), "iris");

        Assert.Contains(events!, e => e.Type == ModelEventType.Ready);
        Assert.False(core.WarmingUp);
    }

    [Theory]
    [InlineData(14, "between 15 and 1000000")]
    [InlineData(0, "between 15 and 1000000")]
    [InlineData(-5, "between 15 and 1000000")]
    [InlineData(1_000_001, "between 15 and 1000000")]
    public void Validate_WarmUpOutOfRange_NamesTheFieldAndTheMinimumForThisShape(int warmUp, string expected)
    {
        var e = Assert.Throws<ModelValidationException>(() => ModelDefinitionValidator.Validate(Iris(warmUp: warmUp)));
        Assert.Equal("warmUp", e.Field);
        Assert.Contains(expected, e.Message);
        Assert.Contains("3 components in 4 dimensions need at least components × (dimension + 1) = 15 rows", e.Message);

        var hmm = Assert.Throws<ModelValidationException>(() => ModelDefinitionValidator.Validate(Iris(ModelKind.Hmm, warmUp: warmUp)));
        Assert.Contains("3 states in 4 dimensions", hmm.Message);
    }

    [Fact]
    public void Validate_WarmUpAtTheBounds_IsAccepted()
    {
        ModelDefinitionValidator.Validate(Iris(warmUp: 15));
        ModelDefinitionValidator.Validate(Iris(warmUp: ModelDefinitionValidator.MaxWarmUp));
        ModelCore.EnsureBuildable(Iris(ModelKind.Hmm, warmUp: ModelDefinitionValidator.MaxWarmUp));
        ModelDefinitionValidator.Validate(Iris(warmUp: null));
    }

    [Fact]
    public void Templates_WarmUpBelowTheMinimum_RefusedAtStartNamingTheSetting()
    {
        var options = new ModelTemplateOptions { Templates = [new ModelTemplate { Prefix = "iris-", Definition = Iris(warmUp: 10) }] };

        var e = Assert.Throws<InvalidOperationException>(() => new ModelTemplates(options));

        Assert.Contains("Models:Templates:0:Definition", e.Message);
        Assert.Contains("warmUp must be between 15", e.Message);
        Assert.Equal(40, new ModelTemplates(new ModelTemplateOptions { Templates = [new ModelTemplate { Prefix = "iris-", Definition = Iris(warmUp: 40) }] }).Match("iris-1")!.WarmUp);
    }

    [Fact]
    public void Templates_WarmUpFromConfiguration_BoundIntoTheDefinition()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Templates:0:Prefix"] = "iris-",
            ["Models:Templates:0:Definition:Kind"] = "Gmm",
            ["Models:Templates:0:Definition:Dimension"] = "4",
            ["Models:Templates:0:Definition:Components"] = "3",
            ["Models:Templates:0:Definition:WarmUp"] = "60",
        }).Build();
        var options = new ModelTemplateOptions();
        ConfigurationBinder.Bind(configuration.GetSection(ModelTemplateOptions.SectionName), options);

        var definition = new ModelTemplates(options).Match("iris-7")!;

        Assert.Equal(60, definition.WarmUp);
        Assert.Equal(60, new ModelCore(definition, 1).WarmUpRemaining);
    }

    [Fact]
    public void StoredDefinition_WrittenBeforeWarmUpExisted_LoadsAsAutomatic()
    {
        // What the registries stored before this build: the JSON of a definition without the field.
        const string json = """{"kind":"Gmm","dimension":4,"components":3,"covariance":"Full","halfLife":null,"alpha":null,"batchSize":64,"refit":{"everyObservations":50000,"every":null,"window":5000,"restarts":2},"snapshots":{"everyObservations":10000,"every":"00:00:30","retain":null},"anomalyThreshold":null,"seed":0}""";

        var definition = System.Text.Json.JsonSerializer.Deserialize<ModelDefinition>(json, RegistryRules.Json)!;

        Assert.Null(definition.WarmUp);
        var core = new ModelCore(definition, 1);
        Assert.Equal(500, core.WarmUpRemaining); // max(500, 10 × 44 free parameters)
        var roundTrip = System.Text.Json.JsonSerializer.Deserialize<ModelDefinition>(System.Text.Json.JsonSerializer.Serialize(definition with { WarmUp = 20 }, RegistryRules.Json), RegistryRules.Json)!;
        Assert.Equal(20, roundTrip.WarmUp);
    }

    [Fact]
    public async Task Registry_PutWithAChangedWarmUp_ReplacesWithAFreshGeneration()
    {
        var registry = new InMemoryModelRegistry(TimeProvider.System);
        var (_, created) = await registry.PutAsync("iris", Iris(), onlyIfAbsent: false, default);

        var (same, unchanged) = await registry.PutAsync("iris", Iris(), onlyIfAbsent: false, default);
        var (outcome, replaced) = await registry.PutAsync("iris", Iris(warmUp: 100), onlyIfAbsent: false, default);

        Assert.Equal(PutModelOutcome.Unchanged, same);
        Assert.Equal(created.Generation, unchanged.Generation);
        Assert.Equal(PutModelOutcome.Replaced, outcome);
        Assert.NotEqual(created.Generation, replaced.Generation);
        Assert.Equal(100, replaced.Definition.WarmUp);
    }
}
