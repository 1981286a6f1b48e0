using Azure.Storage.Blobs;
using EmStreaming.Providers.Azure.History;
using EmStreaming.Providers.History;
using EmStreaming.Providers.TestKit;

namespace EmStreaming.Providers.Azure.Tests.History;

/// <summary>The shared <see cref="ISnapshotHistory"/> contract against the Blob implementation on Azurite (one container per test).</summary>
public sealed class BlobSnapshotHistoryContractTests(AzuriteFixture azurite) : SnapshotHistoryContractTests, IClassFixture<AzuriteFixture>
{
    private readonly BlobContainerClient _container = new(azurite.ConnectionString, "contract-" + Guid.NewGuid().ToString("N"));

    protected override ISnapshotHistory Create(SnapshotHistoryOptions options, TimeProvider clock) => new BlobSnapshotHistory(_container, options, clock);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _container.DeleteIfExistsAsync();
    }
}
