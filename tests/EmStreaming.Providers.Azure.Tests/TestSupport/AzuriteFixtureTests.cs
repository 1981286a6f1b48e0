using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace EmStreaming.Providers.Azure.Tests.TestSupport;

/// <summary>The shared Azurite fixture gives a working account: blob, queue and table each round-trip through the pinned SDKs.</summary>
public sealed class AzuriteFixtureTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ConnectionString_AllThreeServices_RoundTrip()
    {
        var container = new BlobContainerClient(azurite.ConnectionString, "fixture-check");
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient("a").UploadAsync(BinaryData.FromString("blob"), overwrite: true);
        Assert.Equal("blob", (await container.GetBlobClient("a").DownloadContentAsync()).Value.Content.ToString());

        var queue = new QueueClient(azurite.ConnectionString, "fixture-check");
        await queue.CreateIfNotExistsAsync();
        await queue.SendMessageAsync("queue");
        Assert.Equal("queue", (await queue.ReceiveMessageAsync()).Value.Body.ToString());

        var table = new TableClient(azurite.ConnectionString, "fixturecheck");
        await table.CreateIfNotExistsAsync();
        await table.AddEntityAsync(new TableEntity("p", "r") { ["Value"] = "table" });
        Assert.Equal("table", (await table.GetEntityAsync<TableEntity>("p", "r")).Value.GetString("Value"));
    }

    [Fact]
    public async Task Dispose_KillsTheProcess_PortStopsAnswering()
    {
        var server = await AzuriteServer.StartAsync(inMemory: true);
        var port = server.BlobPort;
        Assert.True(await LocalServerProcess.AcceptsConnectionsAsync(port, CancellationToken.None));

        await server.DisposeAsync();

        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(
            () => LocalServerProcess.AcceptsConnectionsAsync(port, CancellationToken.None));
    }

    [Fact]
    public void Executable_VariableNamesMissingFile_ErrorNamesTheVariable()
    {
        // Never set the variable itself here: other test classes start Azurite in parallel and read it.
        var error = Assert.Throws<InvalidOperationException>(() => AzuriteServer.Executable("/nonexistent/azurite"));
        Assert.Contains(AzuriteServer.ExecutableVariable, error.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/azurite", error.Message, StringComparison.Ordinal);
    }
}
