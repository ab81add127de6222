using System.Text.Json;
using Agents.Executor.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Where a task run writes its event log and its API view. Writes join the unit of work of the message
/// being handled (the inbox transaction) and are committed with the saga's state change.
/// </summary>
internal interface ITaskJournal
{
    /// <summary>Appends <paramref name="entries"/> with the next sequence numbers of the task.</summary>
    void Append(TaskRunState state, IReadOnlyList<JournalEntry> entries, DateTimeOffset at);

    /// <summary>The entries of <paramref name="taskId"/>'s log of the given kinds, in order (what a replay answers from).</summary>
    Task<IReadOnlyList<RecordedEntry>> ReadAsync(Guid taskId, IReadOnlyCollection<string> kinds, CancellationToken cancellationToken);

    /// <summary>Brings the task list's row up to date with <paramref name="state"/> (called when the run changes state).</summary>
    void Snapshot(TaskRunState state);
}

/// <summary>The event log and task view in the executor's database, through the message scope's <see cref="ExecutorDbContext"/>.</summary>
internal sealed class EfTaskJournal(ExecutorDbContext db) : ITaskJournal
{
    public void Append(TaskRunState state, IReadOnlyList<JournalEntry> entries, DateTimeOffset at)
    {
        foreach (var entry in entries)
        {
            db.TaskEvents.Add(new TaskEvent
            {
                TaskId = state.CorrelationId,
                Sequence = ++state.EventSequence,
                At = at,
                Kind = entry.Kind,
                StepId = entry.StepId,
                Status = state.Status,
                Data = JsonSerializer.Serialize(entry.Data ?? new { }, JsonColumn.Options),
            });
        }
    }

    public async Task<IReadOnlyList<RecordedEntry>> ReadAsync(Guid taskId, IReadOnlyCollection<string> kinds, CancellationToken cancellationToken) =>
        await db.TaskEvents.AsNoTracking()
            .Where(e => e.TaskId == taskId && kinds.Contains(e.Kind))
            .OrderBy(e => e.Sequence)
            .Select(e => new RecordedEntry(e.Sequence, e.Kind, e.StepId, e.Data))
            .ToListAsync(cancellationToken);

    public void Snapshot(TaskRunState state)
    {
        var record = db.Tasks.Local.FirstOrDefault(x => x.Id == state.CorrelationId);
        if (record is null)
        {
            record = new TaskRecord { Id = state.CorrelationId };
            db.Tasks.Attach(record);
        }

        // Only the list's columns: a small update of fixed-size columns (a HOT update, no TOAST), once per change of state.
        record.Status = state.Status;
        record.State = state.Phase;
        record.Reason = state.Reason;
        record.LastSequence = state.EventSequence;
        record.UpdatedAt = state.UpdatedAt;
        record.FinishedAt = state.FinishedAt;
        var entry = db.Entry(record);
        foreach (var name in Columns)
        {
            entry.Property(name).IsModified = true;
        }
    }

    private static readonly string[] Columns =
    [
        nameof(TaskRecord.Status), nameof(TaskRecord.State), nameof(TaskRecord.Reason), nameof(TaskRecord.LastSequence),
        nameof(TaskRecord.UpdatedAt), nameof(TaskRecord.FinishedAt),
    ];
}
