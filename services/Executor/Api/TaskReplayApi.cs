using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;
using Agents.Executor.Telemetry;
using Agents.Models;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Http;
using Agents.ServiceDefaults.Identity;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Api;

/// <summary>
/// Replay of a finished task (<c>POST /api/tasks/{id}/replay</c>): the same request runs again as a new task whose tool
/// calls, model calls and model-written plans are answered from the original's event log (<see cref="RecordedAnswers"/>);
/// nothing is called live and nothing changes outside the executor. <c>GET /api/tasks/{id}/replay</c> compares the replay
/// with its original step by step and names the first divergence.
/// </summary>
internal static class TaskReplayApi
{
    public static RouteGroupBuilder MapTaskReplay(this RouteGroupBuilder tasks)
    {
        tasks.MapPost("/{id:guid}/replay", StartAsync).DescribesJsonBody(typeof(ReplayRequest)).Produces<TaskAccepted>(StatusCodes.Status202Accepted)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        tasks.MapGet("/{id:guid}/replay", ReportAsync).Produces<ReplayReport>().ProducesProblem(StatusCodes.Status404NotFound);
        return tasks;
    }

    private static async Task<IResult> StartAsync(
        Guid id,
        HttpContext http,
        ExecutorDbContext db,
        TenantAccessCache access,
        IPublishEndpoint publish,
        ITaskJournal journal,
        ModelStepPrice price,
        IOptions<ExecutorOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        ReplayRequest? request = null;
        try
        {
            if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
            {
                request = await http.Request.ReadFromJsonAsync<ReplayRequest>(BodyJson, cancellationToken);
            }
        }
        catch (JsonException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"The body must be empty or a JSON object like {{\"whatIf\": true}}: {ex.Message}"] });
        }

        if (request?.Model is { } model && ModelProblem(model, request.WhatIf, http.RequestServices.GetRequiredService<NamedChatClients>(), http.GetPrincipal().TenantId) is { } problem)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["model"] = [problem] });
        }

        var (original, refused) = await TaskApi.FindAsync(db, http, access, id, cancellationToken);
        if (original is null)
        {
            return refused!;
        }

        if (!TaskApi.IsTerminal(original.Status))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "The task has not finished.",
                detail: $"Task {id} is {original.Status}; a task can be replayed once it has finished.",
                type: ProblemTypes.Conflict);
        }

        // The original's request, run by the caller; its answers come from the original's log. A template task plans with
        // the version its original ran (or the one asked for); a what-if without one takes what the template's rollout gives.
        var whatIf = request?.WhatIf ?? false;
        var ran = await db.TaskRuns.AsNoTracking().Where(r => r.CorrelationId == original.Id).Select(r => new { r.TemplateVersion, r.Model }).FirstOrDefaultAsync(cancellationToken);
        var templateVersion = request?.TemplateVersion ?? (whatIf || original.TemplateName is null ? null : ran?.TemplateVersion);

        // A what-if runs on the model it is given, else on the one the original was submitted with.
        var runOn = request?.Model ?? (whatIf ? ran?.Model : null);

        var submitted = new SubmitTask(
            Guid.Empty, http.GetPrincipal(), original.Goal, original.TemplateName, original.Parameters, original.RequestedSteps, original.RequestedLimits,
            original.AllowedTools, time.GetUtcNow(), ReplayOf: original.Id, WhatIf: whatIf, TemplateVersion: templateVersion, Model: runOn);
        var asked = (request?.TemplateVersion is { } version ? $":v{version}" : string.Empty) + (request?.Model is { } chosen ? $":m{chosen}" : string.Empty);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"replay:{submitted.WhatIf}:{original.Id}:{original.RequestHash}{asked}")));
        var (task, run) = await TaskApi.StartRunAsync(db, journal, publish, options.Value, price, submitted, null, hash, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        ExecutorTelemetry.Submitted(run);
        return new TaskApi.LocatedResult(
            Results.Json(new TaskAccepted(task.Id, task.Status), statusCode: StatusCodes.Status202Accepted),
            $"/api/tasks/{task.Id}/replay");
    }

    private static async Task<IResult> ReportAsync(Guid id, HttpContext http, ExecutorDbContext db, TenantAccessCache access, CancellationToken cancellationToken)
    {
        var (task, refused) = await TaskApi.FindAsync(db, http, access, id, cancellationToken);
        if (task is null)
        {
            return refused!;
        }

        var replay = await LogAsync(db, id, cancellationToken);
        var originalId = replay.FirstOrDefault(e => e.Kind == "submitted") is { } submitted
            && JsonNode.Parse(submitted.Data)?["replayOf"] is JsonValue value && value.TryGetValue<Guid>(out var of) ? of : (Guid?)null;
        if (originalId is null)
        {
            return ApiProblems.NotFound($"Task {id} is not a replay; replay a finished task with POST /api/tasks/{{id}}/replay.");
        }

        var original = await db.Tasks.AsNoTracking().FirstOrDefaultAsync(t => t.Id == originalId && t.TenantId == task.TenantId, cancellationToken);
        var recorded = original is null ? [] : await LogAsync(db, original.Id, cancellationToken);
        return Results.Ok(ReplayReport.Compare(task, original, recorded, replay));
    }

    /// <summary>Why a replay cannot run with <paramref name="model"/>, or null when it can.</summary>
    private static string? ModelProblem(string model, bool whatIf, NamedChatClients named, string tenant) => whatIf
        ? NamedModels.Problem(named, model, tenant)
        : "A model is chosen only for a what-if replay ({\"whatIf\": true, \"model\": …}): a plain replay answers every model step from the recording.";

    private static readonly JsonSerializerOptions BodyJson = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    private static Task<List<TaskEvent>> LogAsync(ExecutorDbContext db, Guid id, CancellationToken cancellationToken) =>
        db.TaskEvents.AsNoTracking().Where(e => e.TaskId == id).OrderBy(e => e.Sequence).ToListAsync(cancellationToken);
}

