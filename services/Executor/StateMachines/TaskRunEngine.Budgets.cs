using Agents.Contracts;

namespace Agents.Executor.StateMachines;

/// <summary>The run's own budget arithmetic: the task's limits before a dispatch, and the output tokens a model call may have.</summary>
internal sealed partial class TaskRunEngine
{
    /// <summary>
    /// Reserves the task's token and cost budgets for the next model step: the output tokens it may use are the
    /// fewest of the configured maximum, the tokens left after its input, and the output the money left after its
    /// input pays for at the price of the model it runs on, where "left" also excludes what model steps already in flight
    /// have reserved (their input and their whole output cap). The output cap is exact (the model library enforces
    /// it); the input is estimated at four characters a token (exactly the deterministic model's count), so with a
    /// real tokenizer a call can pass a limit by the error of that estimate, never by a whole answer. A step that
    /// cannot afford its input and one output token even with nothing in flight is refused; one that could once
    /// the steps in flight have answered waits for them (<c>Wait</c>).
    /// </summary>
    private (int MaxOutputTokens, string? Refusal, bool Wait, int InputTokens) ReserveModelCall(TaskRunState s, StepRun run, string systemPrompt, string prompt, string? model)
    {
        // The price of the model the step runs on: a named model's own (a dearer one must not spend past the limit).
        var stepPrice = priceOf is null ? modelPrice : priceOf(model);
        var inputTokens = StepInputs.EstimateInputTokens(systemPrompt, prompt);
        var inFlight = s.Steps.Values.Where(x => x != run && x.Kind == StepKind.Model && x.Status == StepStatus.Running).ToList();
        var heldTokens = inFlight.Sum(x => (long)x.ReservedTokens);
        var heldCost = inFlight.Sum(x => x.ReservedCost);
        long maxTokens = options.MaxOutputTokens;
        if (s.Limits.MaxTokens is { } tokenLimit)
        {
            var left = tokenLimit - s.Usage.Tokens;
            if (left - inputTokens < 1)
            {
                return (0, $"Token limit reached: the next model step needs about {inputTokens} input tokens and at least one output token; {left} of {tokenLimit} tokens remain.", false, inputTokens);
            }

            var free = left - heldTokens - inputTokens;
            if (free < 1)
            {
                return (0, null, true, inputTokens);
            }

            maxTokens = Math.Min(maxTokens, free);
        }

        if (s.Limits.MaxCost is { } costLimit && stepPrice is { } price)
        {
            var left = costLimit - s.Cost;
            if (left < price.CostOf(inputTokens, 1))
            {
                return (0, $"Cost limit reached: the next model step would cost at least {price.CostOf(inputTokens, 1)} (about {inputTokens} input tokens and one output token); {left} of {costLimit} remains.", false, inputTokens);
            }

            var spendable = left - heldCost - price.CostOf(inputTokens, 0);
            var affordable = price.OutputPerMillion == 0m
                ? (spendable < 0m ? 0 : maxTokens)
                : (long)Math.Min(maxTokens, Math.Floor(Math.Max(spendable, 0m) * 1_000_000m / price.OutputPerMillion));
            if (affordable < 1)
            {
                return (0, null, true, inputTokens);
            }

            maxTokens = affordable;
        }

        run.ReservedTokens = (int)(inputTokens + maxTokens);
        run.ReservedCost = stepPrice?.CostOf(inputTokens, maxTokens) ?? 0m;
        return ((int)maxTokens, null, false, inputTokens);
    }

    private string? CheckBudget(TaskRunState s, StepKind kind, bool firstAttempt)
    {
        var limits = s.Limits;
        if (firstAttempt && limits.MaxSteps is { } steps && s.StepsStarted >= steps)
        {
            return $"Step limit reached: {s.StepsStarted} of {steps} steps used.";
        }

        if (kind == StepKind.Tool && limits.MaxToolCalls is { } calls && s.ToolCalls >= calls)
        {
            return $"Tool call limit reached: {s.ToolCalls} of {calls} tool calls used.";
        }

        if (limits.MaxTokens is { } tokens && s.Usage.Tokens >= tokens)
        {
            return $"Token limit reached: {s.Usage.Tokens} of {tokens} tokens used.";
        }

        if (limits.MaxCost is { } cost && s.Cost >= cost)
        {
            return $"Cost limit reached: {s.Cost} of {cost} spent.";
        }

        if (limits.MaxWallClock is { } wall && now - s.SubmittedAt >= wall)
        {
            return $"Wall-clock limit reached: {(now - s.SubmittedAt).TotalSeconds:0.#} s of {wall.TotalSeconds:0.#} s.";
        }

        return null;
    }
}
