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
    public async Task<IPage> SignInAsync(string apiKey, string user) => await SignInAsync(apiKey, user, bearer: false);

    /// <summary>Signs in with a credential of the given kind (an API key, or a JWT bearer token) and waits for the user's name.</summary>
    public async Task<IPage> SignInAsync(string credential, string user, bool bearer)
    {
        var (page, errors) = await OpenAsync();
        await SubmitCredentialAsync(page, credential, bearer);
        await Assertions.Expect(page.Locator("#whoami")).ToContainTextAsync(user);
        Assert.Empty(errors);
        return page;
    }

    /// <summary>A fresh context's sign-in form, filled with <paramref name="credential"/> and submitted; what follows is the caller's to check.</summary>
    public async Task<IPage> TrySignInAsync(string credential, bool bearer)
    {
        var (page, _) = await OpenAsync();
        await SubmitCredentialAsync(page, credential, bearer);
        return page;
    }

    private async Task<(IPage Page, List<string> Errors)> OpenAsync()
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        // The platform may be slow on a busy machine: waits are on what the page shows, bounded generously.
        context.SetDefaultTimeout(90_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GotoAsync(new Uri(_gateway, "console/").ToString());
        return (page, errors);
    }

    private static async Task SubmitCredentialAsync(IPage page, string credential, bool bearer)
    {
        if (bearer)
        {
            await page.Locator("#credential-kind").SelectOptionAsync("bearer");
        }

        await page.Locator("#credential").FillAsync(credential);
        await page.Locator("#sign-in").ClickAsync();
    }

    /// <summary>A page in a fresh context of its own, signed in nowhere: for a page that is not the console's.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        return await context.NewPageAsync();
    }

    public Task GoAsync(IPage page, string route) => page.GotoAsync(new Uri(_gateway, "console/" + route).ToString());

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var file = Path.Combine(ScreenshotFolder, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
        Assert.True(new FileInfo(file).Length > 10_000, $"{file} is nearly empty");
    }

    /// <summary>
    /// Clicks the Tasks page's Submit and waits until the console opens the new task's page, returning its id. When the
    /// console shows a problem instead, fails with the problem's text and every answer the gateway gave to the submission.
    /// </summary>
    public static async Task<Guid> SubmitAndOpenTaskAsync(IPage page)
    {
        var answers = new List<string>();
        void Record(object? sender, IResponse response)
        {
            if (response.Request.Method == "POST" && response.Url.Contains("/api/tasks", StringComparison.Ordinal))
            {
                lock (answers)
                {
                    answers.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {response.Status}");
                }
            }
        }

        page.Response += Record;
        try
        {
            await page.Locator("#submit-task").ClickAsync();
            await page.WaitForFunctionAsync(
                "() => /#\\/tasks\\/[0-9a-f-]{36}$/.test(location.hash) || document.querySelector('#submit-outcome .problem') !== null",
                null, new PageWaitForFunctionOptions { PollingInterval = 100 });
            var problem = page.Locator("#submit-outcome .problem");
            if (await problem.CountAsync() > 0)
            {
                await ScreenshotAsync(page, "submit-refused");
                Assert.Fail($"The console showed a problem instead of the new task: {await problem.InnerTextAsync()}; the gateway answered: {string.Join(", ", answers)}");
            }

            return Guid.Parse(page.Url[(page.Url.LastIndexOf('/') + 1)..]);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"The console neither opened the new task nor showed a problem; the gateway answered the submission: {string.Join(", ", answers)} (none yet if empty); the page says: {await page.Locator("#submit-outcome").InnerTextAsync()}", ex);
        }
        finally
        {
            page.Response -= Record;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}
