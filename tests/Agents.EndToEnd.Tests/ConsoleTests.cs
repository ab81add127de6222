using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The web console in a real browser against the whole platform: every page is driven as a person would, and what it
/// shows is checked against what the API says. Screenshots of each page are left in the test output folder.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ConsoleTests(PlatformFixture platform)
{
    [Fact]
    public async Task A_task_submitted_in_the_console_fills_its_timeline_waits_for_the_approval_given_in_the_inbox_and_completes()
    {
        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var alice = await browser.SignInAsync(PlatformFixture.AliceKey, "alice");

        // Submit the triage task from the Tasks page, with the article whose hidden instruction keeps the ticket at the gate.
        await FillTriageAsync(alice, "C-1002", "outage-status");
        await ConsoleBrowser.ScreenshotAsync(alice, "01-tasks-submit");
        var taskId = await ConsoleBrowser.SubmitAndOpenTaskAsync(alice);

        // The page follows the run by itself: steps appear on the timeline and it stops at the approval gate.
        await Expect(alice.Locator("h1 .badge")).ToHaveTextAsync("AwaitingApproval");
        foreach (var step in new[] { "lookup", "kb", "draft", "ticket" })
        {
            await Expect(alice.Locator($"#timeline .lane[data-step='{step}'] .bar").First).ToBeVisibleAsync();
        }

        await Expect(alice.Locator("#timeline .lane[data-step='ticket'] .bar.b-wait")).ToContainTextAsync("waiting for approval");
        await Expect(alice.Locator("details.step[data-step='draft'] .taint").First).ToContainTextAsync("web.fetch");
        await ConsoleBrowser.ScreenshotAsync(alice, "02-task-awaiting-approval");

        // Bob, an approver, decides it in the inbox: the exact arguments and where their taint came from are shown.
        var bob = await browser.SignInAsync(PlatformFixture.BobKey, "bob");
        var card = bob.Locator($"article.approval[data-task='{taskId}']");
        await Poll.UntilAsync(
            async () =>
            {
                await browser.GoAsync(bob, $"#/approvals?status=Pending&seen={DateTime.UtcNow.Ticks}");
                await Expect(bob.Locator("h1")).ToHaveTextAsync("Approvals");
                await bob.WaitForLoadStateAsync(LoadState.NetworkIdle);
                return await card.CountAsync() > 0;
            },
            TimeSpan.FromSeconds(60),
            $"the approvals inbox to show the approval of task {taskId}",
            TimeSpan.FromSeconds(1));

        await Expect(card).ToContainTextAsync("tickets.create");
        await Expect(card).ToContainTextAsync("requested by");
        await Expect(card.Locator(".taint")).ToContainTextAsync("step kb: output of tool web.fetch");
        await Expect(card.Locator("pre.json")).ToContainTextAsync("\"customerId\": \"C-1002\"");
        await ConsoleBrowser.ScreenshotAsync(bob, "03-approvals-inbox");
        await card.Locator("textarea.comment").FillAsync("reply reviewed in the console");
        await card.Locator("button.approve").ClickAsync();
        await Expect(card.Locator(".outcome")).ToContainTextAsync("Approved by bob");

        // Alice's page, still open, sees the rest of the run arrive and the task complete.
        await Expect(alice.Locator("h1 .badge")).ToHaveTextAsync("Completed");
        await Expect(alice.Locator("#timeline .lane[data-step='ticket'] .bar.b-wait")).ToContainTextAsync("approval granted");
        await Expect(alice.Locator("#timeline .lane[data-step='ticket'] .bar.b-ok")).ToBeVisibleAsync();
        await Expect(alice.Locator("#summary")).ToContainTextAsync("approved by bob for ticket (“reply reviewed in the console”)");
        await Expect(alice.Locator("#result")).ToContainTextAsync("ticket");
        var task = await TaskClient.GetAsync(platform.CreateClient(PlatformFixture.AliceKey), taskId);
        await Expect(alice.Locator("#trace-id")).ToHaveTextAsync(task.GetProperty("traceId").GetString()!);
        await Expect(alice.Locator("#trace-link")).ToHaveAttributeAsync("href", PlatformFixture.TraceUiUrl.Replace("{traceId}", task.GetProperty("traceId").GetString(), StringComparison.Ordinal));
        await Expect(alice.Locator("#audit-unavailable")).ToContainTextAsync("admin role");
        await Expect(alice.Locator("details.step[data-step='draft'] summary")).ToContainTextAsync("tokens");
        await alice.Locator("details.step[data-step='ticket'] summary").ClickAsync();
        await Expect(alice.Locator("details.step[data-step='ticket'] .taint").First).ToContainTextAsync("step draft: model output built from");
        await ConsoleBrowser.ScreenshotAsync(alice, "04-task-completed");

        // The list, refreshed on its own, shows it completed, with its user and template; the template filter finds it.
        await browser.GoAsync(alice, "#/tasks?template=triage-customer-issue");
        var row = alice.Locator($"#task-list tr[data-task='{taskId}']");
        await Expect(row).ToContainTextAsync("Completed");
        await Expect(row).ToContainTextAsync("alice");
        await ConsoleBrowser.ScreenshotAsync(alice, "05-tasks-list");

        // The admin sees the audit entries on the task page, and the audit, tools, usage and policy pages.
        var carol = await browser.SignInAsync(PlatformFixture.CarolKey, "carol");
        await browser.GoAsync(carol, $"#/tasks/{taskId}");
        await Expect(carol.Locator("#task-audit tbody tr").First).ToBeVisibleAsync();
        await Expect(carol.Locator("#task-audit")).ToContainTextAsync("bob");
        await browser.GoAsync(carol, $"#/audit?taskId={taskId}");
        await carol.Locator("#audit-verify").ClickAsync();
        await Expect(carol.Locator("#audit-verdict")).ToContainTextAsync("Audit chain intact");
        await ConsoleBrowser.ScreenshotAsync(carol, "06-audit");
        await browser.GoAsync(carol, "#/tools");
        await Expect(carol.Locator("#tools tr[data-tool='tickets.create']")).ToContainTextAsync("Mutating");
        await carol.Locator("#tools tr[data-tool='web.fetch'] button.link").ClickAsync();
        await Expect(carol.Locator("#tool-detail")).ToContainTextAsync("Input schema");
        await ConsoleBrowser.ScreenshotAsync(carol, "07-tools");
        await browser.GoAsync(carol, "#/usage");
        await Expect(carol.Locator("#usage-users")).ToContainTextAsync("alice");
        await ConsoleBrowser.ScreenshotAsync(carol, "08-usage");
        await browser.GoAsync(carol, "#/policy");
        await Expect(carol.Locator("#policy-document")).ToContainTextAsync("tickets.create");
        await Expect(carol.Locator("#policy-edit")).ToBeAttachedAsync();
        await ConsoleBrowser.ScreenshotAsync(carol, "09-policy");
    }

    [Fact]
    public async Task The_demos_triage_task_completes_without_a_person_and_its_page_shows_each_step_and_where_its_untrusted_input_came_from()
    {
        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var alice = await browser.SignInAsync(PlatformFixture.AliceKey, "alice");

        // As the demo submits it (samples/Agents.Demo): customer C-1001, the login question, and the template's plain
        // password-reset article (here served by this run's knowledge base).
        await FillTriageAsync(alice, "C-1001", "password-reset");
        var taskId = await ConsoleBrowser.SubmitAndOpenTaskAsync(alice);

        // It runs to the end on its own: every step succeeds and nothing waited for a person.
        await Expect(alice.Locator("h1 .badge")).ToHaveTextAsync("Completed");
        foreach (var step in new[] { "lookup", "kb", "draft", "ticket" })
        {
            await Expect(alice.Locator($"#timeline .lane[data-step='{step}'] .bar.b-ok").First).ToBeVisibleAsync();
        }

        await Expect(alice.Locator("#timeline .bar.b-gate")).ToHaveCountAsync(0);
        await Expect(alice.Locator("#timeline .bar.b-wait")).ToHaveCountAsync(0);
        await Expect(alice.Locator("#summary")).Not.ToContainTextAsync("approved by");
        await Expect(alice.Locator("#result")).ToContainTextAsync("\"ticketId\": \"T-");

        // Why the ticket needed no person: its body was built from the fetched page (marked untrusted, with the source),
        // and the demo policy lets untrusted data reach a ticket's body.
        await Expect(alice.Locator("details.step[data-step='draft'] .taint").First).ToContainTextAsync("web.fetch");
        await alice.Locator("details.step[data-step='ticket'] summary").ClickAsync();
        await Expect(alice.Locator("details.step[data-step='ticket'] .taint").First).ToContainTextAsync("step draft: model output built from");
        var task = await TaskClient.GetAsync(platform.CreateClient(PlatformFixture.AliceKey), taskId);
        Assert.Equal("Completed", TaskClient.Status(task));
        await ConsoleBrowser.ScreenshotAsync(alice, "00-demo-task-completed");
    }

    [Fact]
    public async Task An_admin_sees_what_a_policy_version_changed_and_a_save_over_a_newer_version_is_refused_with_412()
    {
        using var api = platform.CreateClient(PlatformFixture.CarolKey);
        var current = JsonNode.Parse(await api.GetStringAsync(new Uri("api/governance/policy", UriKind.Relative)))!;
        var version = current["version"]!.GetValue<int>();
        var role = $"console-reader-{Guid.NewGuid():N}"[..24];
        var edited = current["document"]!.DeepClone();
        edited["roles"]![role] = new JsonObject { ["tools"] = new JsonArray("crm.lookup-customer"), ["scopes"] = new JsonArray() };

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var carol = await browser.SignInAsync(PlatformFixture.CarolKey, "carol");

        // Carol adds a role (one no key holds) in the editor and saves it as a new version.
        await browser.GoAsync(carol, "#/policy");
        await Expect(carol.Locator("h1")).ToContainTextAsync($"version {version}");
        await carol.Locator("#policy-edit summary").ClickAsync();
        await carol.Locator("#policy-editor").FillAsync(edited.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        await carol.Locator("#policy-save").ClickAsync();
        await Expect(carol.Locator("#policy-outcome")).ToContainTextAsync($"Saved as version {version + 1}.");

        // The history lists the new version as written by her; "What changed" shows the added role as added lines.
        await browser.GoAsync(carol, $"#/policy?seen={DateTime.UtcNow.Ticks}");
        await Expect(carol.Locator("h1")).ToContainTextAsync($"version {version + 1}");
        var newest = carol.Locator("#policy-versions tbody tr").Filter(new()
        {
            Has = carol.Locator("td:first-child").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex($"^{version + 1}$") }),
        });
        await Expect(newest).ToHaveCountAsync(1);
        await Expect(newest).ToContainTextAsync("carol");
        await newest.Locator("button.link").ClickAsync();
        await Expect(carol.Locator("#policy-diff")).ToContainTextAsync($"Changes in version {version + 1} (against {(version == 0 ? "nothing" : version.ToString(System.Globalization.CultureInfo.InvariantCulture))})");
        await Expect(carol.Locator("#policy-diff .added").Filter(new() { HasText = role })).ToHaveCountAsync(1);
        await ConsoleBrowser.ScreenshotAsync(carol, "15-policy-diff");

        // Someone else writes the next version (the role removed again) while her page still shows the one before.
        var restored = current["document"]!.ToJsonString();
        using (var request = new HttpRequestMessage(HttpMethod.Put, new Uri("api/governance/policy", UriKind.Relative)) { Content = new StringContent(restored, System.Text.Encoding.UTF8, "application/json") })
        {
            request.Headers.TryAddWithoutValidation("If-Match", $"\"{version + 1}\"");
            using var put = await api.SendAsync(request);
            Assert.True(put.IsSuccessStatusCode, $"PUT policy answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }

        // Her save is refused with the 412 problem, and nothing changed.
        await carol.Locator("#policy-edit summary").ClickAsync();
        await carol.Locator("#policy-save").ClickAsync();
        var problem = carol.Locator("#policy-outcome .problem");
        await Expect(problem).ToContainTextAsync("The policy has changed (412)");
        await Expect(problem).ToContainTextAsync($"You edited version {version + 1}, but version {version + 2} is current now");
        await ConsoleBrowser.ScreenshotAsync(carol, "16-policy-stale-save-refused");
        var after = JsonNode.Parse(await api.GetStringAsync(new Uri("api/governance/policy", UriKind.Relative)))!;
        Assert.Equal(version + 2, after["version"]!.GetValue<int>());
        Assert.Null(after["document"]!["roles"]![role]);
    }

    [Fact]
    public async Task A_person_signs_in_with_a_jwt_and_sees_what_the_api_lets_the_token_see_and_a_token_without_a_tenant_is_refused()
    {
        var token = Jwt(new { sub = "judy", tenant = "demo", roles = new[] { "agent-user" } });
        using var api = new HttpClient { BaseAddress = platform.GatewayAddress, Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", token);
        var mine = await TaskClient.SubmitAsync(api, new { goal = "Summarise what a password reset needs" });
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        var alices = await TaskClient.SubmitAsync(alice, new { goal = "Summarise what an outage notice needs" });

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var judy = await browser.SignInAsync(token, "judy @ demo", bearer: true);
        await Expect(judy.Locator($"#task-list tr[data-task='{mine}']")).ToHaveCountAsync(1);
        await Expect(judy.Locator($"#task-list tr[data-task='{alices}']")).ToHaveCountAsync(0);
        await ConsoleBrowser.ScreenshotAsync(judy, "19-jwt-signed-in");

        // A token the gateway cannot place in a tenant is refused at sign-in with the gateway's problem details.
        var page = await browser.TrySignInAsync(Jwt(new { sub = "judy", roles = new[] { "agent-user" } }), bearer: true);
        await Expect(page.Locator(".problem")).ToContainTextAsync("Signing in failed");
        await Expect(page.Locator(".problem")).ToContainTextAsync("(401)");
    }

    /// <summary>An HS256 token of the identity provider the end-to-end gateway trusts, valid for five minutes.</summary>
    private static string Jwt(object claims)
    {
        static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = JsonSerializer.SerializeToNode(claims)!.AsObject();
        body["iss"] = PlatformFixture.JwtIssuer;
        body["aud"] = PlatformFixture.JwtAudience;
        body["iat"] = now;
        body["nbf"] = now - 5;
        body["exp"] = now + 300;
        var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "HS256", typ = "JWT" }));
        var payload = Base64Url(Encoding.UTF8.GetBytes(body.ToJsonString()));
        var signature = Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(PlatformFixture.JwtSigningKey), Encoding.ASCII.GetBytes(header + "." + payload)));
        return $"{header}.{payload}.{signature}";
    }

    [Fact]
    public async Task The_task_list_shows_a_new_task_and_its_end_without_a_reload_by_waiting_for_changes()
    {
        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var alice = await browser.SignInAsync(PlatformFixture.AliceKey, "alice");
        await Expect(alice.Locator("#task-list .pager")).ToBeVisibleAsync();

        // The open list waits at the executor for a change, naming the list it shows.
        var waiting = await alice.WaitForRequestAsync(
            r => r.Url.Contains("/api/tasks?", StringComparison.Ordinal) && r.Url.Contains("wait=", StringComparison.Ordinal) && r.Headers.ContainsKey("if-none-match"),
            new() { Timeout = 30_000 });
        Assert.StartsWith("W/\"", waiting.Headers["if-none-match"], StringComparison.Ordinal);

        using var api = platform.CreateClient(PlatformFixture.AliceKey);
        var taskId = await TaskClient.SubmitAsync(api, new { template = "lookup-and-summarize", parameters = new { customerId = "C-1001" } });

        // Nobody touches the page: the task appears, then the state it ended in.
        var row = alice.Locator($"#task-list tr[data-task='{taskId}']");
        await Expect(row).ToBeVisibleAsync();
        var ended = await TaskClient.WaitUntilAsync(api, taskId, t => TaskClient.TerminalStatuses.Contains(TaskClient.Status(t)), TimeSpan.FromSeconds(120), "ended");
        await Expect(row.Locator("td:nth-child(2)")).ToHaveTextAsync(TaskClient.Status(ended));
        await Expect(alice.Locator("#live")).ToContainTextAsync("live");
    }

    [Fact]
    public async Task A_poison_message_is_found_inspected_and_redelivered_from_the_dead_letters_page()
    {
        using var api = platform.CreateClient(PlatformFixture.CarolKey);
        var overview = JsonNode.Parse(await api.GetStringAsync(new Uri("api/dead-letters", UriKind.Relative)))!;
        var queue = overview["queues"]!.AsArray().Select(q => q!["queue"]!.GetValue<string>())
            .Single(q => q.EndsWith("task-run", StringComparison.Ordinal) || q.EndsWith("task-run-state", StringComparison.Ordinal));
        var messageId = Guid.NewGuid().ToString();
        await OperatorSurfaceTests.PublishPoisonAsync(queue, messageId);

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var carol = await browser.SignInAsync(PlatformFixture.CarolKey, "carol");

        // The overview counts it once it has failed its retries; the queue page lists it with its failure.
        var link = await DeadLetterQueueLinkAsync(browser, carol, queue);
        await ConsoleBrowser.ScreenshotAsync(carol, "10-dead-letters");
        await link.ClickAsync();
        var row = carol.Locator($"#dead-letter-messages tr[data-message='{messageId}']");
        await Expect(row).ToContainTextAsync("CancelTask");
        await Expect(row).ToContainTextAsync("demo");
        await row.Locator("button.inspect").ClickAsync();
        await Expect(carol.Locator("#dead-letter-body")).ToContainTextAsync("not-a-task-id");
        await ConsoleBrowser.ScreenshotAsync(carol, "11-dead-letter-inspected");

        // Redelivered (the confirmation is accepted): still unreadable, it fails again and is listed with one redelivery.
        await row.Locator("button.redeliver").ClickAsync();
        await Expect(carol.Locator("#dead-letter-outcome")).ToContainTextAsync("Redelivered 1 message(s).");
        var redelivered = row.Locator("td:nth-child(8)");
        await Poll.UntilAsync(
            async () =>
            {
                if (await row.CountAsync() > 0 && await redelivered.InnerTextAsync() == "1")
                {
                    return true;
                }

                await carol.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
                return false;
            },
            TimeSpan.FromSeconds(90),
            "the redelivered message to come back to the error queue",
            TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_sample_tool_hosts_dead_letter_is_listed_shown_and_redelivered_like_a_services()
    {
        // The CRM tool host's own queue, as the gateway lists it under the host's name.
        using var api = platform.CreateClient(PlatformFixture.CarolKey);
        var overview = JsonNode.Parse(await api.GetStringAsync(new Uri("api/dead-letters", UriKind.Relative)))!;
        Assert.Empty(overview["unavailable"]!.AsArray());
        var queue = overview["queues"]!.AsArray().Where(q => q!["service"]!.GetValue<string>() == "tool-crm")
            .Select(q => q!["queue"]!.GetValue<string>()).Single(q => q.Contains("crm", StringComparison.Ordinal));
        var messageId = Guid.NewGuid().ToString();
        await OperatorSurfaceTests.PublishPoisonAsync(queue, messageId, "ExecuteTool");

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);
        var carol = await browser.SignInAsync(PlatformFixture.CarolKey, "carol");
        var link = await DeadLetterQueueLinkAsync(browser, carol, queue);
        await Expect(carol.Locator($"#dead-letter-queues tr[data-queue='{queue}']")).ToContainTextAsync("tool-crm");
        await link.ClickAsync();
        var row = carol.Locator($"#dead-letter-messages tr[data-message='{messageId}']");
        await Expect(row).ToContainTextAsync("ExecuteTool");
        await Expect(row).ToContainTextAsync("demo");
        await row.Locator("button.inspect").ClickAsync();
        await Expect(carol.Locator("#dead-letter-body")).ToContainTextAsync("not-a-call-id");
        await ConsoleBrowser.ScreenshotAsync(carol, "14-tool-host-dead-letter");

        // Another tenant's admin does not see it; deleted through the gateway, it is gone.
        using var erin = platform.CreateClient(PlatformFixture.ErinKey);
        using var hidden = await erin.GetAsync(new Uri($"api/dead-letters/tool-crm/{queue}/{messageId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        using var deleted = await api.DeleteAsync(new Uri($"api/dead-letters/tool-crm/{queue}/{messageId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await api.GetAsync(new Uri($"api/dead-letters/tool-crm/{queue}/{messageId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Another_tenant_sees_none_of_it_and_a_user_who_is_not_an_approver_gets_no_approve_button_and_is_refused_by_the_api()
    {
        using var aliceApi = platform.CreateClient(PlatformFixture.AliceKey);
        var taskId = await platform.SubmitTriageAsync(aliceApi, "C-1003");
        await TaskClient.WaitForStatusAsync(aliceApi, taskId, "AwaitingApproval");
        using var bobApi = platform.CreateClient(PlatformFixture.BobKey);
        var approval = await TaskClient.FindPendingApprovalAsync(bobApi, taskId, TimeSpan.FromSeconds(60));
        var approvalId = approval.GetProperty("id").GetGuid();

        await using var browser = await ConsoleBrowser.StartAsync(platform.GatewayAddress);

        // Dave (tenant acme): not in his list, not found by id, and no approvals or dead letters for him.
        var dave = await browser.SignInAsync(PlatformFixture.DaveKey, "dave");
        await Expect(dave.Locator("#task-list .pager")).ToBeVisibleAsync();
        await Expect(dave.Locator($"#task-list tr[data-task='{taskId}']")).ToHaveCountAsync(0);
        await browser.GoAsync(dave, $"#/tasks/{taskId}");
        await Expect(dave.Locator(".problem")).ToContainTextAsync($"There is no task {taskId} that you may see");
        await ConsoleBrowser.ScreenshotAsync(dave, "12-other-tenant-task");
        await browser.GoAsync(dave, "#/approvals");
        await Expect(dave.Locator("#approvals-refused")).ToContainTextAsync("403");
        await browser.GoAsync(dave, "#/dead-letters");
        await Expect(dave.Locator("#dead-letters-refused")).ToContainTextAsync("403");

        // Alice (not an approver): the inbox refuses her and shows no button, her own task page has none either...
        var alice = await browser.SignInAsync(PlatformFixture.AliceKey, "alice");
        await browser.GoAsync(alice, "#/approvals");
        await Expect(alice.Locator("#approvals-refused")).ToContainTextAsync("approver");
        await Expect(alice.Locator("button.approve")).ToHaveCountAsync(0);
        await ConsoleBrowser.ScreenshotAsync(alice, "13-approvals-not-an-approver");
        await browser.GoAsync(alice, $"#/tasks/{taskId}");
        await Expect(alice.Locator("h1 .badge")).ToHaveTextAsync("AwaitingApproval");
        await Expect(alice.Locator("button.approve")).ToHaveCountAsync(0);

        // ...and the API refuses her anyway, from the console's own origin with her credentials, and over HTTP.
        var status = await alice.EvaluateAsync<int>(
            "async id => (await fetch(`/api/governance/approvals/${id}/approve`, { method: 'POST', headers: { 'X-Api-Key': JSON.parse(sessionStorage.getItem('agents.credential')).value, 'Content-Type': 'application/json' }, body: '{}' })).status",
            approvalId.ToString());
        Assert.Equal(403, status);
        using var refused = await TaskClient.DecideAsync(aliceApi, approvalId, approve: true, "self-approval");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("Pending", JsonNode.Parse(await bobApi.GetStringAsync(new Uri($"api/governance/approvals/{approvalId}", UriKind.Relative)))!["status"]!.GetValue<string>());

        using var rejected = await TaskClient.DecideAsync(bobApi, approvalId, approve: false, "not needed");
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
    }

    /// <summary>Fills the Tasks page's submit form with the demo's triage task for <paramref name="customerId"/> and a knowledge-base article.</summary>
    private async Task FillTriageAsync(IPage page, string customerId, string article)
    {
        await page.Locator("#submit-panel summary").ClickAsync();
        await page.Locator("#submit-template").SelectOptionAsync("triage-customer-issue");
        await page.Locator("#submit-parameters").FillAsync(
            $"customerId={customerId}\nquestion=I cannot log in since yesterday\narticle={platform.KnowledgeBaseUrl(article)}");
    }

    /// <summary>The dead-letters page, opened again until it lists <paramref name="queue"/> with messages (for up to 90 s).</summary>
    private static async Task<ILocator> DeadLetterQueueLinkAsync(ConsoleBrowser browser, IPage page, string queue)
    {
        var link = page.Locator($"#dead-letter-queues tr[data-queue='{queue}'] a");
        await Poll.UntilAsync(
            async () =>
            {
                await browser.GoAsync(page, $"#/dead-letters?seen={DateTime.UtcNow.Ticks}");
                await Expect(page.Locator("#dead-letter-queues")).ToBeVisibleAsync();
                return await link.CountAsync() > 0;
            },
            TimeSpan.FromSeconds(90),
            $"the dead-letters page to list {queue} with messages",
            TimeSpan.FromSeconds(1));
        return link;
    }
}
