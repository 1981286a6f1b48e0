using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace EmStreaming.Providers.Azure.Tests.Hosting;

/// <summary>A silo in this process, configured only through the settings the server uses (no test-only wiring).</summary>
internal static class TestSilo
{
    public const string ProviderName = "models";

    public static IHost Build(IDictionary<string, string?> settings, string clusterId)
    {
        var ports = LocalServerProcess.FreePorts(2);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddFilter(level => level >= LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.UseEmStreamingClustering(configuration, clusterId, "emstreaming-tests", ports[0], ports[1]);
            if (settings.TryGetValue("Storage:Provider", out var storage) && storage == "AzureStorage")
            {
                silo.AddEmStreamingAzureBlobStorage(ProviderName, configuration);
            }
            else
            {
                silo.AddMemoryGrainStorage(ProviderName);
            }

            if (settings.TryGetValue("Streams:Provider", out var streams) && streams == "AzureQueue")
            {
                silo.AddEmStreamingAzureQueueStreams(ProviderName, configuration);
            }
        });
        return builder.Build();
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not within {timeout.TotalSeconds:0} s: {what}");
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>A grain that persists a counter in the grain storage under test.</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> AddAsync(int amount);

    Task<int> GetAsync();

    Task<string> SiloAsync();
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)]
    public int Count { get; set; }
}

public sealed class CounterGrain([PersistentState("counter", TestSilo.ProviderName)] IPersistentState<CounterState> state, ILocalSiloDetails silo)
    : Grain, ICounterGrain
{
    public async Task<int> AddAsync(int amount)
    {
        state.State.Count += amount;
        await state.WriteStateAsync();
        return state.State.Count;
    }

    public Task<int> GetAsync() => Task.FromResult(state.State.Count);

    public Task<string> SiloAsync() => Task.FromResult(silo.SiloAddress.ToString());
}

/// <summary>Counts the events of its stream (implicit subscription), persisting before it returns, as model grains do on Azure Queues.</summary>
public interface IStreamCounterGrain : IGrainWithStringKey
{
    Task<int> GetAsync();
}

[ImplicitStreamSubscription(StreamCounterGrain.Namespace)]
public sealed class StreamCounterGrain([PersistentState("events", TestSilo.ProviderName)] IPersistentState<CounterState> state)
    : Grain, IStreamCounterGrain, IStreamSubscriptionObserver, IAsyncObserver<int>
{
    public const string Namespace = "counted";

    public Task<int> GetAsync() => Task.FromResult(state.State.Count);

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) => handleFactory.Create<int>().ResumeAsync(this);

    public async Task OnNextAsync(int item, StreamSequenceToken? token = null)
    {
        state.State.Count += item;
        await state.WriteStateAsync();
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
}
