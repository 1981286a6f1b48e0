using EmStreaming.Providers.Storage;
using EmStreaming.Providers.TestKit;
using EmStreaming.Providers.Tests.Streams;
using EmStreaming.Providers.Tests.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;

namespace EmStreaming.Providers.Tests.Storage;

public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> IncrementAsync();

    Task<int> GetAsync();
}

/// <summary>A grain whose state goes through the provider named <c>store</c>, as the model grains' does.</summary>
public sealed class CounterGrain([PersistentState("counter", "store")] IPersistentState<CounterState> state) : Grain, ICounterGrain
{
    public async Task<int> IncrementAsync()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> GetAsync() => Task.FromResult(state.State.Value);
}

/// <summary>The registration calls of the grain storage, through a real silo.</summary>
public sealed class GrainStorageSiloTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private readonly List<SiloHarness> _silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        _directory.Dispose();
    }

    private async Task<SiloHarness> StartAsync(bool sqlite = true)
    {
        var silo = await SiloHarness.StartAsync(
            new Dictionary<string, string?> { ["Storage:DataDirectory"] = _directory.Path, ["Storage:FullSync"] = "false" },
            (builder, configuration) =>
            {
                if (sqlite)
                {
                    builder.AddEmStreamingSqliteGrainStorage("store", configuration);
                }
                else
                {
                    builder.AddEmStreamingInMemoryGrainStorage("store");
                }
            },
            services => services.AddSingleton(new DeliveryRecorder()));
        _silos.Add(silo);
        return silo;
    }

    [Fact]
    public async Task AddEmStreamingSqliteGrainStorage_StateSurvivesASiloRestart()
    {
        var silo = await StartAsync();
        for (var i = 0; i < 3; i++)
        {
            await silo.Client.GetGrain<ICounterGrain>("c1").IncrementAsync();
        }

        await silo.StopAsync();
        var restarted = await StartAsync();

        Assert.Equal(3, await restarted.Client.GetGrain<ICounterGrain>("c1").GetAsync());
        Assert.Equal(4, await restarted.Client.GetGrain<ICounterGrain>("c1").IncrementAsync());
    }

    [Fact]
    public async Task AddEmStreamingInMemoryGrainStorage_StateRoundTripsWithinTheSilo()
    {
        var silo = await StartAsync(sqlite: false);

        await silo.Client.GetGrain<ICounterGrain>("c1").IncrementAsync();

        Assert.Equal(2, await silo.Client.GetGrain<ICounterGrain>("c1").IncrementAsync());
    }

    [Fact]
    public async Task ReadOnActivation_CorruptStoredState_CallerGetsCorruptGrainStateForThatGrainOnly()
    {
        var silo = await StartAsync();
        await silo.Client.GetGrain<ICounterGrain>("bad").IncrementAsync();
        await silo.Client.GetGrain<ICounterGrain>("good").IncrementAsync();
        await silo.StopAsync();
        using (var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE grain_state SET checksum = checksum + 1 WHERE grain_id LIKE '%/bad'";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var restarted = await StartAsync();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => restarted.Client.GetGrain<ICounterGrain>("bad").GetAsync());
        var corrupt = Assert.IsType<CorruptGrainStateException>(error);
        Assert.EndsWith("/bad", corrupt.GrainId);
        Assert.Equal(1, await restarted.Client.GetGrain<ICounterGrain>("good").GetAsync());
    }
}
