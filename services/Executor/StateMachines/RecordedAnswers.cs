using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Executor.Data;

namespace Agents.Executor.StateMachines;

/// <summary>
/// How a replay (<see cref="TaskRunState.ReplayOf"/>) runs without a live call: what the engine decided to send out —
/// a tool call, a model step, a request for a model-written plan or its revision — is taken out of its effects and
/// answered from the original task's event log instead, as if the tool, the model or the planner had answered.
/// A step is answered only when it asks what the original asked (same tool and the same arguments, or the same prompt);
/// otherwise the replay has diverged: the step fails as "not executed", and a <c>replay-diverged</c> entry says where and
/// how. Template and explicit-step plans are still made by the planner (deterministic, no model), so a template that
/// changed since the original shows as the first step whose arguments or prompt differ.
/// </summary>
internal static class RecordedAnswers
{
    /// <summary>The kinds of log entries a replay reads from the original.</summary>
    public static readonly IReadOnlyCollection<string> Kinds = ["step-dispatched", "tool-call", "model-call", "plan-created", "plan-revised"];

    /// <summary>True when <paramref name="effects"/> hold something the replay <paramref name="s"/> must answer itself.</summary>
    public static bool Needed(TaskRunState s, RunEffects effects) =>
        (!s.WhatIf && effects.ModelSteps.Count > 0) || effects.Published.Exists(m => Answered(s, m));

    /// <summary>
    /// What a replay answers itself: tool calls, and (unless it is a what-if, which asks today's models) the plans the
    /// planner would ask its model for (a goal's, a revision).
    /// </summary>
    private static bool Answered(TaskRunState s, object message) =>
        message is InvokeTool || (!s.WhatIf && message is RevisePlan or CreatePlan { TemplateName: null, Steps: null });

    /// <summary>
    /// Takes what would leave the executor out of <paramref name="effects"/> and returns the answers to send to the run
    /// itself; divergences and served answers are added to the effects' journal.
    /// </summary>
    public static List<object> Substitute(TaskRunState s, IReadOnlyList<RecordedEntry> recording, RunEffects effects)
    {
        var answers = new List<object>();
        foreach (var message in effects.Published.Where(m => Answered(s, m)).ToList())
        {
            effects.Published.Remove(message);
            answers.Add(message switch
            {
                InvokeTool call => AnswerTool(s, call, recording, effects),
                CreatePlan => AnswerPlan(s, recording, "plan-created", 0, effects),
                RevisePlan => AnswerPlan(s, recording, "plan-revised", s.Revisions - 1, effects),
                _ => throw new InvalidOperationException("Unreachable."),
            });
        }

        if (!s.WhatIf)
        {
            foreach (var step in effects.ModelSteps.Cast<RunModelStep>())
            {
                answers.Add(AnswerModel(s, step, recording, effects));
            }

            effects.ModelSteps.Clear();
        }

        return answers;
    }

    private static ToolCallCompleted AnswerTool(TaskRunState s, InvokeTool call, IReadOnlyList<RecordedEntry> recording, RunEffects effects)
    {
        if (call.Compensate)
        {
            // Undoing is a side effect too: the replay says it would have, and does not.
            effects.Journal.Add(new JournalEntry("replay-not-executed", call.StepId, new { call.Tool, call.ArgumentsJson, compensation = true }));
            return new ToolCallCompleted(s.CorrelationId, call.StepId, call.Tool, ToolCallOutcome.Succeeded, null, null, false, 1, 0, Compensation: true);
        }

        var ordinal = s.Steps.TryGetValue(call.StepId, out var run) ? Math.Max(run.Dispatches - 1, 0) : 0;
        var pair = Exchanges(recording, call.StepId, "tool-call").ElementAtOrDefault(ordinal);
        var recordedTool = pair.Dispatch is null ? null : Text(pair.Dispatch, "tool");
        var recordedInput = pair.Dispatch is null ? null : Text(pair.Dispatch, "input");
        if (pair.Dispatch is null || recordedTool != call.Tool || !SameJson(recordedInput, call.ArgumentsJson))
        {
            var what = pair.Dispatch is null ? "step" : recordedTool != call.Tool ? "tool" : "arguments";
            var recordedCall = pair.Dispatch is null ? null : $"{recordedTool} {recordedInput}";
            if (s.WhatIf)
            {
                // A what-if shows what today's version would do with yesterday's traffic; a call it would make is reported, not made.
                effects.Journal.Add(new JournalEntry("replay-would-call", call.StepId, new { call.Tool, arguments = call.ArgumentsJson, what, recorded = recordedCall }));
                return new ToolCallCompleted(
                    s.CorrelationId, call.StepId, call.Tool, ToolCallOutcome.Failed, null, $"what-if: not executed: would call {call.Tool} with {call.ArgumentsJson}", false, 1, 0, Permanent: true);
            }

            var why = Diverged(effects, call.StepId, what, recordedCall, $"{call.Tool} {call.ArgumentsJson}");
            return new ToolCallCompleted(s.CorrelationId, call.StepId, call.Tool, ToolCallOutcome.Failed, null, why, false, 1, 0, Permanent: true);
        }

        if (pair.Answer is not { } answer)
        {
            var outcome = pair.AnsweredLater ? ToolCallOutcome.TimedOut : ToolCallOutcome.Failed;
            effects.Journal.Add(new JournalEntry("replay-served", call.StepId, new { from = Sequence(pair.Dispatch), outcome }));
            return new ToolCallCompleted(s.CorrelationId, call.StepId, call.Tool, outcome, null, "replay: the original got no answer to this call", false, 1, 0, Permanent: !pair.AnsweredLater);
        }

        effects.Journal.Add(new JournalEntry("replay-served", call.StepId, new { from = answer.Sequence }));
        var data = Parse(answer);
        var recordedOutcome = Enum.TryParse<ToolCallOutcome>(Text(data, "outcome"), out var o) ? o : ToolCallOutcome.Failed;
        return new ToolCallCompleted(
            s.CorrelationId,
            call.StepId,
            call.Tool,
            recordedOutcome,
            Text(data, "output"),
            Text(data, "error"),
            data["untrusted"]?.GetValue<bool>() ?? false,
            data["attempts"]?.GetValue<int>() ?? 1,
            0,
            UntrustedFields: data["untrustedFields"] is JsonArray fields ? fields.Select(f => f!.GetValue<string>()).ToList() : null,
            ErrorFromTool: data["errorFromTool"]?.GetValue<bool>() ?? false);
    }

