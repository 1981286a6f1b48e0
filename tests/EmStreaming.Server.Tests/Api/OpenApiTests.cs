using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class OpenApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("/v1/models", "get")]
    [InlineData("/v1/models/{id}", "put")]
    [InlineData("/v1/models/{id}", "get")]
    [InlineData("/v1/models/{id}", "delete")]
    [InlineData("/v1/models/{id}/observations", "post")]
    [InlineData("/v1/models/{id}/state", "get")]
    [InlineData("/v1/models/{id}/recent", "get")]
    [InlineData("/v1/models/{id}/predict", "post")]
    [InlineData("/v1/models/{id}/filter", "post")]
    [InlineData("/v1/models/{id}/impute", "post")]
    [InlineData("/v1/models/{id}/snapshots", "get")]
    [InlineData("/v1/models/{id}/snapshots/{version}", "get")]
    [InlineData("/v1/models/{id}/snapshots/at", "get")]
    [InlineData("/v1/models/{id}/refit", "post")]
    [InlineData("/v1/models/{id}/events", "get")]
    [InlineData("/v1/events", "get")]
    [InlineData("/healthz", "get")]
    [InlineData("/readyz", "get")]
    public async Task OpenApiDocument_ListsEndpoint(string path, string method)
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ReadJsonAsync();
        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item), $"{path} missing from /openapi/v1.json");
        Assert.True(item.TryGetProperty(method, out var operation), $"{method} {path} missing");
        Assert.True(operation.TryGetProperty("responses", out _));
    }

    [Fact]
    public async Task OpenApiDocument_ObservationsAcceptJsonNdjsonAndCsv()
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ReadJsonAsync();
        var content = document.GetProperty("paths").GetProperty("/v1/models/{id}/observations").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.True(content.TryGetProperty("application/json", out _));
        Assert.True(content.TryGetProperty("application/x-ndjson", out _));
        Assert.True(content.TryGetProperty("text/csv", out _));
        Assert.Equal("EmStreaming API", document.GetProperty("info").GetProperty("title").GetString());
    }
}
