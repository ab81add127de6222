using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
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
using Npgsql;

namespace Agents.Executor.Api;

/// <summary>
/// The task API: submit, read, stream, cancel and list tasks, always scoped to the caller's tenant, and within it to the
/// task's owner, the tenant's admins and its approvers.
/// </summary>
internal static class TaskApi
{
    public const int MaxBodyBytes = 256 * 1024;

    private static readonly JsonSerializerOptions RequestJson = CreateRequestJson();

    public static IEndpointRouteBuilder MapTaskApi(this IEndpointRouteBuilder app)
    {
        var tasks = app.MapGroup("/api/tasks").RequireAgentPrincipal();
        tasks.MapPost("/", SubmitAsync).DescribesJsonBody(typeof(SubmitTaskRequest))
            .Produces<TaskAccepted>(StatusCodes.Status202Accepted).Produces<TaskAccepted>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict);
        tasks.MapGet("/", ListAsync).Produces<TaskPage>().Produces(StatusCodes.Status304NotModified).ProducesValidationProblem();
        tasks.MapGet("/{id:guid}", GetAsync).Produces<TaskView>().ProducesProblem(StatusCodes.Status404NotFound);
        tasks.MapGet("/{id:guid}/log", GetLogAsync).Produces<TaskLog>().ProducesProblem(StatusCodes.Status404NotFound);
        tasks.MapGet("/{id:guid}/events", TaskEventStream.StreamAsync).Produces<TaskEventView>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound);
        tasks.MapPost("/{id:guid}/cancel", CancelAsync).Produces<TaskAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        tasks.MapTaskReplay();
        tasks.MapTemplateVersions();
        return app;
    }

    private static async Task<IResult> SubmitAsync(
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
        var principal = http.GetPrincipal();
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            return PayloadTooLarge();
        }

        var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > MaxBodyBytes)
            {
                return PayloadTooLarge();
            }
        }

        SubmitTaskRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<SubmitTaskRequest>(body.ToArray(), RequestJson);
        }
        catch (JsonException ex)
        {
            return Invalid(new() { ["body"] = [$"The body is not valid JSON for a task request: {ex.Message}"] });
        }

        if (request is null)
        {
            return Invalid(new() { ["body"] = ["The body must be a JSON object."] });
        }

        var errors = SubmitTaskValidation.Validate(request);
        string? idempotencyKey = http.Request.Headers["Idempotency-Key"];
        if (idempotencyKey is not null && (idempotencyKey.Length == 0 || idempotencyKey.Length > IdempotencyKeys.MaxLength))
        {
            errors["Idempotency-Key"] = [$"The Idempotency-Key header must be 1 to {IdempotencyKeys.MaxLength} characters."];
        }

        // A named model must be one the tenant may use, for the task and for each step that names one.
        var models = http.RequestServices.GetRequiredService<NamedChatClients>();
        if (request.Model is { } model && !errors.ContainsKey("model") && NamedModels.Problem(models, model, principal.TenantId) is { } unavailable)
        {
            errors["model"] = [unavailable];
        }

        foreach (var (step, index) in (request.Steps ?? []).Select((s, i) => (s, i)))
        {
            if (step?.Model is { } stepModel && !errors.ContainsKey($"steps[{index}].model") && NamedModels.Problem(models, stepModel, principal.TenantId) is { } stepUnavailable)
            {
                errors[$"steps[{index}].model"] = [stepUnavailable];
            }
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var steps = request.Steps?.Select(s => s with { DependsOn = s.DependsOn ?? [] }).ToList();
        var hash = Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request with { Steps = steps }, RequestJson)));
        if (idempotencyKey is not null)
        {
            var existing = await FindByKeyAsync(db, principal, idempotencyKey, cancellationToken);
            if (existing is not null)
            {
                return Replay(existing, hash);
            }
        }

        if (steps is { Count: > 0 } && await UncallableToolsAsync(access, principal, steps, options.Value.SubmitAccessWait, cancellationToken) is { Count: > 0 } uncallable)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "The task names tools that the caller may not call.",
                detail: $"None of the caller's roles ({string.Join(", ", principal.Roles)}) allows these tools under tenant '{principal.TenantId}''s policy; nothing was queued. See 'errors'.",
                type: ProblemTypes.Forbidden,
                extensions: new Dictionary<string, object?> { ["errors"] = uncallable });
        }

        // Submission waits on no other service: the request is checked here as far as it can be without the planner,
        // and the task is queued. The planner validates a template or explicit steps when it plans them (in parallel with
        // admission); a definition it refuses ends the task Rejected with the planner's reason.
        var submitted = new SubmitTask(Guid.Empty, principal, request.Goal, request.Template, request.Parameters, steps, request.Limits, request.AllowedTools, time.GetUtcNow(), Model: request.Model);
        var (task, run) = await StartRunAsync(db, journal, publish, options.Value, price, submitted, idempotencyKey, hash, cancellationToken);

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (idempotencyKey is not null && ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent request with the same key won the race (our row and message roll back together): answer with its task.
            db.ChangeTracker.Clear();
            var winner = await FindByKeyAsync(db, principal, idempotencyKey, cancellationToken);
            return winner is null ? throw new InvalidOperationException("Idempotency key conflict without a stored task.", ex) : Replay(winner, hash);
        }

        ExecutorTelemetry.Submitted(run);

        return new LocatedResult(Results.Json(new TaskAccepted(task.Id, task.Status), statusCode: StatusCodes.Status202Accepted), Location(task.Id));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, ExecutorDbContext db, TenantAccessCache access, CancellationToken cancellationToken)
    {
        var (task, refused) = await FindAsync(db, http, access, id, cancellationToken);
        if (task is null)
        {
            return refused!;
        }

        // The run's live state has one home, the saga's row; the task row holds what was submitted.
        var run = await db.TaskRuns.AsNoTracking().FirstOrDefaultAsync(r => r.CorrelationId == id, cancellationToken);
        return Results.Ok(TaskView.From(task, run));
    }

    private static async Task<IResult> GetLogAsync(Guid id, HttpContext http, ExecutorDbContext db, TenantAccessCache access, CancellationToken cancellationToken)
    {
        var (task, refused) = await FindAsync(db, http, access, id, cancellationToken);
        if (task is null)
        {
            return refused!;
        }

        var events = await db.TaskEvents.AsNoTracking()
            .Where(e => e.TaskId == id)
            .OrderBy(e => e.Sequence)
            .ToListAsync(cancellationToken);
        return Results.Ok(new TaskLog(id, task.Status, events.Select(TaskEventView.From).ToList()));
    }

    private static async Task<IResult> CancelAsync(
        Guid id,
        HttpContext http,
        ExecutorDbContext db,
        ExecutorEndpoints endpoints,
        ISendEndpointProvider sendEndpoints,
        TenantAccessCache access,
        CancellationToken cancellationToken)
    {
        var (task, refused) = await FindAsync(db, http, access, id, cancellationToken);
        if (task is null)
        {
            return refused!;
        }

        if (task.Status == TaskRunStatus.Cancelled)
        {
            return Results.Json(new TaskAccepted(id, task.Status), statusCode: StatusCodes.Status202Accepted);
        }

        if (IsTerminal(task.Status))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "The task has already finished.",
                detail: $"Task {id} ended as {task.Status}; there is nothing left to cancel.",
                type: ProblemTypes.Conflict);
        }

        var principal = http.GetPrincipal();
        var endpoint = await sendEndpoints.GetSendEndpoint(endpoints.TaskRun);
        await endpoint.Send(new CancelTask(id, principal, $"Cancelled by {principal.UserId}."), cancellationToken);

        // The send is an outbox row (bus outbox): it leaves once committed.
        await db.SaveChangesAsync(cancellationToken);
        return Results.Json(new TaskAccepted(id, task.Status), statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListAsync(
        HttpContext http,
        ExecutorDbContext db,
        string? status,
        string? user,
        string? template,
        DateTimeOffset? from,
        DateTimeOffset? to,
        int? page,
        int? pageSize,
        int? wait,
        TenantAccessCache access,
        TaskChangeFeed changes,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        TaskRunStatus? filter = null;
        if (!string.IsNullOrEmpty(status))
        {
            if (Enum.TryParse<TaskRunStatus>(status, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(status, out _))
            {
                filter = parsed;
            }
            else
            {
                errors["status"] = [$"'{status}' is not a task status; use one of {string.Join(", ", Enum.GetNames<TaskRunStatus>())}."];
            }
        }

        var p = page ?? 1;
        var size = pageSize ?? 20;
        if (p < 1)
        {
            errors["page"] = ["must be 1 or more."];
        }

        if (size is < 1 or > 100)
        {
            errors["pageSize"] = ["must be between 1 and 100."];
        }

        if (from is not null && to is not null && from > to)
        {
            errors["to"] = ["must not be earlier than 'from'."];
        }

        if (wait is < 0 or > MaxListWaitSeconds)
        {
            errors["wait"] = [$"must be between 0 and {MaxListWaitSeconds} seconds."];
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var principal = http.GetPrincipal();
        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        if (rules is null)
        {
            return TenantAccessCache.Unavailable("the tenant's tasks");
        }

        // Admins and approvers see the tenant's tasks; everyone else sees their own.
        var query = db.Tasks.AsNoTracking().Where(t => t.TenantId == principal.TenantId);
        if (!rules.MayActOnEveryTask(principal))
        {
            query = query.Where(t => t.UserId == principal.UserId);
        }
        if (filter is { } wanted)
        {
            query = query.Where(t => t.Status == wanted);
        }

        if (!string.IsNullOrEmpty(user))
        {
            query = query.Where(t => t.UserId == user);
        }

        if (!string.IsNullOrEmpty(template))
        {
            query = query.Where(t => t.TemplateName == template);
        }

        // The time filters select by submission time: from inclusive, to exclusive.
        if (from is { } since)
        {
            query = query.Where(t => t.CreatedAt >= since);
        }

        if (to is { } until)
        {
            query = query.Where(t => t.CreatedAt < until);
        }

        async Task<(TaskPage Page, string ETag)> ReadAsync()
        {
            var total = await query.CountAsync(cancellationToken);
            var items = await query
                .OrderByDescending(t => t.CreatedAt).ThenByDescending(t => t.Id)
                .Skip((p - 1) * size).Take(size)
                .Select(t => new TaskSummary(t.Id, t.Status, t.State, t.Goal, t.TemplateName, t.Reason, t.TraceId, t.CreatedAt, t.UpdatedAt, t.FinishedAt, t.UserId))
                .ToListAsync(cancellationToken);
            var read = new TaskPage(items, p, size, total);
            return (read, $"W/\"{Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(read))).AsSpan(0, 32)}\"");
        }

        // A list that the caller already has (If-None-Match) is 304. With `wait`, the request is held until the list
        // differs or the wait is over: a console follows the list with one request per change instead of polling. The
        // wake-up is the same PostgreSQL notification the event streams use (any task's change); reads are spaced by
        // ListChangeReadInterval so that a busy executor answers waiting lists at a bounded rate.
        string? known = http.Request.Headers.IfNoneMatch;
        using var changed = wait > 0 && known is not null ? changes.WatchAny() : null;
        var (current, etag) = await ReadAsync();
        if (changed is not null && etag == known)
        {
            var deadline = time.GetUtcNow().AddSeconds(wait!.Value);
            while (etag == known && !cancellationToken.IsCancellationRequested)
            {
                var left = deadline - time.GetUtcNow();
                var next = changes.Listening ? left : TimeSpan.FromTicks(Math.Min(left.Ticks, ListChangeReadInterval.Ticks));
                if (next <= TimeSpan.Zero || (!await changed.WaitAsync(next, cancellationToken) && changes.Listening))
                {
                    break;
                }

                await Task.Delay(ListChangeReadInterval, time, cancellationToken);
                (current, etag) = await ReadAsync();
            }
        }

        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = "no-cache";
        return etag == known ? Results.StatusCode(StatusCodes.Status304NotModified) : Results.Ok(current);
    }

    /// <summary>The longest a list request may wait for a change (<c>wait</c>, seconds).</summary>
    public const int MaxListWaitSeconds = 30;

    private static readonly TimeSpan ListChangeReadInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Adds the task row and starts its run in the same unit of work (the caller saves): the saga's first step (its state,
    /// its log entries, and AdmitTask / CreatePlan as rows of the bus outbox) commits with the task in one SaveChanges, so
    /// there is never a task without its run, and no SubmitTask round trip through the broker. The task's id is made here.
    /// </summary>
    internal static async Task<(TaskRecord Task, TaskRunState Run)> StartRunAsync(
        ExecutorDbContext db,
        ITaskJournal journal,
        IPublishEndpoint publish,
        ExecutorOptions options,
        ModelStepPrice price,
        SubmitTask submitted,
        string? idempotencyKey,
        string hash,
        CancellationToken cancellationToken)
    {
        var now = submitted.SubmittedAt;
        var principal = submitted.Principal;
        var task = new TaskRecord
        {
            Id = Guid.CreateVersion7(now),
            TenantId = principal.TenantId,
            UserId = principal.UserId,
            IdempotencyKey = idempotencyKey,
            RequestHash = hash,
            Goal = submitted.Goal,
            TemplateName = submitted.TemplateName,
            Parameters = submitted.Parameters is null ? null : new Dictionary<string, string>(submitted.Parameters, StringComparer.Ordinal),
            RequestedSteps = submitted.Steps?.ToList(),
            RequestedLimits = submitted.Limits,
            AllowedTools = submitted.AllowedTools?.ToList(),
            Status = TaskRunStatus.Submitted,
            State = nameof(TaskRunStatus.Submitted),
            TraceId = Activity.Current?.TraceId.ToHexString(),
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Tasks.Add(task);

        var run = new TaskRunState { CorrelationId = task.Id, CurrentState = nameof(TaskRunStatus.Submitted), SubmittedAt = now, UpdatedAt = now };
        var engine = new TaskRunEngine(options, ToolCatalogSnapshot.Empty, now, price.Current, price.For);
        engine.Submit(run, submitted with { TaskId = task.Id });
        db.TaskRuns.Add(run);
        journal.Append(run, engine.Effects.Journal, now);
        task.LastSequence = run.EventSequence;
        foreach (var message in engine.Effects.Published)
        {
            await publish.Publish(message, message.GetType(), cancellationToken);
        }

        return (task, run);
    }

    /// <summary>
    /// The task, when the caller may act on it: its owner, and the tenant's admins and approvers (approvers must see what
    /// they approve). Anyone else, in the tenant or not, is told it does not exist (404), not that it is someone else's.
    /// Only a caller who is not the owner needs governance's answer about roles; without one the answer is 503.
    /// </summary>
    internal static async Task<(TaskRecord? Task, IResult? Refused)> FindAsync(
        ExecutorDbContext db, HttpContext http, TenantAccessCache access, Guid id, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        var task = await db.Tasks.AsNoTracking().FirstOrDefaultAsync(t => t.Id == id && t.TenantId == principal.TenantId, cancellationToken);
        if (task is null)
        {
            return (null, NotFound(id));
        }

        if (task.UserId == principal.UserId)
        {
            return (task, null);
        }

        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        return rules is null ? (null, TenantAccessCache.Unavailable($"task {id}"))
            : rules.MayActOnEveryTask(principal) ? (task, null)
            : (null, NotFound(id));
    }

    internal static bool IsTerminal(TaskRunStatus status) => status is TaskRunStatus.Completed or TaskRunStatus.Failed or TaskRunStatus.Cancelled
        or TaskRunStatus.BudgetExceeded or TaskRunStatus.Compensated or TaskRunStatus.Rejected;

    internal static IResult NotFound(Guid id) => ApiProblems.NotFound($"There is no task {id} that you may see.");

    private static Task<TaskRecord?> FindByKeyAsync(ExecutorDbContext db, AgentPrincipal principal, string key, CancellationToken cancellationToken) =>
        db.Tasks.AsNoTracking().FirstOrDefaultAsync(
            t => t.TenantId == principal.TenantId && t.UserId == principal.UserId && t.IdempotencyKey == key,
            cancellationToken);

    private static IResult Replay(TaskRecord existing, string hash) => existing.RequestHash != hash
        ? Results.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: "Idempotency-Key reused with a different request.",
            detail: $"The key was first used for task {existing.Id} with a different body; use a new key for a new task.",
            type: ProblemTypes.Conflict)
        : new LocatedResult(Results.Ok(new TaskAccepted(existing.Id, existing.Status)), Location(existing.Id));

    private static string Location(Guid id) => $"/api/tasks/{id}";

    /// <summary>
    /// The tool steps whose tool none of the caller's roles allows, by field (<c>steps[2].tool</c>); empty when all may
    /// be called or when governance did not tell in time (the planner checks again with the admission).
    /// </summary>
    private static async Task<Dictionary<string, string[]>> UncallableToolsAsync(
        TenantAccessCache access, AgentPrincipal principal, List<PlanStep> steps, TimeSpan wait, CancellationToken cancellationToken)
    {
        var refused = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!steps.Exists(s => s.Kind == StepKind.Tool && !string.IsNullOrEmpty(s.Tool))
            || await access.GetAsync(principal.TenantId, cancellationToken, wait) is not { } rules)
        {
            return refused;
        }

        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i] is { Kind: StepKind.Tool, Tool: { Length: > 0 } tool } && !rules.MayCall(principal, tool, requiredScope: null))
            {
                refused[$"steps[{i}].tool"] = [$"None of the caller's roles allows tool '{tool}'."];
            }
        }

        return refused;
    }

    private static IResult Invalid(Dictionary<string, string[]> errors) => ApiProblems.Validation(errors, "See 'errors' for each problem.");

    private static IResult PayloadTooLarge() => Results.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "The request body is too large.",
        detail: $"A task request may be at most {MaxBodyBytes / 1024} KiB.",
        type: ProblemTypes.PayloadTooLarge);

    private static JsonSerializerOptions CreateRequestJson()
    {
        // A field the request does not have is refused, not ignored: a misspelt "allowed_tools" must not quietly
        // submit a task without its restriction.
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            AllowTrailingCommas = false,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        return options;
    }

    /// <summary>Adds a <c>Location</c> header to another result.</summary>
    internal sealed class LocatedResult(IResult inner, string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return inner.ExecuteAsync(httpContext);
        }
    }
}
