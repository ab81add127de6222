using Agents.Contracts;

namespace Agents.Executor.StateMachines;

/// <summary>Failing a run, and undoing its completed compensable steps (newest first) once no tool call is in flight.</summary>
internal sealed partial class TaskRunEngine
{
    private void FailOrCompensate(TaskRunState s, string reason)
    {
        s.Reason = reason;
        var queue = s.CompensableSteps.AsEnumerable().Reverse()
            .Where(id => s.Steps.TryGetValue(id, out var st) && st.Status == StepStatus.Succeeded)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var running = ToolCallsInFlight(s);
        if (queue.Count == 0 && running.Count == 0)
        {
            Finish(s, TaskRunStatus.Failed, reason);
            return;
        }

        // Tool calls still in flight (parallel branches) are waited for: a side effect one of them makes is compensated
        // like the others, and its result is in the log. Nothing new is dispatched meanwhile.
        s.Compensating = true;
        s.CompensationQueue = queue;
        Log("compensation-started", null, new { steps = queue, reason, waitingFor = running });
        CompensateNext(s);
    }

    /// <summary>Steps whose tool call is in flight (model steps make no side effect and are not waited for).</summary>
    private static List<string> ToolCallsInFlight(TaskRunState s) =>
        s.Steps.Values.Where(x => x.Status == StepStatus.Running && x.Kind == StepKind.Tool).Select(x => x.Id).ToList();

    /// <summary>While compensating: a step that was running has ended; go on unless a compensation is already in flight.</summary>
    private void RunningStepSettled(TaskRunState s)
    {
        if (s.Compensating && !s.IsTerminal && !s.Steps.Values.Any(x => x.Status == StepStatus.Compensating))
        {
            CompensateNext(s);
        }
    }

    private void CompensateNext(TaskRunState s)
    {
        if (s.CompensationQueue.Count == 0)
        {
            if (ToolCallsInFlight(s).Count > 0)
            {
                // The last tool call in flight decides what is left to compensate.
                return;
            }

            var failed = s.Steps.Values.Where(x => x.Status == StepStatus.CompensationFailed).Select(x => x.Id).ToList();
            if (failed.Count > 0)
            {
                Finish(s, TaskRunStatus.Failed, $"{s.Reason} Compensation failed for: {string.Join(", ", failed)}.");
            }
            else if (s.Steps.Values.Any(x => x.Status == StepStatus.Compensated))
            {
                Finish(s, TaskRunStatus.Compensated, s.Reason);
            }
            else
            {
                Finish(s, TaskRunStatus.Failed, s.Reason);
            }

            return;
        }

        var step = s.Steps[s.CompensationQueue[0]];
        step.Status = StepStatus.Compensating;
        Effects.Published.Add(new InvokeTool(
            s.CorrelationId,
            step.Id,
            s.Principal,
            step.Tool ?? string.Empty,
            step.Input ?? "{}",
            step.IdempotencyKey ?? IdempotencyKey(s.CorrelationId, step.Id),
            step.InputTainted,
            s.AllowedTools,
            step.ApprovalId,
            Compensate: true,
            TaintedArguments: step.InputTainted ? TaintedArguments(step) : null));
        Log("compensation-dispatched", step.Id, new { step.Tool, step.IdempotencyKey });
    }

    private void CompensationCompleted(TaskRunState s, StepRun step, ToolCallCompleted m)
    {
        if (!s.Compensating || step.Status != StepStatus.Compensating)
        {
            return;
        }

        Log("compensation-call", step.Id, new { m.Tool, outcome = m.Outcome, output = m.OutputJson, m.Error, m.Attempts, m.DurationMs });
        step.Status = m.Outcome == ToolCallOutcome.Succeeded ? StepStatus.Compensated : StepStatus.CompensationFailed;
        s.CompensationQueue.Remove(step.Id);
        CompensateNext(s);
    }
}
