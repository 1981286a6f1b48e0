using System.Net;
using EmStreaming.Grains;
using EmStreaming.Server.Tests.Support;

namespace EmStreaming.Server.Tests.Api;

public sealed class EventsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    /// <summary>Reads SSE lines until an <c>event:</c> line of <paramref name="type"/> and returns its data line.</summary>
    private static async Task<string> ReadEventAsync(StreamReader reader, string type, CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("the event stream ended");
            if (line == $"event: {type}")
            {
                var data = await reader.ReadLineAsync(cancellationToken);
                Assert.StartsWith("data: ", data);
                return data!["data: ".Length..];
            }
        }
    }

    private async Task<StreamReader> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var response = await _client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        Assert.StartsWith("retry:", await reader.ReadLineAsync(cancellationToken));
        Assert.StartsWith(": subscribed", await reader.ReadLineAsync(cancellationToken));
        return reader;
    }

    [Fact]
    public async Task ModelEvents_Refit_StreamsRefitAdoptedEvent()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Http.CreateAsync(_client, "ev:refit");
        await Http.FeedAsync(_client, "ev:refit", 200);
        using var reader = await OpenAsync("/v1/models/ev:refit/events", timeout.Token);
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync("/v1/models/ev:refit/refit", null, timeout.Token)).StatusCode);
        var data = await ReadEventAsync(reader, "refitAdopted", timeout.Token);
        Assert.Contains("\"modelId\":\"ev:refit\"", data);
        Assert.Contains("\"type\":\"refitAdopted\"", data);
        Assert.Contains("\"after\":-3.2", data);
    }

    [Fact]
    public async Task AllEvents_OtherModels_StreamsEveryModel()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var reader = await OpenAsync("/v1/events", timeout.Token);
        factory.Models.Publish(new ModelEvent { ModelId = "ev:any", Type = ModelEventType.RegimeChanged, Time = DateTimeOffset.UnixEpoch, FromRegime = 0, ToRegime = 1 });
        var data = await ReadEventAsync(reader, "regimeChanged", timeout.Token);
        Assert.Contains("\"fromRegime\":0", data);
        Assert.Contains("\"toRegime\":1", data);
    }

    [Fact]
    public async Task ModelEvents_UnknownModel_Returns404BeforeStreaming()
    {
        var response = await _client.GetAsync("/v1/models/ev:nobody/events", HttpCompletionOption.ResponseHeadersRead);
        await response.AssertProblemAsync(404, "id");
    }
}
