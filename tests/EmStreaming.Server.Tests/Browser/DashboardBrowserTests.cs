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
/// real server with the embedded silo and the demo feeds at their default settings (the README's main command),
/// listening on a free loopback port. A newcomer must see live models with parameters within 30 seconds of start.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    // A hang guard, not a timing assertion (a busy machine may take minutes); the newcomer's time to a live dashboard is
    // measured by the benchmark `dotnet run -c Release --project tests/EmStreaming.Benchmarks -- newcomer`.
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);
    private static readonly string[] ChromiumFlags =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly string _dataDirectory = TestPaths.TempDirectory();
    private readonly System.Diagnostics.Stopwatch _sinceStart = new();
    private WebApplication? _app;
    private string _url = "";

    public async Task InitializeAsync()
    {
        _sinceStart.Start();
        _app = EmStreamingServer.Build(new ServerLaunchOptions
        {
            Urls = $"http://127.0.0.1:{TestPaths.FreePort()}",
            DataDirectory = _dataDirectory,
            Demo = true,
            Args = ["--RateLimiting:Enabled=false", "--Logging:LogLevel:Default=Warning", .. TestPaths.OrleansPortArgs()],
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

    /// <summary>What is left of the hang guard (counted from the server's start), at least one second.</summary>
    private PageWaitForFunctionOptions Remaining() => new()
    {
        Timeout = (float)Math.Max(1_000, (HangGuard - _sinceStart.Elapsed).TotalMilliseconds),
        PollingInterval = 200,
    };

    [Fact]
    public async Task Dashboard_Demo_ShowsLiveModelsEllipsesRegimesAndSnapshots()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: tests/setup.sh installs it");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ChromiumFlags });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);

        await page.GotoAsync(_url + "/");

        // Every demo model is listed, and every one is live (warm), not warming up: twelve sensors and two markets.
        await page.WaitForFunctionAsync("() => { const items = [...document.querySelectorAll('[data-testid=model-item]')]; return items.length >= 14 && items.every(i => i.dataset.health === 'live'); }", null, Remaining());
        var ids = await page.Locator("[data-testid=model-item]").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.modelId)");
        Assert.Contains("demo:sensor-01", ids);
        Assert.Contains("demo:sensor-12", ids);
        Assert.Contains("demo:market-north", ids);
        Assert.Contains("demo:market-south", ids);
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=connection]').dataset.state === 'live'", null, Remaining());

        // A sensor: recent points and one ellipse per component, every component's centre inside the plot.
        await page.Locator("[data-testid=model-item][data-model-id='demo:sensor-01']").ClickAsync();
        await page.WaitForFunctionAsync("() => { const c = document.querySelector('[data-testid=gmm-plot]'); return document.querySelector('[data-testid=model-title]').textContent === 'demo:sensor-01' && +c.dataset.components === 3 && +c.dataset.inView === 3 && +c.dataset.points > 50; }", null, Remaining());
        var observations = await page.Locator("[data-testid=model-item][data-model-id='demo:sensor-01'] .meta").InnerTextAsync();
        Assert.Contains("obs", observations);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestPaths.Artifacts, "dashboard-sensor.png") });

        // A market: the series by regime, the probability band and a 2×2 transition matrix whose rows sum to one.
        await page.Locator("[data-testid=model-item][data-model-id='demo:market-north']").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=model-title]').textContent === 'demo:market-north' && document.querySelectorAll('[data-testid=transition-cell]').length === 4 && +document.querySelector('[data-testid=hmm-band]').dataset.rows > 100", null, Remaining());
        var cells = await page.Locator("[data-testid=transition-cell]").AllInnerTextsAsync();
        var p = cells.Select(c => double.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(1.0, p[0] + p[1], 0.002); // printed with three decimals
        Assert.Equal(1.0, p[2] + p[3], 0.002);
        Assert.Contains("regime", await page.Locator("[data-testid=regime-badge]").InnerTextAsync());

        // Snapshot history (every demo model has at least its creation snapshot).
        await page.WaitForFunctionAsync("() => +document.querySelector('[data-testid=snapshot-timeline]').dataset.count > 0", null, Remaining());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestPaths.Artifacts, "dashboard-market.png") });

        // Nothing on the page reads NaN or undefined, and no script failed.
        var text = await page.Locator("main").InnerTextAsync();
        Assert.DoesNotContain("NaN", text, StringComparison.Ordinal);
        Assert.DoesNotContain("undefined", text, StringComparison.Ordinal);

        // A link to one model opens that model.
        var linked = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        linked.PageError += (_, e) => errors.Add(e);
        await linked.GotoAsync(_url + "/#model=demo:sensor-03");
        await linked.WaitForFunctionAsync("() => document.querySelector('[data-testid=model-title]').textContent === 'demo:sensor-03' && +document.querySelector('[data-testid=gmm-plot]').dataset.components === 3", null, new PageWaitForFunctionOptions { Timeout = 15_000, PollingInterval = 200 });
        await linked.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestPaths.Artifacts, "dashboard-sensor-3d.png") });
        Assert.Empty(errors);
    }
}
