using EmStreaming.Server.Hosting;
using EmStreaming.Server.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EmStreaming.Server.Tests.Browser;

/// <summary>
/// The dashboard in a real browser (Debian's chromium driven by Playwright; no browser is downloaded) against the
/// real server with the embedded silo and the demo feeds, listening on a free loopback port.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string[] ChromiumFlags =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly string _dataDirectory = TestPaths.TempDirectory();
    private WebApplication? _app;
    private string _url = "";

    public async Task InitializeAsync()
    {
        _app = EmStreamingServer.Build(new ServerLaunchOptions
        {
            Urls = $"http://127.0.0.1:{TestPaths.FreePort()}",
            DataDirectory = _dataDirectory,
            Demo = true,
            Args = ["--Demo:Interval=00:00:00.1", "--Demo:SensorRowsPerTick=10", "--RateLimiting:Enabled=false", "--Logging:LogLevel:Default=Warning"],
        });
        await _app.StartAsync();
        _url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Dashboard_Demo_ShowsLiveModelsEllipsesRegimesAndSnapshots()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: tests/setup.sh installs it");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ChromiumFlags });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var wait = new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 250 };

        await page.GotoAsync(_url + "/");

        // Every demo model is listed: twelve sensors and two markets.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=model-item]').length >= 14", null, wait);
        var ids = await page.Locator("[data-testid=model-item]").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.modelId)");
        Assert.Contains("demo:sensor-01", ids);
        Assert.Contains("demo:sensor-12", ids);
        Assert.Contains("demo:market-north", ids);
        Assert.Contains("demo:market-south", ids);
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=connection]').dataset.state === 'live'", null, wait);

        // A sensor: recent points and one ellipse per component once it has parameters.
        await page.Locator("[data-testid=model-item][data-model-id='demo:sensor-01']").ClickAsync();
        await page.WaitForFunctionAsync("() => (document.querySelector('[data-testid=model-title]').textContent === 'demo:sensor-01') && +document.querySelector('[data-testid=gmm-plot]').dataset.components === 3 && +document.querySelector('[data-testid=gmm-plot]').dataset.points > 50", null, wait);
        var observations = await page.Locator("[data-testid=model-item][data-model-id='demo:sensor-01'] .meta").InnerTextAsync();
        Assert.Contains("obs", observations);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestPaths.Artifacts, "dashboard-sensor.png") });

        // A market: the series by regime, the probability band and a 2×2 transition matrix whose rows sum to one.
        await page.Locator("[data-testid=model-item][data-model-id='demo:market-north']").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=transition-cell]').length === 4 && +document.querySelector('[data-testid=hmm-band]').dataset.rows > 0", null, wait);
        var cells = await page.Locator("[data-testid=transition-cell]").AllInnerTextsAsync();
        var p = cells.Select(c => double.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(1.0, p[0] + p[1], 0.002); // printed with three decimals
        Assert.Equal(1.0, p[2] + p[3], 0.002);
        Assert.Contains("regime", await page.Locator("[data-testid=regime-badge]").InnerTextAsync());

        // Snapshot history and the live event feed.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=event-feed] li').length > 0", null, wait);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestPaths.Artifacts, "dashboard-market.png") });
        Assert.True(File.Exists(Path.Combine(TestPaths.Artifacts, "dashboard-market.png")));
    }
}
