using Agents.Contracts;
using System.ComponentModel.DataAnnotations;

namespace Agents.Executor;

/// <summary>How the executor runs tasks (section <c>Executor</c>).</summary>
public sealed class ExecutorOptions : IValidatableObject
{
    public const string Section = "Executor";

    /// <summary>Attempts per step (first try included) unless the plan step sets its own.</summary>
    [Range(1, 10, ErrorMessage = "Executor:MaxStepAttempts must be between {1} and {2}.")]
    public int MaxStepAttempts { get; set; } = 3;

    /// <summary>How many times the planner is asked to revise a plan after a step failed for good.</summary>
    [Range(0, 10, ErrorMessage = "Executor:MaxPlanRevisions must be between {1} and {2}.")]
    public int MaxPlanRevisions { get; set; } = 2;

    /// <summary>How long a step attempt may run before it counts as failed, unless the plan step sets its own.</summary>
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The longest a step waits for its tool's open circuit to let a trial call through (decision 0028); a trial further
    /// off, or a zero here, fails the attempt at once as before.
    /// </summary>
    public TimeSpan MaxCircuitWait { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long to wait for memory before planning without memories.</summary>
    public TimeSpan MemoryRecallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound on output tokens of every model step.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Executor:MaxOutputTokens must be between {1} and {2}.")]
    public int MaxOutputTokens { get; set; } = 1024;

    /// <summary>
    /// How often an event stream looks for new log entries while task-change notifications are not arriving (their
    /// connection is down); normally a stream is woken by its task's change and reads only then.
    /// </summary>
    public TimeSpan EventStreamPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a submission with explicit steps waits for governance to say which tools the caller's roles allow (an
    /// answer is kept for <c>TenantAccess:CacheDuration</c>, so this is rare). Without an answer in time the task is
    /// queued all the same, and the planner refuses such a step when it plans (the task ends Rejected).
    /// </summary>
    public TimeSpan SubmitAccessWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one request to governance to reserve a model step's budget waits before it is asked again.</summary>
    public TimeSpan BudgetReservationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a model step keeps asking governance (slow, restarting) to reserve its budget before the attempt fails
    /// (fail closed). Sized for an outage, not for a busy machine: load is waited out, never turned into a failure.
    /// </summary>
    public TimeSpan BudgetReservationPatience { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a model step waits, asking again, while governance says the day's budget is held by other model calls
    /// still in flight (they usually give most of it back when they report); after that the step is refused as over budget.
    /// </summary>
    public TimeSpan BudgetWait { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!StepRules.IsValidTimeout(StepTimeout))
        {
            yield return new ValidationResult($"Executor:StepTimeout must be positive and at most {StepRules.MaxTimeout.TotalMinutes:0} minutes (as a step's own timeout).", [nameof(StepTimeout)]);
        }

        if (MaxCircuitWait < TimeSpan.Zero || MaxCircuitWait > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("Executor:MaxCircuitWait must be between 0 and 1 hour.", [nameof(MaxCircuitWait)]);
        }

        if (MemoryRecallTimeout <= TimeSpan.Zero || MemoryRecallTimeout > TimeSpan.FromMinutes(10))
        {
            yield return new ValidationResult("Executor:MemoryRecallTimeout must be positive and at most 10 minutes.", [nameof(MemoryRecallTimeout)]);
        }

        if (SubmitAccessWait < TimeSpan.FromMilliseconds(100) || SubmitAccessWait > TimeSpan.FromSeconds(30))
        {
            yield return new ValidationResult("Executor:SubmitAccessWait must be between 100 ms and 30 s.", [nameof(SubmitAccessWait)]);
        }

        if (BudgetReservationTimeout < TimeSpan.FromMilliseconds(100) || BudgetReservationTimeout > TimeSpan.FromMinutes(1))
        {
            yield return new ValidationResult("Executor:BudgetReservationTimeout must be between 100 ms and 1 minute.", [nameof(BudgetReservationTimeout)]);
        }

        if (BudgetReservationPatience < TimeSpan.Zero || BudgetReservationPatience > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("Executor:BudgetReservationPatience must be between 0 and 1 hour.", [nameof(BudgetReservationPatience)]);
        }

        if (BudgetWait < TimeSpan.Zero || BudgetWait > TimeSpan.FromMinutes(10))
        {
            yield return new ValidationResult("Executor:BudgetWait must be between 0 and 10 minutes.", [nameof(BudgetWait)]);
        }

        if (EventStreamPollInterval < TimeSpan.FromMilliseconds(10) || EventStreamPollInterval > TimeSpan.FromSeconds(30))
        {
            yield return new ValidationResult("Executor:EventStreamPollInterval must be between 10 ms and 30 s.", [nameof(EventStreamPollInterval)]);
        }
    }
}
