using System.Text;
using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>A tenant's daily budget holds across tasks running at the same time, through every service.</summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class DailyBudgetTests(PlatformFixture platform)
{
    private const int TenantDailyTokens = 250;

    private const string Policy = """
        {
          "enabled": true,
          "adminRole": "admin",
          "approverRoles": ["admin"],
          "roles": { "agent-user": { "tools": [], "scopes": [] } },
          "budgets": {
            "perTask": { "tokens": 50000, "cost": 1.0, "toolCalls": 25, "steps": 25, "wallClockSeconds": 900 },
            "perUserPerDay": { "tokens": 500000, "cost": 10.0, "toolCalls": 500 },
            "perTenantPerDay": { "tokens": 250, "cost": 100.0, "toolCalls": 5000 }
          }
        }
        """;

    [Fact]
    public async Task Concurrent_tasks_cannot_together_spend_more_model_tokens_than_the_tenant_has_for_the_day()
    {
        using var erin = platform.CreateClient(PlatformFixture.ErinKey);
        using (var put = await erin.PutAsync(new Uri("api/governance/policy", UriKind.Relative), new StringContent(Policy, Encoding.UTF8, "application/json")))
        {
            Assert.True(put.IsSuccessStatusCode, $"PUT policy answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }

        // Each task is one model step of about 90 tokens; the tenant's day has room for fewer than three.
        var ids = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => TaskClient.SubmitAsync(erin, new
        {
            steps = new[] { new { id = "greet", kind = "model", prompt = $"Say hello to customer number {i} and thank them for their patience", dependsOn = Array.Empty<string>() } },
        })));
        var tasks = await Task.WhenAll(ids.Select(id => TaskClient.WaitUntilAsync(
            erin, id, t => TaskClient.TerminalStatuses.Contains(TaskClient.Status(t)), TimeSpan.FromSeconds(90), "a terminal status")));

        var statuses = tasks.Select(TaskClient.Status).ToList();
        Assert.Contains("Completed", statuses);
        var stopped = tasks.Where(t => TaskClient.Status(t) is "BudgetExceeded" or "Rejected").ToList();
        Assert.NotEmpty(stopped);
        Assert.All(stopped, t => Assert.Contains("budget exhausted", t.GetProperty("reason").GetString(), StringComparison.Ordinal));
        Assert.All(statuses, s => Assert.Contains(s, new[] { "Completed", "BudgetExceeded", "Rejected" }));

        // The ledger ends at exactly what the tasks used (each reservation settled with the call's real usage),
        // and that is within the day's budget.
        var used = tasks.Sum(t => t.GetProperty("usage").GetProperty("tokens").GetInt64());
        Assert.InRange(used, 1, TenantDailyTokens);
        long ledger = 0;
        await Poll.UntilAsync(
            async () =>
            {
                using var usage = JsonDocument.Parse(await erin.GetStringAsync(new Uri("api/governance/usage", UriKind.Relative)));
                return (ledger = usage.RootElement.GetProperty("tenant").GetProperty("tokens").GetInt64()) == used;
            },
            () => $"the tenant's ledger to show the {used} tokens the tasks used (it shows {ledger})",
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(200));
    }
}
