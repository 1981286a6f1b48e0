using EmStreaming.Grains.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace EmStreaming.Grains.Tests.TestSupport;

/// <summary>The silo's registry with a count of its definition reads (<see cref="IModelRegistry.GetAsync"/>); everything passes through.</summary>
internal sealed class CountingModelRegistry(IModelRegistry inner) : ForwardingModelRegistry(inner)
{
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public void ResetCount() => Volatile.Write(ref _reads, 0);

    public override ValueTask<RegistryEntry?> GetAsync(string id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return Inner.GetAsync(id, cancellationToken);
    }

    /// <summary>Puts itself in front of the silo's registry (whatever the configuration chose); resolve it as <see cref="CountingModelRegistry"/>.</summary>
    public static void Decorate(IServiceCollection services) => Decorate(services, inner => new CountingModelRegistry(inner));
}
