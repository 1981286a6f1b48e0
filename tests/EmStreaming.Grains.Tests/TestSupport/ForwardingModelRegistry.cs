using EmStreaming.Grains.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>The silo's registry behind a test's decorator: every call passes through unless the decorator overrides it.</summary>
internal abstract class ForwardingModelRegistry(IModelRegistry inner) : IModelRegistry
{
    protected IModelRegistry Inner => inner;

    public virtual ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

    public ValueTask<(PutModelOutcome Outcome, RegistryEntry Entry)> PutAsync(string id, ModelDefinition definition, bool onlyIfAbsent, CancellationToken cancellationToken) =>
        inner.PutAsync(id, definition, onlyIfAbsent, cancellationToken);

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken) => inner.DeleteAsync(id, cancellationToken);

    public ValueTask<IReadOnlyList<RegistryEntry>> ListAsync(string? prefix, string? after, int limit, CancellationToken cancellationToken) =>
        inner.ListAsync(prefix, after, limit, cancellationToken);

    public virtual ValueTask<StoredAnswer?> GetAnswerAsync(string id, string key, CancellationToken cancellationToken) => inner.GetAnswerAsync(id, key, cancellationToken);

    public virtual ValueTask SaveAnswerAsync(string id, string key, StoredAnswer answer, CancellationToken cancellationToken) =>
        inner.SaveAnswerAsync(id, key, answer, cancellationToken);

    public virtual ValueTask<StoredAnswer?> ReserveAnswerAsync(string id, string key, StoredAnswer reservation, CancellationToken cancellationToken) =>
        inner.ReserveAnswerAsync(id, key, reservation, cancellationToken);

    /// <summary>Puts <paramref name="decorate"/>'s registry in front of the silo's (whatever the configuration chose).</summary>
    public static void Decorate<T>(IServiceCollection services, Func<IModelRegistry, T> decorate)
        where T : class, IModelRegistry
    {
        var original = services.Last(d => d.ServiceType == typeof(IModelRegistry));
        var factory = original.ImplementationFactory ?? throw new InvalidOperationException("the registry is not registered by a factory");
        services.AddSingleton(sp => decorate((IModelRegistry)factory(sp)));
        services.AddSingleton<IModelRegistry>(sp => sp.GetRequiredService<T>());
    }
}
