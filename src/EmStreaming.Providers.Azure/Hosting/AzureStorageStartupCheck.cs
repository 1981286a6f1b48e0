using Orleans;
using Orleans.Runtime;

namespace EmStreaming.Providers.Azure.Hosting;

/// <summary>
/// Asks the account once at the very start of the silo (before membership, storage or streams touch it), so a missing or
/// unreachable account is one clear error naming the setting instead of minutes of provider retries.
/// </summary>
internal sealed class AzureStorageStartupCheck(AzureStorageAccount account, IEnumerable<AzureStorageRequirement> requirements) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(AzureStorageStartupCheck), ServiceLifecycleStage.First, cancellationToken => account.CheckAsync(requirements, cancellationToken));
}
