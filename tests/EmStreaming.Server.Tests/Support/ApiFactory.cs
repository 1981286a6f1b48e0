using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EmStreaming.Grains;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmStreaming.Server.Tests.Support;

/// <summary>The server in memory (TestServer) over <see cref="FakeModelService"/>, with extra settings per test class.</summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public ApiFactory()
        : this([])
    {
    }

    internal ApiFactory(Dictionary<string, string?> settings)
    {
        _settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Enabled"] = "false",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",

            // The silo is still registered (and started) under the test double: keep it off the disk.
            ["Storage:Provider"] = "InMemory",
        };
        foreach (var (k, v) in settings)
        {
            _settings[k] = v;
        }
    }

    internal FakeModelService Models { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Host settings (UseSetting) are visible while services are registered; AddEmStreamingModels reads
        // Storage:Provider then, so it must not be left to app configuration added after registration.
        builder.UseSetting("Storage:Provider", "InMemory");
        // Orleans' dashboard profiles every grain call: off unless a test asks for it.
        builder.UseSetting("Orleans:Dashboard", _settings.GetValueOrDefault("Orleans:Dashboard") ?? "false");
        foreach (var (key, value) in TestPaths.OrleansPorts())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(_settings));
        builder.ConfigureServices(services =>
        {
            services.RemoveAll<IModelService>();
            services.AddSingleton<IModelService>(Models);
        });
    }
}

/// <summary>Helpers for talking JSON to the API and reading problem+json answers.</summary>
internal static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static StringContent Body(string text, string contentType) => new(text, Encoding.UTF8, contentType);

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts the status and a problem+json body naming <paramref name="field"/> (when given).</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, int status, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        if (field is not null)
        {
            Assert.Equal(field, problem.GetProperty("field").GetString());
        }

        return problem;
    }

    public static async Task CreateAsync(HttpClient client, string id, string kind = "gmm", int dimension = 2, int components = 2)
    {
        var key = kind == "hmm" ? "states" : "components";
        var response = await client.PutAsync($"/v1/models/{id}", Json($$"""{"kind":"{{kind}}","dimension":{{dimension}},"{{key}}":{{components}},"seed":7}"""));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Appends <paramref name="n"/> rows from two well separated clusters (or two regimes for 1-d hmm data).</summary>
    public static async Task FeedAsync(HttpClient client, string id, int n, int dimension = 2, int seed = 1)
    {
        var random = new Random(seed);
        var rows = new List<double[]>();
        for (var i = 0; i < n; i++)
        {
            var centre = (i / 50) % 2 == 0 ? 0.0 : 8.0;
            rows.Add([.. Enumerable.Range(0, dimension).Select(_ => centre + random.NextDouble() - 0.5)]);
        }

        var response = await client.PostAsJsonAsync($"/v1/models/{id}/observations", new { rows });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
