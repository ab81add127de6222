using System.Text.Json;
using Agents.Testing;
using static Microsoft.Playwright.Assertions;

namespace Agents.EndToEnd.Tests;

/// <summary>The tools page in a real browser: a circuit opened by a failing tool is reset from the console.</summary>
[Collection(FaultyToolsCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ToolCircuitConsoleTests(FaultyToolsFixture platform)
{
    [Fact]
    public async Task An_admin_of_the_operator_tenant_resets_an_open_circuit_from_the_tools_page_and_another_tenants_admin_is_refused()
    {
        // web.fetch always fails on this platform: a task that calls it fails, and the failures open the tool's circuit.
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        var id = await TaskClient.SubmitAsync(alice, new
        {
            steps = new[] { new { id = "kb", kind = "tool", tool = "web.fetch", argumentsJson = JsonSerializer.Serialize(new { url = platform.KnowledgeBaseUrl("password-reset") }), dependsOn = Array.Empty<string>() } },
        });
        await TaskClient.WaitForStatusAsync(alice, id, "Failed", TimeSpan.FromSeconds(120));

        // Open, or HalfOpen when the web host's periodic announcement has ended the break meanwhile (the next call would be
        // the trial); never Closed, since every call on this platform fails.
        Assert.NotEqual("Closed", await CircuitAsync(alice));

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);

        // Erin is an admin, but of tenant thrift, which does not operate the registry: the tool-gateway refuses her.
        var erin = await browser.SignInAsync(PlatformFixture.ErinKey, "erin");
        await browser.GoAsync(erin, "#/tools");
        var erinsRow = erin.Locator("#tools tr[data-tool='web.fetch']");
        await Expect(erinsRow).ToContainTextAsync("Open");
        await erinsRow.Locator("button.reset").ClickAsync();
        await Expect(erin.Locator("#tools-outcome .problem")).ToContainTextAsync("Resetting the circuit: Forbidden (403)");
        await Expect(erin.Locator("#tools-outcome .problem")).ToContainTextAsync("operator tenant");
        Assert.NotEqual("Closed", await CircuitAsync(alice));

        // Carol, an admin of demo (the operator tenant), resets it; the page reads the registry again and shows it closed.
        var carol = await browser.SignInAsync(PlatformFixture.CarolKey, "carol");
        await browser.GoAsync(carol, "#/tools");
        var row = carol.Locator("#tools tr[data-tool='web.fetch']");
        await Expect(row).ToContainTextAsync("Open");
        await ConsoleBrowser.ScreenshotAsync(carol, "17-tools-circuit-open");
        await row.Locator("button.reset").ClickAsync();
        await Expect(carol.Locator("#tools-outcome")).ToContainTextAsync("Circuit of web.fetch reset (Closed).");

        // Every tool-gateway instance closes it when the reset message reaches it; the page shows that on its next read.
        var shown = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                if ((shown = await row.Locator(".badge").InnerTextAsync()) == "Closed")
                {
                    return true;
                }

                await browser.GoAsync(carol, $"#/tools?seen={DateTime.UtcNow.Ticks}");
                await Expect(row).ToBeVisibleAsync();
                return false;
            },
            () => $"the tools page to show the circuit of web.fetch Closed (it shows {shown})",
            TimeSpan.FromSeconds(60),
            TimeSpan.FromSeconds(1));

        await Expect(row.Locator("button.reset")).ToHaveCountAsync(0);
        await ConsoleBrowser.ScreenshotAsync(carol, "18-tools-circuit-reset");
        Assert.Equal("Closed", await CircuitAsync(alice));
    }

    private static async Task<string> CircuitAsync(HttpClient client)
    {
        using var tool = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/tools/web.fetch", UriKind.Relative)));
        return tool.RootElement.GetProperty("circuit").GetProperty("state").GetString()!;
    }
}
