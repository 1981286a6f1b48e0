using EmStreaming.Grains;
using EmStreaming.Grains.Definitions;
using EmStreaming.Server.Hosting;
using EmStreaming.Server.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmStreaming.Server.Tests.Hosting;

/// <summary>The top-level appsettings.json and how the server finds its settings file.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _directory = TestPaths.TempDirectory();

    private static string TopLevelFile => Path.Combine(TestPaths.RepositoryRoot, ConfigurationLocator.FileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task TopLevelAppSettings_BindsAndValidatesWithTheDocumentedDefaults()
    {
        await using var app = EmStreamingServer.Build(new ServerLaunchOptions
        {
            ConfigFile = TopLevelFile,
            Args = ["--Storage:Provider=InMemory"],
        });

        // Resolving .Value runs every validator: a bad value in the file would throw here, naming the setting.
        var server = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        var security = app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value;
        var limits = app.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
        var demo = app.Services.GetRequiredService<IOptions<DemoOptions>>().Value;
        var telemetry = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        var templates = app.Services.GetRequiredService<ModelTemplates>();

        Assert.Equal(ServerOptions.DefaultUrls, server.Urls);
        Assert.Equal(ServerOptions.DefaultMaxRequestBodyBytes, server.MaxRequestBodyBytes);
        Assert.Equal(ServerOptions.DefaultMaxRowsPerBatch, server.MaxRowsPerBatch);
        Assert.Empty(security.ApiKeys);
        Assert.False(security.AllowAnonymousNonLoopback);
        Assert.True(limits.Enabled);
        Assert.False(demo.Enabled);
        Assert.Equal(DemoOptions.DefaultHistoryRows, demo.HistoryRows);
        Assert.Equal(new DemoOptions().Interval, demo.Interval);
        Assert.Null(OtlpEndpointOrNull(telemetry));
        Assert.Equal(ModelKind.Gmm, templates.Match("sensor-boiler-7")?.Kind);
        Assert.Null(templates.Match("other"));
    }

    private static string? OtlpEndpointOrNull(TelemetryOptions telemetry) => string.IsNullOrEmpty(telemetry.OtlpEndpoint) ? null : telemetry.OtlpEndpoint;

    public static TheoryData<string, Type> DocumentedSections => new()
    {
        { ServerOptions.SectionName, typeof(ServerOptions) },
        { SecurityOptions.SectionName, typeof(SecurityOptions) },
        { RateLimitingOptions.SectionName, typeof(RateLimitingOptions) },
        { DemoOptions.SectionName, typeof(DemoOptions) },
        { TelemetryOptions.SectionName, typeof(TelemetryOptions) },
        { ModelStorageOptions.SectionName, typeof(ModelStorageOptions) },
        { EmStreaming.Providers.Sqlite.SqliteStorageOptions.SectionName, typeof(EmStreaming.Providers.Sqlite.SqliteStorageOptions) },
        { EmStreaming.Providers.History.SnapshotHistoryOptions.SectionName, typeof(EmStreaming.Providers.History.SnapshotHistoryOptions) },
        { ModelStreamOptions.SectionName, typeof(ModelStreamOptions) },
        { EmStreaming.Providers.Streams.LogStreamOptions.SectionName, typeof(EmStreaming.Providers.Streams.LogStreamOptions) },
        { SiloHostOptions.SectionName, typeof(SiloHostOptions) },
        { ModelTemplateOptions.SectionName, typeof(ModelTemplateOptions) },
    };

    [Theory]
    [MemberData(nameof(DocumentedSections))]
    public void TopLevelAppSettings_Section_ListsEverySetting(string section, Type options)
    {
        var file = new ConfigurationBuilder().AddJsonFile(TopLevelFile, optional: false).Build();
        var listed = file.GetSection(section).GetChildren().Select(c => c.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);

        // An empty array (Security:ApiKeys) has no child in configuration: look for it in the text.
        var text = File.ReadAllText(TopLevelFile);
        var missing = options.GetProperties()
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic)
            .Select(p => p.Name)
            .Where(name => !listed.Contains(name) && !text.Contains($"\"{name}\": []", StringComparison.Ordinal))
            .ToArray();
        Assert.True(missing.Length == 0, $"appsettings.json does not document {section}:{string.Join(", ", missing)}");
    }

    [Fact]
    public void Locate_ExplicitFileMissing_ThrowsNamingIt()
    {
        var path = Path.Combine(_directory, "nope.json");
        var e = Assert.Throws<FileNotFoundException>(() => ConfigurationLocator.Locate(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Apply_FileWithComments_ReadBelowCommandLineArguments()
    {
        var file = Path.Combine(_directory, "settings.json");
        File.WriteAllText(file, """
            // comments are allowed
            { "Demo": { "Sensors": 5, "Seed": 1 } }
            """);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--Demo:Seed=9"], ContentRootPath = _directory });
        ConfigurationLocator.Apply(builder.Configuration, ConfigurationLocator.Locate(file), "Production");
        Assert.Equal("5", builder.Configuration["Demo:Sensors"]);
        Assert.Equal("9", builder.Configuration["Demo:Seed"]);
    }

    [Fact]
    public void Apply_NoFile_DropsContentRootSettingsAndRunsOnDefaults()
    {
        // A stray appsettings.json in the content root is not read when no settings file was located.
        File.WriteAllText(Path.Combine(_directory, "appsettings.json"), """{ "Demo": { "Sensors": 99 } }""");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = _directory });
        Assert.Equal("99", builder.Configuration["Demo:Sensors"]);
        ConfigurationLocator.Apply(builder.Configuration, null, "Production");
        Assert.Null(builder.Configuration["Demo:Sensors"]);
    }
}
