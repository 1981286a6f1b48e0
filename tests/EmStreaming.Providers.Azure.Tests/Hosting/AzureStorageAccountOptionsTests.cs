using EmStreaming.Providers.Azure.Hosting;

namespace EmStreaming.Providers.Azure.Tests.Hosting;

/// <summary>The account settings: one of connection string and service URI, and the endpoints a service URI implies.</summary>
public sealed class AzureStorageAccountOptionsTests
{
    [Fact]
    public void Check_ServiceUriOfTheBlobEndpoint_Valid()
    {
        Assert.Empty(AzureStorageAccountOptionsValidator.Check(new AzureStorageAccountOptions { ServiceUri = new Uri("https://acct.blob.core.windows.net/") }));
    }

    [Theory]
    [InlineData("https://acct.queue.core.windows.net/", "AzureStorage:ServiceUri")]
    [InlineData("ftp://acct.blob.core.windows.net/", "AzureStorage:ServiceUri")]
    public void Check_ServiceUriNotABlobEndpoint_ErrorNamesIt(string uri, string named)
    {
        var failure = Assert.Single(AzureStorageAccountOptionsValidator.Check(new AzureStorageAccountOptions { ServiceUri = new Uri(uri) }));
        Assert.StartsWith(named, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_BothOrNeither_ErrorNamesBothSettings()
    {
        var both = Assert.Single(AzureStorageAccountOptionsValidator.Check(new AzureStorageAccountOptions
        {
            ConnectionString = "UseDevelopmentStorage=true",
            ServiceUri = new Uri("https://acct.blob.core.windows.net/"),
        }));
        var neither = Assert.Single(AzureStorageAccountOptionsValidator.Check(new AzureStorageAccountOptions()));

        Assert.Contains("AzureStorage:ConnectionString", both, StringComparison.Ordinal);
        Assert.Contains("AzureStorage:ServiceUri", both, StringComparison.Ordinal);
        Assert.Contains("AzureStorage:ConnectionString", neither, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("queue", "https://acct.queue.core.windows.net/")]
    [InlineData("table", "https://acct.table.core.windows.net/")]
    public void Sibling_BlobEndpoint_SameAccountOtherService(string service, string expected)
    {
        Assert.Equal(new Uri(expected), AzureStorageAccount.Sibling(new Uri("https://acct.blob.core.windows.net/"), service));
    }
}
