using System.Net.Http.Json;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Governance.Policies;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ModelBudgetTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private const decimal Price = 1000m;

    private GovernanceHost Host => shared.Host;

    private static string PolicyWithDailyTokens(long userTokens, long tenantTokens, decimal userCost = 10.0m) =>
        PolicyDefaults.DemoPolicyJson
            .Replace("\"perUserPerDay\": { \"tokens\": 500000, \"cost\": 10.0,", $"\"perUserPerDay\": {{ \"tokens\": {userTokens}, \"cost\": {userCost.ToString(System.Globalization.CultureInfo.InvariantCulture)},", StringComparison.Ordinal)
            .Replace("\"perTenantPerDay\": { \"tokens\": 5000000,", $"\"perTenantPerDay\": {{ \"tokens\": {tenantTokens},", StringComparison.Ordinal);

    private static ReserveModelBudget Reserve(AgentPrincipal user, Guid task, int input, int output, string step = "m", int attempt = 1) =>
        new(task, new ModelCallRef(step, attempt), user, input, output, Price, Price);

    [Fact]
    public void The_policy_text_these_tests_edit_is_the_demo_policy()
    {
        // Guards the string replacements above: if the demo policy changes shape they must fail loudly, not test nothing.
        Assert.Contains("\"tokens\": 777,", PolicyWithDailyTokens(777, 888), StringComparison.Ordinal);
        Assert.Contains("\"tokens\": 888,", PolicyWithDailyTokens(777, 888), StringComparison.Ordinal);
        Assert.Contains("\"cost\": 0.25,", PolicyWithDailyTokens(1, 2, 0.25m), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_model_calls_of_many_tasks_cannot_together_exceed_the_tenants_daily_tokens()
    {
        var tenant = TestInfrastructure.UniqueName("mtok");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 1_000_000, tenantTokens: 1_000));
        var requests = Enumerable.Range(0, 12)
            .Select(i => Reserve(new AgentPrincipal(tenant, $"user-{i % 3}", ["agent-user"]), Guid.NewGuid(), input: 50, output: 200))
            .ToArray();

        var answers = await Task.WhenAll(requests.Select(Host.ReserveAsync));

        // Four calls reserve the whole day (250 each); the others are told to come back: the room is only held.
        var granted = answers.Where(a => a.Granted).ToList();
        Assert.Equal(4, granted.Count);
        Assert.All(granted, a => Assert.Equal(200, a.MaxOutputTokens));
        Assert.All(answers.Where(a => !a.Granted), a =>
        {
            Assert.True(a.RetryLater);
            Assert.False(a.BudgetExhausted);
            Assert.StartsWith("budget held by model calls in flight: tenant today tokens", a.Reason, StringComparison.Ordinal);
        });
        Assert.Equal((1_000L, 1.0m), await DailyAsync(tenant, ""));

        // They report 90 tokens each; the waiting calls ask again, one at a time, until the day is really spent.
        var grantedRequests = requests.Where((_, i) => answers[i].Granted).ToList();
        foreach (var call in grantedRequests)
        {
            await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(call.TaskId, call.Principal, 50, 40, 0.09m, 0, call.Call), Guid.NewGuid());
        }

        await Poll.UntilAsync(async () => await DailyAsync(tenant, "") == (360L, 0.36m));
        var second = new List<ModelBudgetReservation>();
        foreach (var call in requests.Where((_, i) => !answers[i].Granted))
        {
            second.Add(await Host.ReserveAsync(call));
        }

        // 640 tokens left: two whole reservations (250 + 250) and one cut to 140 (50 in + 90 out); then nothing is left
        // that a report could give back soon enough to matter... except those three, so the rest wait again.
        Assert.Equal([200, 200, 90], second.Where(a => a.Granted).Select(a => a.MaxOutputTokens).ToArray());
        Assert.All(second.Where(a => !a.Granted), a => Assert.True(a.RetryLater));
        Assert.Equal((1_000L, 1.0m), await DailyAsync(tenant, ""));
    }

    [Fact]
    public async Task The_usage_report_settles_a_reservation_and_asking_again_reserves_nothing_more()
    {
        var tenant = TestInfrastructure.UniqueName("mset");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 10_000, tenantTokens: 100_000));
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();

        var first = await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200));
        var again = await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200));
        Assert.Equal(new ModelBudgetReservation(true, 200, null, false), first);
        Assert.Equal(first, again);
        Assert.Equal((250L, 0.25m), await DailyAsync(tenant, "u1"));

        // The call used 80 tokens: the ledger keeps those, once, whatever the broker redelivers.
        var report = new RecordUsage(task, user, 50, 30, 0.08m, 0, new ModelCallRef("m", 1));
        var reportId = Guid.NewGuid();
        // A report of another tenant sent after both is recorded after them: the ledger is settled once it is.
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(report, reportId);
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(report, reportId);
        var marker = Guid.NewGuid();
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(Guid.NewGuid(), new AgentPrincipal(tenant + "-other", "u1", ["agent-user"]), 1, 0, 0, 0), marker);
        await Host.WaitUntilUsageRecordedAsync(marker);
        Assert.Equal((80L, 0.08m), await DailyAsync(tenant, "u1"));
        Assert.Equal((80L, 0.08m), await DailyAsync(tenant, ""));
        var ledger = await Host.QueryAsync(db => db.Tasks.AsNoTracking().SingleAsync(t => t.TaskId == task));
        Assert.Equal((80L, 0.08m), (ledger.Tokens, ledger.Cost));
        var reservation = await Host.QueryAsync(db => db.ModelReservations.AsNoTracking().SingleAsync(r => r.TaskId == task));
        Assert.NotNull(reservation.SettledAt);

        // A later attempt of the same step is a new call with its own reservation.
        var retry = await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200, attempt: 2));
        Assert.True(retry.Granted);
        Assert.Equal((330L, 0.33m), await DailyAsync(tenant, "u1"));

        // The first call made again after it reported (its RunModelStep redelivered) is held to the day again, and its
        // report settles that new reservation: both runs of the call are counted, each once.
        var again2 = await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200));
        Assert.Equal(new ModelBudgetReservation(true, 200, null, false), again2);
        Assert.Equal((580L, 0.58m), await DailyAsync(tenant, "u1"));
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(task, user, 50, 20, 0.07m, 0, new ModelCallRef("m", 1)), Guid.NewGuid());
        await Poll.UntilAsync(async () => await DailyAsync(tenant, "u1") == (400L, 0.40m));
    }

    [Fact]
    public async Task A_usage_report_carried_by_the_tasks_end_settles_its_reservation()
    {
        var tenant = TestInfrastructure.UniqueName("mend");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 10_000, tenantTokens: 100_000));
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();
        Assert.True((await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200))).Granted);
        Assert.Equal((250L, 0.25m), await DailyAsync(tenant, "u1"));

        // The model step that ended the task reports with the end: the reservation is settled to the real usage.
        var report = new RecordUsage(task, user, 50, 30, 0.08m, 0, new ModelCallRef("m", 1));
        var finished = new TaskRunFinished(task, user, null, TaskRunStatus.Completed, "{}", null, new TaskUsage(1, 0, 50, 30, 0.08m), DateTimeOffset.UtcNow, [report]);
        await Host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(finished, Guid.NewGuid());
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == task && t.FinishedStatus != null)));

        Assert.Equal((80L, 0.08m), await DailyAsync(tenant, "u1"));
        Assert.Equal((80L, 0.08m), await DailyAsync(tenant, ""));
        var reservation = await Host.QueryAsync(db => db.ModelReservations.AsNoTracking().SingleAsync(r => r.TaskId == task));
        Assert.NotNull(reservation.SettledAt);
        var ledger = await Host.QueryAsync(db => db.Tasks.AsNoTracking().SingleAsync(t => t.TaskId == task));
        Assert.Equal((80L, 0.08m, "Completed"), (ledger.Tokens, ledger.Cost, ledger.FinishedStatus));
    }

    [Fact]
    public async Task The_output_cap_is_cut_to_what_the_users_daily_cost_budget_pays_for()
    {
        var tenant = TestInfrastructure.UniqueName("mcost");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 1_000_000, tenantTokens: 1_000_000, userCost: 1.0m));
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var first = Guid.NewGuid();

        // 1.0 buys 1,000 tokens at 1,000 a million: 100 go to the input, 900 are left for output.
        var granted = await Host.ReserveAsync(Reserve(user, first, input: 100, output: 5_000));
        Assert.Equal(new ModelBudgetReservation(true, 900, null, false), granted);

        // While that call is in flight the next one is told to come back; once it has reported spending all of it,
        // the day is spent and the next one is refused.
        var held = await Host.ReserveAsync(Reserve(user, Guid.NewGuid(), input: 1, output: 10));
        Assert.True(held is { Granted: false, RetryLater: true }, held.ToString());
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(first, user, 100, 900, 1.0m, 0, new ModelCallRef("m", 1)), Guid.NewGuid());
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.ModelReservations.AnyAsync(r => r.TaskId == first && r.SettledAt != null)));

        var refused = await Host.ReserveAsync(Reserve(user, Guid.NewGuid(), input: 1, output: 10));
        Assert.False(refused.Granted);
        Assert.False(refused.RetryLater);
        Assert.True(refused.BudgetExhausted);
        Assert.StartsWith($"budget exhausted: user 'u1' today cost 1/1", refused.Reason, StringComparison.Ordinal);
        Assert.Equal((1_000L, 1.0m), await DailyAsync(tenant, "u1"));
    }

    [Fact]
    public async Task A_tenant_kill_switch_refuses_model_calls_too()
    {
        var tenant = TestInfrastructure.UniqueName("mkill");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        using var on = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { enabled = true, reason = "incident" });
        Assert.True(on.IsSuccessStatusCode, await on.Content.ReadAsStringAsync());

        var refused = await Host.ReserveAsync(Reserve(user, Guid.NewGuid(), input: 10, output: 10));

        Assert.Equal(new ModelBudgetReservation(false, 0, $"kill switch is on for tenant '{tenant}'", false), refused);
        Assert.Null(await Host.QueryAsync(db => db.DailyUsage.AsNoTracking().SingleOrDefaultAsync(d => d.TenantId == tenant && d.UserId == "u1")));
    }

    [Fact]
    public async Task A_reservation_asked_after_the_call_already_reported_is_refused_and_charges_nothing()
    {
        var tenant = TestInfrastructure.UniqueName("mlate");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 10_000, tenantTokens: 100_000));
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();

        // The executor gave up waiting for governance and reported the failed call (nothing used) first.
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(task, user, 0, 0, 0m, 0, new ModelCallRef("m", 1)), Guid.NewGuid());
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.ModelReservations.AnyAsync(r => r.TaskId == task)));

        var late = await Host.ReserveAsync(Reserve(user, task, input: 50, output: 200));

        Assert.False(late.Granted);
        Assert.False(late.BudgetExhausted);
        Assert.Equal(0L, await Host.QueryAsync(db => db.DailyUsage.Where(d => d.TenantId == tenant && d.UserId == "u1").SumAsync(d => d.Tokens)));
    }

    [Fact]
    public async Task Model_calls_of_a_finished_task_or_a_disabled_tenant_are_refused()
    {
        var tenant = TestInfrastructure.UniqueName("mfin");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();
        Assert.True((await Host.ReserveAsync(Reserve(user, task, input: 10, output: 10))).Granted);
        var finished = new TaskRunFinished(task, user, "goal", TaskRunStatus.Cancelled, null, "cancelled", new TaskUsage(1, 0, 0, 0, 0m), DateTimeOffset.UtcNow);
        await Host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(finished, Guid.NewGuid());
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == task && t.FinishedStatus != null)));

        var afterEnd = await Host.ReserveAsync(Reserve(user, task, input: 10, output: 10, attempt: 2));
        Assert.Equal(new ModelBudgetReservation(false, 0, $"task {task} has already finished (Cancelled)", false), afterEnd);

        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson.Replace("\"enabled\": true", "\"enabled\": false", StringComparison.Ordinal));
        var disabled = await Host.ReserveAsync(Reserve(user, Guid.NewGuid(), input: 10, output: 10));
        Assert.False(disabled.Granted);
        Assert.StartsWith($"tenant '{tenant}' is disabled by its policy", disabled.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reservation_that_carries_its_model_step_sends_the_step_on_to_the_worker_with_the_answer()
    {
        var tenant = TestInfrastructure.UniqueName("mfwd");
        await Host.PutPolicyAsync(tenant, PolicyWithDailyTokens(userTokens: 1_000_000, tenantTokens: 300));
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var steps = new System.Collections.Concurrent.ConcurrentQueue<RunModelStep>();
        var answers = new System.Collections.Concurrent.ConcurrentQueue<ModelBudgetReservation>();
        var worker = Host.Bus.ConnectReceiveEndpoint(e =>
        {
            e.Handler<RunModelStep>(context =>
            {
                steps.Enqueue(context.Message);
                return Task.CompletedTask;
            });
            e.Handler<ModelBudgetReservation>(context =>
            {
                answers.Enqueue(context.Message);
                return Task.CompletedTask;
            });
        });
        var ready = await worker.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            RunModelStep Step(Guid task) => new(task, "m", 1, user, "system", "prompt", false, 200);
            var first = Guid.NewGuid();
            var second = Guid.NewGuid();
            await Host.SendAsync<ReserveModelBudget, ReserveModelBudgetConsumer>(
                Reserve(user, first, input: 50, output: 200) with { ThenRun = Step(first), ThenRunAt = ready.InputAddress });
            await Poll.UntilAsync(() => Task.FromResult(steps.Count == 1));
            // The day has 300 tokens: the second call's 250 do not fit beside the first's, so it is sent on with "retry later".
            await Host.SendAsync<ReserveModelBudget, ReserveModelBudgetConsumer>(
                Reserve(user, second, input: 50, output: 200) with { ThenRun = Step(second), ThenRunAt = ready.InputAddress });
            await Poll.UntilAsync(() => Task.FromResult(steps.Count == 2));

            var sent = steps.ToArray();
            Assert.Equal((first, "prompt", new ModelBudgetReservation(true, 200, null, false)), (sent[0].TaskId, sent[0].Prompt, sent[0].Reservation));
            Assert.Equal(second, sent[1].TaskId);
            Assert.Equal((false, true), (sent[1].Reservation!.Granted, sent[1].Reservation!.RetryLater));
            Assert.Equal((250L, 0.25m), await DailyAsync(tenant, "u1"));
            // Nothing was answered to a requester: the step carried the answer.
            Assert.Empty(answers);
        }
        finally
        {
            await worker.StopAsync();
        }
    }

    private Task<(long Tokens, decimal Cost)> DailyAsync(string tenant, string user) =>
        Host.QueryAsync(async db => await db.DailyUsage.AsNoTracking()
            .Where(d => d.TenantId == tenant && d.UserId == user)
            .Select(d => new ValueTuple<long, decimal>(d.Tokens, d.Cost))
            .SingleAsync());
}
