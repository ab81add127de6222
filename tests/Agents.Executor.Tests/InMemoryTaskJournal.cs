using System.Text.Json;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Tests;

/// <summary>
/// The event log kept in memory for state machine unit tests (which run without infrastructure); the
/// database journal is exercised by the API tests against PostgreSQL.
/// </summary>
internal sealed class InMemoryTaskJournal : ITaskJournal
{
    private readonly List<(Guid TaskId, RecordedEntry Entry)> _entries = [];

    public void Append(TaskRunState state, IReadOnlyList<JournalEntry> entries, DateTimeOffset at)
    {
        lock (_entries)
        {
            foreach (var entry in entries)
            {
                var data = JsonSerializer.Serialize(entry.Data ?? new { }, JsonColumn.Options);
                _entries.Add((state.CorrelationId, new RecordedEntry(++state.EventSequence, entry.Kind, entry.StepId, data)));
            }
        }
    }

    public Task<IReadOnlyList<RecordedEntry>> ReadAsync(Guid taskId, IReadOnlyCollection<string> kinds, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RecordedEntry>>(Entries(taskId).Where(e => kinds.Contains(e.Kind)).ToList());

    public void Snapshot(TaskRunState state)
    {
    }

    public IReadOnlyList<(long Sequence, string Kind, string? StepId)> For(Guid taskId) =>
        Entries(taskId).Select(e => (e.Sequence, e.Kind, e.StepId)).ToList();

    /// <summary>The task's entries with their data as stored.</summary>
    public IReadOnlyList<RecordedEntry> Entries(Guid taskId)
    {
        lock (_entries)
        {
            return _entries.Where(e => e.TaskId == taskId).Select(e => e.Entry).ToList();
        }
    }
}
