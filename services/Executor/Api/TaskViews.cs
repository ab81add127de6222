using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Api;

public sealed record TaskAccepted(Guid Id, TaskRunStatus Status);

public sealed record TaskSummary(
    Guid Id, TaskRunStatus Status, string State, string? Goal, string? Template, string? Reason, string? TraceId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt,
    string UserId);

public sealed record TaskPage(IReadOnlyList<TaskSummary> Items, int Page, int PageSize, int Total);

public sealed record TaskLog(Guid TaskId, TaskRunStatus Status, IReadOnlyList<TaskEventView> Events);

public sealed record TaskEventView(long Sequence, DateTimeOffset At, string Kind, string? StepId, TaskRunStatus Status, JsonNode? Data)
{
    public static TaskEventView From(TaskEvent e) => new(e.Sequence, e.At, e.Kind, e.StepId, e.Status, JsonNode.Parse(e.Data));
}

public sealed record TaskView(
    Guid Id,
    TaskRunStatus Status,
    string State,
    string? Goal,
    string? Template,
    IReadOnlyDictionary<string, string>? Parameters,
    Plan? Plan,
    IReadOnlyList<StepRun> Steps,
    JsonNode? Result,
    string? Reason,
    TaskUsage Usage,
    TaskLimits? Limits,
    TaskLimits? RequestedLimits,
    IReadOnlyList<string>? AllowedTools,
    long Events,
    string? TraceId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt)
{
    public static TaskView From(TaskRecord t, TaskRunState? run) => run is null
        ? new(t.Id, t.Status, t.State, t.Goal, t.TemplateName, t.Parameters, null, [], null, t.Reason, TaskUsage.None, null,
            t.RequestedLimits, t.AllowedTools, t.LastSequence, t.TraceId, t.CreatedAt, t.UpdatedAt, t.FinishedAt)
        : new(
            t.Id,
            run.Status,
            run.Phase,
            t.Goal,
            t.TemplateName,
            t.Parameters,
            run.Plan,
            [.. run.Steps.Values],
            run.Result is null ? null : JsonNode.Parse(run.Result),
            run.Reason,
            run.Usage,
            run.Status == TaskRunStatus.Submitted ? null : run.Limits,
            t.RequestedLimits,
            t.AllowedTools,
            run.EventSequence,
            t.TraceId,
            t.CreatedAt,
            run.UpdatedAt,
            run.FinishedAt);
}
