using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Tests;

/// <summary>A replay runs the original's request again with every tool call, model call and goal plan answered from the original's log.</summary>
[Trait("Category", "Unit")]
public sealed class ReplayTests
{
    private static readonly PlanStep[] Steps =
    [
        new("lookup", StepKind.Tool, "crm.lookup-customer", """{"customerId":"C-1"}""", null, []),
        new("draft", StepKind.Model, null, null, "Summarize {{steps.lookup.output.name}}", ["lookup"]),
    ];

    [Fact]
    public async Task A_replay_of_a_goal_task_calls_no_tool_no_model_and_no_planner_and_reproduces_the_result()
    {
        await using var run = await TaskRunHarness.StartAsync();
        var original = await RunOriginalAsync(run);
        var modelCalls = run.Chat.Calls.Count;

        var replay = await run.SubmitReplayAsync(original.CorrelationId);
        await run.PublishAsync(new TaskAdmitted(replay, new TaskLimits(), null));
        await run.PublishAsync(new MemoriesRecalled(replay, []));
        var replayed = await run.WaitForAsync(replay, s => s.IsTerminal, "the replay finished");

        Assert.Equal(TaskRunStatus.Completed, replayed.Status);
        Assert.Equal(original.Result, replayed.Result);
        Assert.Null(original.ReplayOf);
        Assert.Equal(original.CorrelationId, replayed.ReplayOf);

        // Nothing left the executor for the replay but its admission, memory recall and end; the model was not called.
        Assert.Empty(run.PublishedNow<InvokeTool>(m => m.TaskId == replay));
        Assert.Empty(run.PublishedNow<ReserveModelBudget>(m => m.TaskId == replay));
        Assert.Empty(run.PublishedNow<CreatePlan>(m => m.TaskId == replay));
        Assert.Equal(modelCalls, run.Chat.Calls.Count);
        Assert.Equal((0, 0, 0m), (replayed.InputTokens, replayed.OutputTokens, replayed.Cost));

        var log = run.Journal.Entries(replay);
        Assert.Equal(3, log.Count(e => e.Kind == "replay-served"));
        Assert.DoesNotContain(log, e => e.Kind == "replay-diverged");
        var modelCall = log.Single(e => e.Kind == "model-call");
        Assert.StartsWith("replay:", JsonNode.Parse(modelCall.Data)!["model"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replay_whose_plan_changed_reports_the_first_divergence_and_runs_nothing()
    {
        await using var run = await TaskRunHarness.StartAsync();
        var original = await RunOriginalAsync(run);

        // A template task's plan comes from the planner again: here the template now looks up another customer.
        var replay = await run.SubmitReplayAsync(original.CorrelationId, goal: null, template: "triage");
        await run.PublishAsync(new PlanCreated(
            replay,
            new Plan(Guid.NewGuid(), 1, "template", [Steps[0] with { ArgumentsJson = """{"customerId":"C-2"}""" }, Steps[1]]),
            new TaskAdmitted(replay, new TaskLimits(), null)));
        var replayed = await run.WaitForAsync(replay, s => s.IsTerminal, "the replay finished");

        Assert.NotEqual(TaskRunStatus.Completed, replayed.Status);
        Assert.Empty(run.PublishedNow<InvokeTool>(m => m.TaskId == replay));
        var diverged = run.Journal.Entries(replay).First(e => e.Kind == "replay-diverged");
        Assert.Equal("lookup", diverged.StepId);
        var data = JsonNode.Parse(diverged.Data)!;
        Assert.Equal("arguments", data["what"]!.GetValue<string>());
        Assert.Contains("C-1", data["recorded"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("C-2", data["replayed"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("not executed", replayed.Steps["lookup"].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_what_if_asks_the_model_live_serves_recorded_tools_and_reports_the_ticket_it_would_file_without_filing_it()
    {
        await using var run = await TaskRunHarness.StartAsync();
        PlanStep[] steps =
        [
            .. Steps,
            new("ticket", StepKind.Tool, "tickets.create", """{"body":"{{steps.draft.output}}"}""", null, ["draft"]),
        ];
        var original = await run.StartRunningAsync(steps);
        await run.PublishedAsync<InvokeTool>(m => m.TaskId == original);
        await run.CompleteToolAsync(original, "lookup", "crm.lookup-customer", output: """{"name":"Ada"}""", untrusted: false);
        await run.PublishedAsync<InvokeTool>(m => m.TaskId == original && m.StepId == "ticket");
        await run.CompleteToolAsync(original, "ticket", "tickets.create", output: """{"ticketId":"T-1"}""", untrusted: false);
        await run.WaitForAsync(original, s => s.Status == TaskRunStatus.Completed, "the original completed");
        var modelCalls = run.Chat.Calls.Count;

        // Another model: the same prompt gets another answer, so the ticket would be filed with another body.
        run.Chat.Rewrite = text => "A different draft.";
        var whatIf = Guid.NewGuid();
        await run.SendAsync(new SubmitTask(whatIf, TaskRunHarness.Principal, "Help the customer", null, null, null, null, null, run.Time.GetUtcNow(), ReplayOf: original, WhatIf: true));
        await run.WaitForAsync(whatIf, s => s.CurrentState == "Submitted");
        await run.PublishAsync(new TaskAdmitted(whatIf, new TaskLimits(), null));
        await run.PublishAsync(new MemoriesRecalled(whatIf, []));

        // A goal is planned again live (the planner's model): here the test plays the planner with the original's steps.
        await run.PublishedAsync<CreatePlan>(m => m.TaskId == whatIf);
        await run.PublishAsync(new PlanCreated(whatIf, new Plan(Guid.NewGuid(), 1, "model", steps)));
        var finished = await run.WaitForAsync(whatIf, s => s.IsTerminal, "the what-if finished");

        Assert.True(finished.WhatIf);
        Assert.Equal(modelCalls + 1, run.Chat.Calls.Count);
        Assert.Equal("A different draft.", finished.Steps["draft"].Output);
        Assert.Empty(run.PublishedNow<InvokeTool>(m => m.TaskId == whatIf));
        var log = run.Journal.Entries(whatIf);
        Assert.Single(log, e => e.Kind == "replay-served");
        var wouldCall = Assert.Single(log, e => e.Kind == "replay-would-call");
        Assert.Equal("ticket", wouldCall.StepId);
        Assert.Contains("A different draft.", JsonNode.Parse(wouldCall.Data)!["arguments"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("would call tickets.create", finished.Steps["ticket"].Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_approval_answer_in_the_recording_is_skipped_for_the_answer_after_the_approval()
    {
        var s = new TaskRunState { CorrelationId = Guid.NewGuid() };
        s.Steps["send"] = new StepRun { Id = "send", Kind = StepKind.Tool, Tool = "email.send", Dispatches = 1 };
        const string Args = """{"to":"ada@example.com"}""";
        RecordedEntry[] recording =
        [
            new(1, "step-dispatched", "send", """{"kind":"Tool","tool":"email.send","input":"{\"to\":\"ada@example.com\"}"}"""),
            new(2, "tool-call", "send", """{"outcome":"ApprovalRequired","output":null}"""),
            new(3, "step-dispatched", "send", """{"kind":"Tool","tool":"email.send","input":"{\"to\": \"ada@example.com\"}"}"""),
            new(4, "tool-call", "send", """{"outcome":"Succeeded","output":"{\"sent\":true}","attempts":1}"""),
        ];
        var effects = new RunEffects();
        effects.Published.Add(new InvokeTool(s.CorrelationId, "send", TaskRunHarness.Principal, "email.send", Args, "k", false, null));

        var answer = Assert.IsType<ToolCallCompleted>(Assert.Single(RecordedAnswers.Substitute(s, recording, effects)));

        Assert.Empty(effects.Published);
        Assert.Equal((ToolCallOutcome.Succeeded, """{"sent":true}"""), (answer.Outcome, answer.OutputJson));
        Assert.Contains(effects.Journal, e => e.Kind == "replay-served");
    }

    private static async Task<TaskRunState> RunOriginalAsync(TaskRunHarness run)
    {
        var id = await run.StartRunningAsync(Steps);
        await run.PublishedAsync<InvokeTool>(m => m.TaskId == id);
        await run.CompleteToolAsync(id, "lookup", "crm.lookup-customer", output: """{"name":"Ada"}""", untrusted: false);
        return await run.WaitForAsync(id, s => s.Status == TaskRunStatus.Completed, "the original completed");
    }
}
