using Agents.Executor.StateMachines;

namespace Agents.Executor.Tests;

/// <summary>One scheduled wake-up per task for the timeouts of its running steps: when it is kept, replaced or cancelled.</summary>
[Trait("Category", "Unit")]
public sealed class StepDeadlinesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    private static TaskRunState Task(params StepRun[] steps)
    {
        var state = new TaskRunState { CorrelationId = Guid.NewGuid() };
        foreach (var step in steps)
        {
            state.Steps[step.Id] = step;
        }

        return state;
    }

    private static StepRun Running(string id, int dueInSeconds, int dispatches = 1) =>
        new() { Id = id, Status = StepStatus.Running, Dispatches = dispatches, DueAt = T0.AddSeconds(dueInSeconds) };

    private static StepRun Holding(StepRun step, int firesInSeconds, int attempt = 1)
    {
        step.TimeoutToken = Guid.NewGuid();
        step.TimeoutAttempt = attempt;
        step.TimeoutAt = T0.AddSeconds(firesInSeconds);
        return step;
    }

    [Fact]
    public void Running_steps_without_a_wake_up_get_one_for_the_earliest_due_step()
    {
        var change = StepDeadlines.Plan(Task(Running("a", 120), Running("b", 60), new StepRun { Id = "c", Status = StepStatus.Pending }), T0);
        Assert.Empty(change.Cancel);
        Assert.Equal("b", change.ScheduleFor?.Id);
    }

    [Fact]
    public void A_pending_wake_up_due_no_later_than_the_earliest_step_is_kept_even_on_a_finished_step()
    {
        var finished = Holding(new StepRun { Id = "a", Status = StepStatus.Succeeded, Dispatches = 1 }, 120);
        var change = StepDeadlines.Plan(Task(finished, Running("c", 180)), T0);
        Assert.True(change.IsNone);
    }

    [Fact]
    public void A_wake_up_later_than_a_step_now_due_is_replaced()
    {
        var late = Holding(Running("a", 300), 300);
        var change = StepDeadlines.Plan(Task(late, Running("b", 30)), T0);
        Assert.Same(late, Assert.Single(change.Cancel));
        Assert.Equal("b", change.ScheduleFor?.Id);
    }

    [Fact]
    public void Once_no_step_runs_or_the_task_has_ended_the_wake_up_is_cancelled()
    {
        var done = Holding(new StepRun { Id = "a", Status = StepStatus.Succeeded, Dispatches = 1 }, 120);
        var idle = StepDeadlines.Plan(Task(done), T0);
        Assert.Same(done, Assert.Single(idle.Cancel));
        Assert.Null(idle.ScheduleFor);

        var running = Holding(Running("b", 60), 60);
        var ended = Task(running);
        ended.Status = Contracts.TaskRunStatus.Cancelled;
        var change = StepDeadlines.Plan(ended, T0);
        Assert.Same(running, Assert.Single(change.Cancel));
        Assert.Null(change.ScheduleFor);
    }

    [Fact]
    public void A_running_step_an_earlier_version_saved_without_its_due_time_gets_one()
    {
        var dropped = new StepRun { Id = "a", Status = StepStatus.Running, Dispatches = 1 };
        var change = StepDeadlines.Plan(Task(dropped), T0.AddMinutes(2));
        Assert.Same(dropped, change.ScheduleFor);
        Assert.Equal(T0.AddMinutes(2), dropped.DueAt);
    }

    [Fact]
    public void A_per_attempt_timeout_of_an_earlier_version_stays_while_its_step_runs_and_goes_with_it()
    {
        var legacy = new StepRun { Id = "a", Status = StepStatus.Running, Dispatches = 1, TimeoutToken = Guid.NewGuid() };
        Assert.True(StepDeadlines.Plan(Task(legacy), T0).IsNone);

        legacy.Status = StepStatus.Succeeded;
        Assert.Same(legacy, Assert.Single(StepDeadlines.Plan(Task(legacy), T0).Cancel));
    }
}
