using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Governance.Data;
using Agents.Governance.Watchdog;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Governance.Tests;

/// <summary>A governance host whose watchdog judges the tenants every 300 ms.</summary>
public sealed class WatchdogHost : IAsyncLifetime
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(300);

    public GovernanceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GovernanceHost.StartAsync(watchdogInterval: Interval);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

[Trait("Category", "Infrastructure")]
public sealed class WatchdogTests(WatchdogHost shared) : IClassFixture<WatchdogHost>
{
    private GovernanceHost Host => shared.Host;

    private static string Policy(string watchdog) => $$"""
        {
          "enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
          "roles": { "reader": { "tools": ["crm.*"], "scopes": ["crm.read"] } },
          "loopDetection": { "maxIdenticalCalls": 3 }{{watchdog}}
        }
        """;

    [Fact]
    public async Task A_burst_of_denied_calls_raises_one_alert_and_trips_the_tools_kill_switch_when_the_policy_says_so()
    {
        var tenant = TestInfrastructure.UniqueName("wd-deny");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "denialSpike": { "minDenied": 5, "minShare": 0.5, "killSwitch": "tool" } }"""));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var published = new TaskCompletionSource<WatchdogAlert>(TaskCreationOptions.RunContinuationsAsynchronously);
        var observer = Host.Bus.ConnectReceiveEndpoint(e => e.Handler<WatchdogAlert>(context =>
        {
            if (context.Message.TenantId == tenant)
            {
                published.TrySetResult(context.Message);
            }

            return Task.CompletedTask;
        }));
        await observer.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        // The reader may not use tickets.create: every call is denied by policy.
        for (var i = 0; i < 6; i++)
        {
            var denied = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));
            Assert.Equal(AuthorizationDecision.Deny, denied.Decision);
        }

        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);
        var switched = await Host.QueryAsync(db => db.KillSwitches.AsNoTracking().SingleAsync(k => k.TenantId == tenant));
        var afterwards = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));
        var otherTool = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));

        // Another pass finds the same anomaly and raises no second alert within the window.
        var again = await EvaluateAsync(tenant);
        Assert.Empty(again);
        var alerts = await AlertsAsync(tenant);
        var alert = Assert.Single(alerts);
        Assert.Equal(TenantWatchdog.DenialSpike, alert.Decision);
        Assert.Equal("tool/tickets.create", alert.Subject);
        // The watchdog runs in the background while the calls are made: it may raise the spike at the fifth denial (the
        // threshold) or after the sixth.
        Assert.Matches("^(5 of 5|6 of 6) authorizations of tool 'tickets.create' denied", alert.Reason);
        Assert.Equal("tickets.create", switched.Tool);
        Assert.True(switched.Enabled);
        Assert.Equal(TenantWatchdog.Actor, switched.ChangedBy);
        var trip = Assert.Single(await EntriesAsync(tenant, TenantWatchdog.KillSwitchAction));
        Assert.Equal("tool/tickets.create", trip.Subject);
        Assert.Equal(AuthorizationDecision.Deny, afterwards.Decision);
        Assert.Contains("kill switch is on for tool 'tickets.create'", afterwards.Reason, StringComparison.Ordinal);
        Assert.Equal(AuthorizationDecision.Allow, otherTool.Decision);
        Assert.True((await AuditOf(tenant)).Ok);
        var alertEvent = await published.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(TenantWatchdog.DenialSpike, alertEvent.Rule);
        Assert.Equal("tool/tickets.create", alertEvent.Subject);
        Assert.Equal("tickets.create", alertEvent.KillSwitch);
        await observer.StopAsync();
    }

    [Fact]
    public async Task Without_a_watchdog_section_a_denial_spike_alerts_with_the_defaults_and_trips_nothing()
    {
        var tenant = TestInfrastructure.UniqueName("wd-default");
        await Host.PutPolicyAsync(tenant, Policy(string.Empty));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);

        // Below the default threshold (20 denials) nothing is raised...
        for (var i = 0; i < 19; i++)
        {
            await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));
        }

        var belowThreshold = await EvaluateAsync(tenant);

        // ...the twentieth denial is a spike.
        await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));
        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);
        var allowed = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));

        Assert.Empty(belowThreshold);
        Assert.Equal(TenantWatchdog.DenialSpike, Assert.Single(await AlertsAsync(tenant)).Decision);
        Assert.Empty(await Host.QueryAsync(db => db.KillSwitches.AsNoTracking().Where(k => k.TenantId == tenant).ToListAsync()));
        Assert.Empty(await EntriesAsync(tenant, TenantWatchdog.KillSwitchAction));
        Assert.Equal(AuthorizationDecision.Allow, allowed.Decision);
    }

    [Fact]
    public async Task A_task_far_above_the_tenants_cost_baseline_raises_a_cost_alert_and_trips_the_tenants_kill_switch_by_policy()
    {
        var tenant = TestInfrastructure.UniqueName("wd-cost");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "taskCost": { "factor": 5, "minSamples": 5, "killSwitch": "tenant" } }"""));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var usual = new[] { 0.010m, 0.012m, 0.009m, 0.011m, 0.010m, 0.013m };
        foreach (var cost in usual)
        {
            await FinishAsync(user, Guid.NewGuid(), cost);
        }

        await Poll.UntilAsync(async () => await FinishedAsync(tenant) == usual.Length);
        var normal = await EvaluateAsync(tenant);

        var expensive = Guid.NewGuid();
        await FinishAsync(user, expensive, 0.500m);
        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);
        var afterwards = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));
        var again = await EvaluateAsync(tenant);

        Assert.Empty(normal);
        Assert.Empty(again);
        var alert = Assert.Single(await AlertsAsync(tenant));
        Assert.Equal(TenantWatchdog.TaskCost, alert.Decision);
        Assert.Equal(expensive, alert.TaskId);
        Assert.Equal($"task/{expensive}", alert.Subject);
        Assert.Contains("task cost 0.500000 is 47.6x the median 0.0105", alert.Reason, StringComparison.Ordinal);
        var switched = await Host.QueryAsync(db => db.KillSwitches.AsNoTracking().SingleAsync(k => k.TenantId == tenant));
        Assert.Equal(KillSwitch.TenantWide, switched.Tool);
        Assert.True(switched.Enabled);
        Assert.Equal("tenant", Assert.Single(await EntriesAsync(tenant, TenantWatchdog.KillSwitchAction)).Subject);
        Assert.Equal(AuthorizationDecision.Deny, afterwards.Decision);
        Assert.Contains($"kill switch is on for tenant '{tenant}'", afterwards.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_template_has_its_own_cost_baseline_so_an_expensive_template_is_no_anomaly_and_a_cheap_one_run_dear_is()
    {
        var tenant = TestInfrastructure.UniqueName("wd-tpl");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "taskCost": { "factor": 5, "minSamples": 5 } }"""));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        // Ten cheap lookups and six research tasks that always cost about fifty times as much: against the tenant's median
        // (a lookup's) every research task would be an anomaly; against its own template's, none is.
        var lookups = new[] { 0.0010m, 0.0011m, 0.0009m, 0.0010m, 0.0012m, 0.0010m, 0.0011m, 0.0009m, 0.0010m, 0.0010m };
        var research = new[] { 0.050m, 0.055m, 0.048m, 0.052m, 0.050m, 0.051m };
        // The research tasks first: a template with too few tasks of its own is judged against the tenant's median, and
        // the watchdog runs in the background meanwhile.
        foreach (var cost in research)
        {
            await FinishAsync(user, Guid.NewGuid(), cost, "research");
        }

        foreach (var cost in lookups)
        {
            await FinishAsync(user, Guid.NewGuid(), cost, "lookup");
        }

        await Poll.UntilAsync(async () => await FinishedAsync(tenant) == lookups.Length + research.Length);
        var normal = await EvaluateAsync(tenant);

        // A lookup that costs what a research task does is far above its own template's bar.
        var dear = Guid.NewGuid();
        await FinishAsync(user, dear, 0.020m, "lookup");
        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);

        Assert.Empty(normal);
        var alert = Assert.Single(await AlertsAsync(tenant));
        Assert.Equal(TenantWatchdog.TaskCost, alert.Decision);
        Assert.Equal(dear, alert.TaskId);
        Assert.Contains("task cost 0.020000 is 20x the median 0.001000 of 10 other tasks of template 'lookup'", alert.Reason, StringComparison.Ordinal);
        Assert.Equal("lookup", await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == dear).Select(t => t.Template).SingleAsync()));
    }

    [Fact]
    public async Task A_tool_failing_most_of_its_calls_raises_a_failure_alert_and_trips_its_kill_switch_by_policy()
    {
        var tenant = TestInfrastructure.UniqueName("wd-fail");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "toolFailure": { "minFailures": 3, "minShare": 0.6, "killSwitch": "tool" } }"""));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var task = Guid.NewGuid();
        Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(task, user, "goal", null, null)));
        var before = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));

        await Host.SendAsync<ToolCallCompleted, ToolExecutionAuditConsumer>(new ToolCallCompleted(task, "s0", "crm.lookup-customer", ToolCallOutcome.Succeeded, "{}", null, true, 1, 12));
        await Host.SendAsync<ToolCallCompleted, ToolExecutionAuditConsumer>(new ToolCallCompleted(task, "s1", "crm.lookup-customer", ToolCallOutcome.Failed, null, "500 from the CRM", true, 3, 40));
        await Host.SendAsync<ToolCallCompleted, ToolExecutionAuditConsumer>(new ToolCallCompleted(task, "s2", "crm.lookup-customer", ToolCallOutcome.TimedOut, null, "no answer in 2 s", true, 1, 2000));
        await Poll.UntilAsync(async () => (await EntriesAsync(tenant, "tool.executed")).Count + (await EntriesAsync(tenant, "tool.failed")).Count + (await EntriesAsync(tenant, "tool.timed-out")).Count == 3);
        var belowThreshold = await EvaluateAsync(tenant);

        await Host.SendAsync<ToolCallCompleted, ToolExecutionAuditConsumer>(new ToolCallCompleted(task, "s3", "crm.lookup-customer", ToolCallOutcome.Failed, null, "500 from the CRM", true, 3, 41));
        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);
        var afterwards = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));

        Assert.Empty(belowThreshold);
        Assert.Equal(AuthorizationDecision.Allow, before.Decision);
        await AssertToolAlertTrippedItsSwitchAsync(
            tenant, TenantWatchdog.ToolFailure, "crm.lookup-customer", "3 of 4 executions of tool 'crm.lookup-customer' failed in the window (75%; 1 timed out)", afterwards);
    }

    [Fact]
    public async Task Approvals_people_mostly_reject_raise_a_rejection_alert_for_the_tool_and_trip_its_kill_switch_by_policy()
    {
        var tenant = TestInfrastructure.UniqueName("wd-reject");
        await Host.PutPolicyAsync(tenant, $$"""
            {
              "enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
              "roles": { "writer": { "tools": ["tickets.*", "crm.*"], "scopes": ["tickets.*", "crm.*"] } },
              "approvalRules": [ { "sideEffect": "Mutating", "minRisk": "Low" } ],
              "watchdog": { "approvalRejection": { "minRejected": 3, "minShare": 0.6, "killSwitch": "tool" } }
            }
            """);
        var user = new AgentPrincipal(tenant, "u1", ["writer"]);
        using var approver = Host.ClientFor(new AgentPrincipal(tenant, "a1", ["approver"]));
        async Task DecideAsync(string tool, bool approve)
        {
            var gate = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), tool, """{"title":"t"}""", SideEffectClass.Mutating, RiskTier.Medium, tool.Split('.')[0] + ".write"));
            Assert.Equal(AuthorizationDecision.RequireApproval, gate.Decision);
            using var decided = await approver.PostAsJsonAsync(
                new Uri($"/api/governance/approvals/{gate.ApprovalId}/{(approve ? "approve" : "reject")}", UriKind.Relative), new { comment = "judged" });
            await decided.BodyAsync(HttpStatusCode.OK);
        }

        // One approved and two rejected: under the count. Another tool's approvals are mostly granted.
        await DecideAsync("tickets.create", approve: true);
        await DecideAsync("tickets.create", approve: false);
        await DecideAsync("tickets.create", approve: false);
        foreach (var approve in new[] { true, true, true, false })
        {
            await DecideAsync("crm.update-customer", approve);
        }

        var belowThreshold = await EvaluateAsync(tenant);

        // A third rejection: 3 of 4 (75 %).
        await DecideAsync("tickets.create", approve: false);
        await Poll.UntilAsync(async () => (await AlertsAsync(tenant)).Count > 0);
        var afterwards = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", """{"title":"t"}""", SideEffectClass.Mutating, RiskTier.Medium, "tickets.write"));
        var otherTool = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.update-customer", """{"title":"t"}""", SideEffectClass.Mutating, RiskTier.Medium, "crm.write"));
        var again = await EvaluateAsync(tenant);

        Assert.Empty(belowThreshold);
        Assert.Empty(again);
        await AssertToolAlertTrippedItsSwitchAsync(
            tenant, TenantWatchdog.ApprovalRejections, "tickets.create", "3 of 4 approvals of tool 'tickets.create' decided in the window were rejected (75%)", afterwards);
        Assert.Equal(AuthorizationDecision.RequireApproval, otherTool.Decision);
        Assert.True((await AuditOf(tenant)).Ok);
        var scrape = await PrometheusText.ScrapeUntilAsync(
            approver, s => s.Has("agents_watchdog_alerts_total", ("agents_tenant", tenant)), TimeSpan.FromSeconds(30), "the watchdog alert counter");
        Assert.Equal(1, scrape.Sum(
            "agents_watchdog_alerts_total", ("agents_tenant", tenant), ("agents_watchdog_rule", TenantWatchdog.ApprovalRejections), ("agents_watchdog_kill_switch", "tool")));
    }

    [Fact]
    public async Task Normal_traffic_raises_no_alert()
    {
        var tenant = TestInfrastructure.UniqueName("wd-normal");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "denialSpike": { "minDenied": 5, "killSwitch": "tenant" }, "taskCost": { "killSwitch": "tenant" } }"""));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);

        // Mostly allowed calls with a few denials (under the share), and tasks of similar cost.
        for (var i = 0; i < 12; i++)
        {
            var allowed = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));
            Assert.Equal(AuthorizationDecision.Allow, allowed.Decision);
        }

        for (var i = 0; i < 4; i++)
        {
            await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.write"));
        }

        var costs = new[] { 0.02m, 0.03m, 0.025m, 0.05m, 0.04m, 0.02m, 0.09m };
        foreach (var cost in costs)
        {
            await FinishAsync(user, Guid.NewGuid(), cost);
        }

        await Poll.UntilAsync(async () => await FinishedAsync(tenant) == costs.Length);
        var found = await EvaluateAsync(tenant);
        var again = await EvaluateAsync(tenant);

        Assert.Empty(found);
        Assert.Empty(again);
        Assert.Empty(await AlertsAsync(tenant));
        Assert.Empty(await Host.QueryAsync(db => db.KillSwitches.AsNoTracking().Where(k => k.TenantId == tenant).ToListAsync()));
    }

    [Theory]
    [InlineData("""{ "denialSpike": { "minShare": 2 } }""", "/watchdog/denialSpike/minShare")]
    [InlineData("""{ "denialSpike": { "minDenied": 0 } }""", "/watchdog/denialSpike/minDenied")]
    [InlineData("""{ "denialSpike": { "minDenied": 2.5 } }""", "/watchdog/denialSpike/minDenied")]
    [InlineData("""{ "denialSpike": { "killSwitch": "everything" } }""", "/watchdog/denialSpike/killSwitch")]
    [InlineData("""{ "taskCost": { "killSwitch": "tool" } }""", "/watchdog/taskCost/killSwitch")]
    [InlineData("""{ "taskCost": { "factor": 1 } }""", "/watchdog/taskCost/factor")]
    [InlineData("""{ "taskCost": { "minSamples": 1 } }""", "/watchdog/taskCost/minSamples")]
    [InlineData("""{ "toolFailure": { "minShare": 0 } }""", "/watchdog/toolFailure/minShare")]
    [InlineData("""{ "toolFailure": { "minFailures": "ten" } }""", "/watchdog/toolFailure/minFailures")]
    [InlineData("""{ "approvalRejection": { "minRejected": 0 } }""", "/watchdog/approvalRejection/minRejected")]
    [InlineData("""{ "approvalRejection": { "minShare": 1.5 } }""", "/watchdog/approvalRejection/minShare")]
    [InlineData("""{ "taskcost": {} }""", "/watchdog/taskcost")]
    [InlineData("[]", "/watchdog")]
    public async Task A_bad_watchdog_section_is_a_400_naming_the_field(string section, string pointer)
    {
        var tenant = TestInfrastructure.UniqueName("wd-bad");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));
        using var content = new StringContent(Policy($", \"watchdog\": {section}"), System.Text.Encoding.UTF8, "application/json");

        using var response = await admin.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), content);

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(pointer, out _), problem.RootElement.ToString());
    }

    [Fact]
    public async Task A_watchdog_section_is_kept_with_its_defaults_filled_in()
    {
        var tenant = TestInfrastructure.UniqueName("wd-read");
        await Host.PutPolicyAsync(tenant, Policy(""", "watchdog": { "denialSpike": { "killSwitch": "tenant" } }"""));
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));

        using var policy = JsonDocument.Parse(await admin.GetStringAsync(new Uri("/api/governance/policy", UriKind.Relative)));

        var watchdog = policy.RootElement.GetProperty("document").GetProperty("watchdog");
        Assert.Equal("Tenant", watchdog.GetProperty("denialSpike").GetProperty("killSwitch").GetString());
        Assert.Equal(20, watchdog.GetProperty("denialSpike").GetProperty("minDenied").GetInt32());
        Assert.Equal(5, watchdog.GetProperty("taskCost").GetProperty("factor").GetDecimal());
        Assert.Equal("None", watchdog.GetProperty("toolFailure").GetProperty("killSwitch").GetString());
        Assert.Equal(5, watchdog.GetProperty("approvalRejection").GetProperty("minRejected").GetInt32());
    }

    /// <summary>One alert of <paramref name="rule"/> on the tool, whose kill switch it turned on and which denies the call after it.</summary>
    private async Task AssertToolAlertTrippedItsSwitchAsync(string tenant, string rule, string tool, string reason, ToolCallAuthorization afterwards)
    {
        var alert = Assert.Single(await AlertsAsync(tenant));
        Assert.Equal(rule, alert.Decision);
        Assert.Equal($"tool/{tool}", alert.Subject);
        Assert.Contains(reason, alert.Reason, StringComparison.Ordinal);
        var switched = await Host.QueryAsync(db => db.KillSwitches.AsNoTracking().SingleAsync(k => k.TenantId == tenant));
        Assert.Equal(tool, switched.Tool);
        Assert.Equal(AuthorizationDecision.Deny, afterwards.Decision);
        Assert.Contains($"kill switch is on for tool '{tool}'", afterwards.Reason, StringComparison.Ordinal);
    }

    private Task FinishAsync(AgentPrincipal user, Guid task, decimal cost, string? template = null) =>
        Host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(
            new TaskRunFinished(task, user, template is null ? "goal" : null, TaskRunStatus.Completed, "ok", null, new TaskUsage(2, 1, 100, 20, cost), DateTimeOffset.UtcNow, Template: template));

    private Task<int> FinishedAsync(string tenant) =>
        Host.QueryAsync(db => db.Tasks.CountAsync(t => t.TenantId == tenant && t.FinishedStatus != null));

    private Task<List<AuditEntry>> AlertsAsync(string tenant) => EntriesAsync(tenant, TenantWatchdog.AlertAction);

    private Task<List<AuditEntry>> EntriesAsync(string tenant, string action) =>
        Host.QueryAsync(db => db.Audit.AsNoTracking().Where(e => e.TenantId == tenant && e.Action == action).ToListAsync());

    private Task<Audit.AuditVerification> AuditOf(string tenant) =>
        Host.QueryAsync(db => new Audit.AuditLog(db, TimeProvider.System).VerifyAsync(tenant, CancellationToken.None));

    /// <summary>Runs one judgement of the tenant now (as a pass would) and returns what it raised.</summary>
    private async Task<IReadOnlyList<WatchdogFinding>> EvaluateAsync(string tenant)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GovernanceDbContext>();
        var head = await db.AuditHeads.AsNoTracking().SingleAsync(h => h.TenantId == tenant);
        return await scope.ServiceProvider.GetRequiredService<TenantWatchdog>().EvaluateAsync(tenant, head.LastSequence, CancellationToken.None);
    }
}
