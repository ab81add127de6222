using System.Security.Cryptography;
using System.Text;
using Agents.Contracts;

namespace Agents.Executor.StateMachines;

/// <summary>Advancing a run: which steps are ready, and dispatching each (inputs, taint, approvals, the budget check first).</summary>
internal sealed partial class TaskRunEngine
{
    /// <summary>Dispatches every ready step (dependencies all succeeded), or ends the run when nothing is left to do.</summary>
    private void Advance(TaskRunState s)
    {
        if (s.IsTerminal || s.Compensating || s.Plan is null)
        {
            return;
        }

        var active = s.Plan.Steps.Select(p => (Plan: p, Run: s.Steps[p.Id])).ToList();
        if (!s.RevisionPending)
        {
            if (active.All(x => x.Run.Status == StepStatus.Succeeded))
            {
                Finish(s, TaskRunStatus.Completed, null);
                return;
            }

            foreach (var (plan, run) in active)
            {
                var ready = run.Status == StepStatus.Pending && run.WaitingUntil is null
                    && plan.DependsOn.All(d => s.Steps.TryGetValue(d, out var dep) && dep.Status == StepStatus.Succeeded);
                // A model step waiting for reservations in flight does not hold back the other ready steps.
                if (ready && Dispatch(s, plan, run, null) == DispatchResult.Stopped)
                {
                    return;
                }
            }

            var inFlight = active.Any(x => x.Run.Status is StepStatus.Running or StepStatus.AwaitingApproval || x.Run.WaitingUntil is not null);
            if (!inFlight && !s.IsTerminal && !s.Compensating && !s.RevisionPending)
            {
                FailOrCompensate(s, "The plan cannot make progress: some steps depend on steps that are not in the plan.");
                return;
            }
        }

        s.Status = s.Steps.Values.Any(x => x.Status == StepStatus.AwaitingApproval) ? TaskRunStatus.AwaitingApproval : TaskRunStatus.Running;
    }

    /// <summary>
    /// Budget check, reference resolution and dispatch of one step attempt: <see cref="DispatchResult.Stopped"/> when the
    /// run stopped or must wait as a whole, <see cref="DispatchResult.Waiting"/> when only this model step waits for
    /// budget reserved by steps in flight.
    /// </summary>
    private DispatchResult Dispatch(TaskRunState s, PlanStep plan, StepRun run, Guid? approvalId)
    {
        var budget = CheckBudget(s, plan.Kind, firstAttempt: run.Attempts == 0);
        if (budget is not null)
        {
            Log("budget-exceeded", run.Id, new { budget, usage = s.Usage, s.Limits });
            Finish(s, TaskRunStatus.BudgetExceeded, budget);
            return DispatchResult.Stopped;
        }

        var input = plan.Kind == StepKind.Tool ? StepInputs.ResolveArguments(plan.ArgumentsJson, s) : StepInputs.ResolvePrompt(plan.Prompt, s);
        if (input.Error is not null)
        {
            StepFailed(s, run, input.Error, retryable: false);
            return s.IsTerminal || s.Compensating || s.RevisionPending ? DispatchResult.Stopped : DispatchResult.Dispatched;
        }

        var tainted = input.Tainted;
        var maxTokens = 0;
        if (plan.Kind != StepKind.Tool)
        {
            var reservation = ReserveModelCall(s, run, StepInputs.SystemPromptFor(tainted), input.Text, s.Model ?? plan.Model);
            if (reservation.Wait)
            {
                // Dispatched by a later Advance, once a model step in flight has answered and released its reservation.
                return DispatchResult.Waiting;
            }

            if (reservation.Refusal is not null)
            {
                Log("budget-exceeded", run.Id, new { budget = reservation.Refusal, usage = s.Usage, s.Limits, estimatedInputTokens = reservation.InputTokens });
                Finish(s, TaskRunStatus.BudgetExceeded, reservation.Refusal);
                return DispatchResult.Stopped;
            }

            maxTokens = reservation.MaxOutputTokens;
        }

        if (plan.Kind == StepKind.Tool && approvalId is null && run.Attempts == 0)
        {
            var key = plan.Tool + ":" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(input.Text)));
            var count = s.ToolCallCounts.GetValueOrDefault(key) + 1;
            s.ToolCallCounts[key] = count;
            if (s.Limits.MaxIdenticalCalls is { } maxIdenticalCalls && count > maxIdenticalCalls)
            {
                Log("loop-detected", run.Id, new { plan.Tool, arguments = input.Text, count, maxIdenticalCalls });
                Finish(s, TaskRunStatus.Failed, $"Loop detected: tool '{plan.Tool}' was called with the same arguments {count} times.");
                return DispatchResult.Stopped;
            }
        }

        if (approvalId is null)
        {
            run.Attempts++;
        }

        if (run.Dispatches++ == run.EarlierDispatches)
        {
            s.StepsStarted++;
        }

        run.Status = StepStatus.Running;
        run.StartedAt ??= now;
        run.Input = input.Text;
        run.InputTainted = tainted;
        run.InputProvenance = input.Arguments?.ToList();
        if (plan.Kind != StepKind.Tool)
        {
            // A model's output inherits what it read.
            run.TaintSources = [.. input.Sources.Where(x => x.Untrusted).Select(x => x.Name)];
            run.Flagged = input.Flagged;
        }

        run.Kind = plan.Kind;
        run.Tool = plan.Tool;
        run.IdempotencyKey = IdempotencyKey(s.CorrelationId, run.Id);
        if (plan.Kind == StepKind.Tool)
        {
            s.ToolCalls++;
            Effects.Published.Add(new InvokeTool(
                s.CorrelationId, run.Id, s.Principal, plan.Tool ?? string.Empty, input.Text, run.IdempotencyKey, run.InputTainted, s.AllowedTools, approvalId,
                TaintedArguments: input.Tainted ? input.TaintedArguments : null));
        }
        else
        {
            // A what-if replay may run every model step with another model; else the step's own, else the executor's.
            Effects.ModelSteps.Add(new RunModelStep(
                s.CorrelationId, run.Id, run.Dispatches, s.Principal, StepInputs.SystemPromptFor(run.InputTainted), input.Text, run.InputTainted, maxTokens,
                Model: s.Model ?? plan.Model));
        }

        run.DueAt = now + (plan.Timeout ?? options.StepTimeout);
        Log("step-dispatched", run.Id, new
        {
            kind = plan.Kind,
            plan.Tool,
            model = plan.Kind == StepKind.Tool ? null : s.Model ?? plan.Model,
            attempt = run.Attempts,
            input = input.Text,
            inputTainted = run.InputTainted,
            provenance = input.Arguments?.Select(a => new { argument = a.Argument, tainted = a.Tainted, flagged = a.Flagged, sources = a.Sources }),
            promptSources = plan.Kind == StepKind.Tool ? null : input.Sources,
            idempotencyKey = run.IdempotencyKey,
            approvalId,
        });
        return DispatchResult.Dispatched;
    }
}