    private static ModelStepCompleted AnswerModel(TaskRunState s, RunModelStep step, IReadOnlyList<RecordedEntry> recording, RunEffects effects)
    {
        var pair = Exchanges(recording, step.StepId, "model-call").ElementAtOrDefault(step.Attempt - 1);
        var recordedPrompt = pair.Dispatch is null ? null : Text(pair.Dispatch, "input");
        if (pair.Dispatch is null || recordedPrompt != step.Prompt)
        {
            var why = Diverged(effects, step.StepId, pair.Dispatch is null ? "step" : "prompt", recordedPrompt, step.Prompt);
            return new ModelStepCompleted(s.CorrelationId, step.StepId, step.Attempt, false, null, why, null, 0, 0, 0m, 0);
        }

        if (pair.Answer is not { } answer)
        {
            effects.Journal.Add(new JournalEntry("replay-served", step.StepId, new { from = Sequence(pair.Dispatch), outcome = "no answer" }));
            return new ModelStepCompleted(s.CorrelationId, step.StepId, step.Attempt, false, null, "replay: the original got no answer to this call", null, 0, 0, 0m, 0);
        }

        effects.Journal.Add(new JournalEntry("replay-served", step.StepId, new { from = answer.Sequence }));
        var data = Parse(answer);
        var error = Text(data, "error");

        // No tokens and no cost: nothing was called.
        return new ModelStepCompleted(s.CorrelationId, step.StepId, step.Attempt, error is null, Text(data, "output"), error, "replay:" + Text(data, "model"), 0, 0, 0m, 0);
    }

    private static object AnswerPlan(TaskRunState s, IReadOnlyList<RecordedEntry> recording, string kind, int ordinal, RunEffects effects)
    {
        var recorded = recording.Where(e => e.Kind == kind).ElementAtOrDefault(Math.Max(ordinal, 0));
        var plan = recorded is null ? null : Parse(recorded).Deserialize<Plan>(JsonColumn.Options);
        if (plan is null)
        {
            var why = Diverged(effects, null, kind == "plan-created" ? "plan" : "revision", null, null);
            return new PlanRejected(s.CorrelationId, why);
        }

        effects.Journal.Add(new JournalEntry("replay-served", null, new { from = recorded!.Sequence }));
        return new PlanCreated(s.CorrelationId, plan);
    }

    private static string Diverged(RunEffects effects, string? stepId, string what, string? recorded, string? replayed)
    {
        effects.Journal.Add(new JournalEntry("replay-diverged", stepId, new { what, recorded, replayed }));
        return what switch
        {
            "step" => "replay: not executed: the original did not make this call",
            "plan" => "replay: the original has no plan to serve",
            "revision" => "replay: the original made no such revision",
            _ => $"replay: not executed: the {what} differ from the original's",
        };
    }

    /// <summary>The step's dispatches in order, each with the answer that followed it (answers that only asked for an approval left out).</summary>
    private static List<(JsonObject? Dispatch, RecordedEntry? Answer, bool AnsweredLater)> Exchanges(IReadOnlyList<RecordedEntry> recording, string stepId, string answerKind)
    {
        var exchanges = new List<(JsonObject? Dispatch, RecordedEntry? Answer, bool AnsweredLater)>();
        JsonObject? open = null;
        foreach (var entry in recording.Where(e => e.StepId == stepId))
        {
            if (entry.Kind == "step-dispatched")
            {
                if (open is not null)
                {
                    exchanges.Add((open, null, true));
                }

                open = Parse(entry);
                open["sequence"] = entry.Sequence;
            }
            else if (entry.Kind == answerKind && open is not null)
            {
                if (Text(Parse(entry), "outcome") != nameof(ToolCallOutcome.ApprovalRequired))
                {
                    exchanges.Add((open, entry, false));
                }

                open = null;
            }
        }

        if (open is not null)
        {
            exchanges.Add((open, null, false));
        }

        return exchanges;
    }

    private static JsonObject Parse(RecordedEntry entry) => JsonNode.Parse(entry.Data) as JsonObject ?? [];

    private static string? Text(JsonObject data, string name) => data[name] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

    private static bool SameJson(string? a, string? b)
    {
        try
        {
            return a is not null && b is not null && JsonNode.DeepEquals(JsonNode.Parse(a), JsonNode.Parse(b));
        }
        catch (JsonException)
        {
            return a == b;
        }
    }

    private static long Sequence(JsonObject dispatch) => dispatch["sequence"]?.GetValue<long>() ?? 0;
}
