namespace Agents.Executor.StateMachines;

/// <summary>An entry for the task's event log; the journal numbers and timestamps it.</summary>
internal sealed record JournalEntry(string Kind, string? StepId, object? Data);

/// <summary>An entry of a task's event log as stored: its data is the JSON the journal wrote.</summary>
internal sealed record RecordedEntry(long Sequence, string Kind, string? StepId, string Data);

/// <summary>What handling one message decided to do: messages to publish, model steps to send, timeouts to schedule, log entries.</summary>
internal sealed class RunEffects
{
    public List<object> Published { get; } = [];

    public List<object> ModelSteps { get; } = [];

    public List<(TimeSpan Delay, object Message)> Scheduled { get; } = [];

    public List<JournalEntry> Journal { get; } = [];
}