/// <summary>How to replay (the body of <c>POST /api/tasks/{id}/replay</c>, optional).</summary>
/// <param name="WhatIf">
/// Ask today's models (and re-plan a goal) instead of serving the recorded answers; tools still answer only from the
/// recording, and a call the original did not make is reported as one the replay would make, never made.
/// </param>
/// <param name="TemplateVersion">
/// Plan a template task with this version of its template instead of the one the original ran: how a candidate version
/// would have handled the original's request (a step that differs is reported as the first divergence, or, in a what-if,
/// runs with its tool calls answered from the recording or reported as ones it would make).
/// </param>
/// <param name="Model">
/// A what-if only: run every model step with this model, configured by name in the executor (<c>Models:Named:{name}</c>),
/// instead of each step's own or the executor's.
/// </param>
public sealed record ReplayRequest(bool WhatIf = false, int? TemplateVersion = null, string? Model = null);

/// <summary>A replay beside its original: each step's input and answer in both, and where they first differ.</summary>
/// <param name="TaskId">The replay.</param>
/// <param name="ReplayOf">The original task.</param>
/// <param name="Status">The replay's status.</param>
/// <param name="OriginalStatus">The original's status (null when it is no longer stored).</param>
/// <param name="Mode"><c>replay</c> (everything from the recording) or <c>what-if</c> (today's models, recorded tools).</param>
/// <param name="Finished">True once the replay has finished; until then the comparison is partial.</param>
/// <param name="LiveCalls">
/// Tool and model answers in the replay's log that were not served from the recording: 0 for a replay; a what-if's live
/// model calls. A tool is never called live.
/// </param>
/// <param name="Served">Answers served from the recording.</param>
/// <param name="ResultMatches">True when both finished with the same status and result.</param>
/// <param name="FirstDivergence">The first point where the replay differed from the original, or null.</param>
/// <param name="WouldCall">The tool calls a what-if would have made that the original did not (none was made).</param>
/// <param name="Steps">Every step of either run, in the original's order.</param>
public sealed record ReplayReport(
    Guid TaskId,
    Guid ReplayOf,
    TaskRunStatus Status,
    TaskRunStatus? OriginalStatus,
    string Mode,
    bool Finished,
    int LiveCalls,
    int Served,
    bool ResultMatches,
    ReplayDivergence? FirstDivergence,
    IReadOnlyList<ReplayWouldCall> WouldCall,
    IReadOnlyList<ReplayStep> Steps)
{
    internal static ReplayReport Compare(TaskRecord replay, TaskRecord? original, IReadOnlyList<TaskEvent> recorded, IReadOnlyList<TaskEvent> replayed)
    {
        var ids = recorded.Concat(replayed).Where(e => e.Kind == "step-dispatched" && e.StepId is not null).Select(e => e.StepId!).Distinct().ToList();
        var steps = ids.Select(stepId =>
        {
            var a = Last(recorded, stepId);
            var b = Last(replayed, stepId);
            return new ReplayStep(
                stepId, a.Kind ?? b.Kind, a.Tool ?? b.Tool, a.Input, b.Input, a.Output, b.Output,
                a.Input is not null && a.Input == b.Input && a.Output == b.Output);
        }).ToList();

        var finished = TaskApi.IsTerminal(replay.Status);
        var resultOf = (IReadOnlyList<TaskEvent> log) => log.LastOrDefault(e => e.Kind == "finished") is { } f ? JsonNode.Parse(f.Data)?["result"]?.ToJsonString() : null;
        var resultMatches = finished && original is not null && original.Status == replay.Status && resultOf(recorded) == resultOf(replayed);

        var divergence = replayed.FirstOrDefault(e => e.Kind is "replay-diverged" or "replay-would-call") is { } d
            ? new ReplayDivergence(d.Sequence, d.StepId, Text(d, "what") ?? "unknown", Text(d, "recorded"), d.Kind == "replay-would-call" ? $"{Text(d, "tool")} {Text(d, "arguments")}" : Text(d, "replayed"))
            : steps.FirstOrDefault(s => !s.Matches && (finished || s.ReplayInput is not null)) is { } step
                ? new ReplayDivergence(null, step.StepId, step.ReplayInput is null ? "step not run" : step.OriginalInput is null ? "step not in the original" : "answer", step.OriginalInput ?? step.OriginalOutput, step.ReplayInput ?? step.ReplayOutput)
                : finished && !resultMatches
                    ? new ReplayDivergence(null, null, "result", original?.Status.ToString(), replay.Status.ToString())
                    : null;

        var answers = replayed.Count(e => e.Kind is "tool-call" or "model-call");
        var notLive = replayed.Count(e => e.Kind is "replay-served" or "replay-diverged" or "replay-would-call" && e.StepId is not null);
        var whatIf = replayed.FirstOrDefault(e => e.Kind == "submitted") is { } submitted && JsonNode.Parse(submitted.Data)?["whatIf"]?.GetValue<bool>() == true;
        var wouldCall = replayed.Where(e => e.Kind == "replay-would-call")
            .Select(e => new ReplayWouldCall(e.StepId!, Text(e, "tool") ?? string.Empty, Text(e, "arguments"), Text(e, "recorded")))
            .ToList();
        return new ReplayReport(
            replay.Id, original?.Id ?? Guid.Empty, replay.Status, original?.Status, whatIf ? "what-if" : "replay", finished, Math.Max(answers - notLive, 0),
            replayed.Count(e => e.Kind == "replay-served"), resultMatches, divergence, wouldCall, steps);
    }

    private static (string? Kind, string? Tool, string? Input, string? Output) Last(IReadOnlyList<TaskEvent> log, string stepId)
    {
        var dispatched = log.LastOrDefault(e => e.StepId == stepId && e.Kind == "step-dispatched");
        var answered = log.LastOrDefault(e => e.StepId == stepId && e.Kind is "tool-call" or "model-call");
        return (
            dispatched is null ? null : Text(dispatched, "kind"),
            dispatched is null ? null : Text(dispatched, "tool"),
            dispatched is null ? null : Text(dispatched, "input"),
            answered is null ? null : Text(answered, "output") ?? Text(answered, "error"));
    }

    private static string? Text(TaskEvent entry, string name) =>
        JsonNode.Parse(entry.Data)?[name] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}

