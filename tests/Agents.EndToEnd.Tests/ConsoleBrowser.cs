using Microsoft.Playwright;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// A real headless Chromium (Debian's, at <c>/usr/bin/chromium</c> or <c>AGENTS_CHROMIUM</c>) driven by Playwright, with
/// one browser context per person so that each has their own session storage. Screenshots go to
/// <c>console-screenshots/</c> in the test output folder.
/// </summary>
internal sealed class ConsoleBrowser : IAsyncDisposable
{
    // Headless, and nothing that reaches outside this machine by itself.
    private static readonly string[] Flags =
        ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check"];

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly Uri _gateway;

    private ConsoleBrowser(IPlaywright playwright, IBrowser browser, Uri gateway)
    {
        _playwright = playwright;
        _browser = browser;
        _gateway = gateway;
    }

    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "console-screenshots");

    public static async Task<ConsoleBrowser> StartAsync(Uri gateway)
    {
        var executable = Environment.GetEnvironmentVariable("AGENTS_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"{executable} is missing: install Debian's chromium (apt-get install chromium; ./dev.sh test does) or set AGENTS_CHROMIUM.");
        }

        Directory.CreateDirectory(ScreenshotFolder);
        Assertions.SetDefaultExpectTimeout(90_000);
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = executable,
                Headless = true,
                Args = Flags,
                Timeout = 60_000,
            });
            return new ConsoleBrowser(playwright, browser, gateway);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A fresh context (its own session storage) signed in to the console with <paramref name="apiKey"/>.</summary>
    public async Task<IPage> SignInAsync(string apiKey, string user)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        // The platform may be slow on a busy machine: waits are on what the page shows, bounded generously.
        context.SetDefaultTimeout(90_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GotoAsync(new Uri(_gateway, "console/").ToString());
        await page.Locator("#credential").FillAsync(apiKey);
        await page.Locator("#sign-in").ClickAsync();
        await Assertions.Expect(page.Locator("#whoami")).ToContainTextAsync(user);
        Assert.Empty(errors);
        return page;
    }

    public Task GoAsync(IPage page, string route) => page.GotoAsync(new Uri(_gateway, "console/" + route).ToString());

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var file = Path.Combine(ScreenshotFolder, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
        Assert.True(new FileInfo(file).Length > 10_000, $"{file} is nearly empty");
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}
