using EmStreaming.Grains.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>The silo's registry with a count of its definition reads (<see cref="IModelRegistry.GetAsync"/>); everything passes through.</summary>
internal sealed class CountingModelRegistry(IModelRegistry inner) : IModelRegistry
{
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public void ResetCount() => Volatile.Write(ref _reads, 0);

    public ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.GetAsync(id, cancellationToken);
    }

    public ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken) =>
        inner.PutAsync(id, definition, onlyIfAbsent, cancellationToken);

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken) => inner.DeleteAsync(id, cancellationToken);

    public ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken) =>
        inner.ListAsync(prefix, after, limit, cancellationToken);

    public ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken) => inner.GetAnswerAsync(id, key, cancellationToken);

    public ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken) =>
        inner.SaveAnswerAsync(id, key, answer, cancellationToken);

    public ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken) =>
        inner.ReserveAnswerAsync(id, key, reservation, cancellationToken);

    /// <summary>Puts itself in front of the silo's registry (whatever the configuration chose); resolve it as <see cref="CountingModelRegistry"/>.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var original = services.Last(d => d.ServiceType == typeof(IModelRegistry));
        var factory = original.ImplementationFactory ?? throw new InvalidOperationException("the registry is not registered by a factory");
        services.AddSingleton(sp => new CountingModelRegistry((IModelRegistry)factory(sp)));
        services.AddSingleton<IModelRegistry>(sp => sp.GetRequiredService<CountingModelRegistry>());
    }
}
