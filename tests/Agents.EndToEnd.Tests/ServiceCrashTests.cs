using System.Net;
using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// Crashes (SIGKILL) of the services a task passes through, other than the executor (see
/// <see cref="TaskLifecycleTests"/>): nothing is lost, nothing runs twice, and a service that is down only
/// delays what depends on it.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ServiceCrashTests(PlatformFixture platform)
{
    [Fact]
    public async Task Governance_the_tool_gateway_and_the_tool_crashing_around_an_approval_lose_nothing_and_the_ticket_is_created_once()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        using var bob = platform.CreateClient(PlatformFixture.BobKey);
        using var carol = platform.CreateClient(PlatformFixture.CarolKey);
        var id = await platform.SubmitTriageAsync(alice, "C-1004");
        await TaskClient.WaitForStatusAsync(alice, id, "AwaitingApproval");

        // Governance crashes while the approval is pending: the approval is still there afterwards.
        await platform.RestartAsync("governance");
        var approval = await TaskClient.FindPendingApprovalAsync(bob, id, TimeSpan.FromSeconds(30));

        // The tool-gateway and the ticket tool are both down when the approval is given: the executor's
        // InvokeTool waits in RabbitMQ until the tool-gateway is back, which then calls the restarted tool.
        await platform.RestartAsync("toolgateway", () => platform.RestartAsync("tool-tickets", async () =>
        {
            using var approved = await TaskClient.DecideAsync(bob, approval.GetProperty("id").GetGuid(), approve: true, "approved while the tools are down");
            Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        }));

        var task = await TaskClient.WaitForStatusAsync(alice, id, "Completed", TimeSpan.FromSeconds(120));
        Assert.StartsWith("T-", task.GetProperty("result").GetProperty("ticket").GetProperty("ticketId").GetString(), StringComparison.Ordinal);
        // One ticket. The tool's code ran once, or (on a machine so busy that its first run overran the tool's timeout,
        // a transient failure the ledger records) once more, which found the ticket by its idempotency key.
        Assert.Equal(1, await platform.TicketsOfAsync(id));
        Assert.InRange(await platform.TicketExecutionsAsync(id), 1, 2);

        // The audit chain written across the crashes is whole.
        using var verify = JsonDocument.Parse(await carol.GetStringAsync(new Uri("api/governance/audit/verify", UriKind.Relative)));
        Assert.True(verify.RootElement.GetProperty("ok").GetBoolean(), verify.RootElement.ToString());
        using var trail = await TaskClient.AuditTrailAsync(carol, id, t => TaskClient.ToolCalls(t, "tickets.create").Count >= 2);
        var actions = trail.RootElement.EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("approval.decided", actions);
        var ticketCalls = TaskClient.ToolCalls(trail.RootElement, "tickets.create");
        // The first answer was the approval gate (the tool did not run); then exactly one execution.
        Assert.Equal(["tool.awaiting-approval ApprovalRequired", "tool.executed Succeeded"], ticketCalls);
    }

    [Fact]
    public async Task A_task_runs_while_memory_is_down_and_its_episode_is_remembered_when_memory_is_back()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        var memory = platform.Processes["memory"];
        Guid id;
        await memory.KillAsync();
        try
        {
            // A goal: its planner reads memories (templates and explicit steps never ask memory).
            id = await TaskClient.SubmitAsync(alice, new { goal = "Look up customer C-1003 and summarize what we know about them." });

            // The executor stops waiting for memories after Executor:MemoryRecallTimeout and plans without them.
            await TaskClient.WaitForStatusAsync(alice, id, "Completed", TimeSpan.FromSeconds(60));
            var log = await alice.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative));
            Assert.Contains("memory-recall-timed-out", log, StringComparison.Ordinal);
        }
        finally
        {
            memory.Start();
            await memory.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        }

        // TaskRunFinished waited in RabbitMQ: memory stores the task's episode once it is back.
        var status = HttpStatusCode.NotFound;
        var body = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await alice.GetAsync(new Uri($"api/memories/{id}", UriKind.Relative));
                status = response.StatusCode;
                body = await response.Content.ReadAsStringAsync();
                return status == HttpStatusCode.OK;
            },
            () => $"the episode of task {id} to be stored (last answer {(int)status} {body})",
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(500));
        using var episode = JsonDocument.Parse(body);
        Assert.Equal("episodic", episode.RootElement.GetProperty("kind").GetString());
        Assert.Contains("completed", episode.RootElement.GetProperty("text").GetString()!, StringComparison.Ordinal);
    }
}
