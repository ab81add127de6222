namespace Agents.Executor.StateMachines;

/// <summary>
/// A task keeps one scheduled wake-up for the timeouts of all its running steps, not one per step: the wake-up is due at
/// the earliest <see cref="StepRun.DueAt"/> of the running steps and names that step's attempt. A wake-up already
/// pending that fires no later than that is kept (one that fires early finds nothing due, and the next is scheduled
/// then); a later one is replaced; once no step runs, or the task has ended, it is cancelled. A step waiting for its tool's
/// circuit (<see cref="StepRun.WaitingUntil"/>) counts as running until then. So the two tool calls and
/// the model step of a task schedule one wake-up and cancel one, instead of three of each.
/// </summary>
internal static class StepDeadlines
{
    /// <summary>The wake-ups to cancel and the step whose due time the next one is scheduled for (null: none needed).</summary>
    public sealed record Change(IReadOnlyList<StepRun> Cancel, StepRun? ScheduleFor)
    {
        public bool IsNone => Cancel.Count == 0 && ScheduleFor is null;
    }

    /// <param name="s">The task after the message's decisions.</param>
    /// <param name="unknownDue">
    /// The due time given to a running step that has neither a due time nor a timeout of its own: one dispatched by an
    /// executor of this version whose state an earlier version saved (it drops the fields it does not know).
    /// </param>
    public static Change Plan(TaskRunState s, DateTimeOffset unknownDue)
    {
        foreach (var step in s.Steps.Values.Where(x => x.Status == StepStatus.Running && x.DueAt is null && x.TimeoutToken is null))
        {
            step.DueAt = unknownDue;
        }

        var cancel = new List<StepRun>();
        var wakeUps = new List<StepRun>();
        foreach (var step in s.Steps.Values.Where(x => x.TimeoutToken is not null))
        {
            if (step.TimeoutAttempt is not null)
            {
                wakeUps.Add(step);
            }
            else if (step.Status != StepStatus.Running || s.IsTerminal)
            {
                // A per-attempt timeout of an earlier version goes with its attempt.
                cancel.Add(step);
            }
        }

        var earliest = s.IsTerminal
            ? null
            : s.Steps.Values.Where(x => (x.Status == StepStatus.Running || x.WaitingUntil is not null) && x.DueAt is not null).MinBy(x => x.DueAt);
        var keep = earliest is null ? null : wakeUps.Where(x => x.TimeoutAt <= earliest.DueAt).MinBy(x => x.TimeoutAt);
        cancel.AddRange(wakeUps.Where(x => !ReferenceEquals(x, keep)));
        var next = earliest is not null && keep is null ? earliest : null;
        if (next is { TimeoutToken: not null } && !cancel.Contains(next))
        {
            // An earlier version's timeout on the step the wake-up goes to: it would be overwritten, not cancelled.
            cancel.Add(next);
        }

        return new Change(cancel, next);
    }
}