/// <summary>One step of a replay beside the same step of its original.</summary>
/// <param name="StepId">The step.</param>
/// <param name="Kind">Tool or Model.</param>
/// <param name="Tool">The tool, for a tool step.</param>
/// <param name="OriginalInput">The arguments or prompt of the original's last dispatch (null: not run there).</param>
/// <param name="ReplayInput">The same in the replay (null: not run there).</param>
/// <param name="OriginalOutput">The original's last answer (output, else error).</param>
/// <param name="ReplayOutput">The replay's last answer.</param>
/// <param name="Matches">True when input and answer are the same in both.</param>
public sealed record ReplayStep(
    string StepId, string? Kind, string? Tool, string? OriginalInput, string? ReplayInput, string? OriginalOutput, string? ReplayOutput, bool Matches);

/// <summary>A tool call a what-if would have made (never made).</summary>
/// <param name="StepId">The step.</param>
/// <param name="Tool">The tool.</param>
/// <param name="Arguments">The arguments it would have been called with.</param>
/// <param name="Recorded">The original's call at that point (tool and arguments), or null when it made none.</param>
public sealed record ReplayWouldCall(string StepId, string Tool, string? Arguments, string? Recorded);

/// <summary>Where a replay first differed from its original.</summary>
/// <param name="Sequence">The replay log entry that says so, when the replay noticed it while running.</param>
/// <param name="StepId">The step, when it is about one.</param>
/// <param name="What">What differed: arguments, prompt, tool, step, plan, revision, answer, result.</param>
/// <param name="Original">What the original had.</param>
/// <param name="Replay">What the replay had.</param>
public sealed record ReplayDivergence(long? Sequence, string? StepId, string What, string? Original, string? Replay);
