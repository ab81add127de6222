using Agents.Executor.StateMachines;

namespace Agents.Executor.Tests;

/// <summary>
/// The event log kept in memory for state machine unit tests (which run without infrastructure); the
/// database journal is exercised by the API tests against PostgreSQL.
/// </summary>
internal sealed class InMemoryTaskJournal : ITaskJournal
{
    private readonly List<(Guid TaskId, long Sequence, string Kind, string? StepId)> _entries = [];

    public void Append(TaskRunState state, IReadOnlyList<JournalEntry> entries, DateTimeOffset at)
    {
        lock (_entries)
        {
            foreach (var entry in entries)
            {
                _entries.Add((state.CorrelationId, ++state.EventSequence, entry.Kind, entry.StepId));
            }
        }
    }

    public void Snapshot(TaskRunState state)
    {
    }

    public IReadOnlyList<(long Sequence, string Kind, string? StepId)> For(Guid taskId)
    {
        lock (_entries)
        {
            return _entries.Where(e => e.TaskId == taskId).Select(e => (e.Sequence, e.Kind, e.StepId)).ToList();
        }
    }
}
