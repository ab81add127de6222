namespace Agents.Executor.StateMachines;

/// <summary>An entry for the task's event log; the journal numbers and timestamps it.</summary>
internal sealed record JournalEntry(string Kind, string? StepId, object? Data);

/// <summary>What handling one message decided to do: messages to publish, model steps to send, timeouts to schedule, log entries.</summary>
internal sealed class RunEffects
{
    public List<object> Published { get; } = [];

    public List<object> ModelSteps { get; } = [];

    public List<(TimeSpan Delay, object Message)> Scheduled { get; } = [];

    public List<JournalEntry> Journal { get; } = [];
}
