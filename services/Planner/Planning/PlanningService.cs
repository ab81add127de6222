using System.Diagnostics;
using System.Text.Json;
using Agents.Contracts;
using Agents.Planner.Catalog;
using Agents.Planner.Data;
using Agents.Planner.Templates;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Planner.Planning;

/// <summary>A plan was made, or why not.</summary>
internal sealed record PlanOutcome(Plan? Plan, string? Reason, IReadOnlyList<string>? Errors)
{
    public static PlanOutcome Created(Plan plan) => new(plan, null, null);

    public static PlanOutcome Rejected(string reason, IReadOnlyList<string>? errors = null) => new(null, reason, errors is { Count: > 0 } ? errors : null);
}

/// <summary>
/// Makes and revises plans: from explicit steps, a workflow template or a goal (planner model), each validated
/// against the catalog, and stores every version. Repeating a request returns the stored version rather than
/// planning again, so a redelivered message publishes the same plan.
/// </summary>
internal sealed class PlanningService(
    PlannerDbContext db,
    ToolCatalog catalog,
    ModelPlanner model,
    IOptions<PlannerOptions> options,
    TimeProvider time,
    ILogger<PlanningService> logger)
{
    public const string SourceGoal = "goal";
    public const string SourceTemplate = "template";
    public const string SourceSteps = "steps";
    public const string SourceRevision = "revision";

    public async Task<PlanOutcome> CreateAsync(CreatePlan message, CancellationToken cancellationToken)
    {
        using var activity = PlannerTelemetry.StartPlan(message.TaskId, "create");
        var outcome = await CreateCoreAsync(message, activity, cancellationToken);
        Record(activity, outcome);
        return outcome;
    }

    public async Task<PlanOutcome> ReviseAsync(RevisePlan message, CancellationToken cancellationToken)
    {
        using var activity = PlannerTelemetry.StartPlan(message.TaskId, "revise");
        var outcome = await ReviseCoreAsync(message, activity, cancellationToken);
        Record(activity, outcome);
        return outcome;
    }

    private async Task<PlanOutcome> CreateCoreAsync(CreatePlan message, Activity? activity, CancellationToken cancellationToken)
    {
        var existing = await db.PlanVersions.AsNoTracking()
            .Where(p => p.TaskId == message.TaskId && p.Version == 1)
            .FirstOrDefaultAsync(cancellationToken);
        if (existing is not null)
        {
            return existing.TenantId == message.Principal.TenantId
                ? PlanOutcome.Created(ToPlan(existing))
                : PlanOutcome.Rejected($"task {message.TaskId} already has a plan in another tenant.");
        }

        var settings = options.Value;
        var tools = await catalog.LoadAsync(cancellationToken);
        var parameters = message.Parameters ?? new Dictionary<string, string>();
        var callable = message.Admission?.CallableTools;
        var context = new PlanValidationContext(tools, message.AllowedTools, parameters.Keys.ToHashSet(StringComparer.Ordinal), settings.MaxSteps)
        {
            ParameterValues = parameters,
            CallableTools = callable,
        };
        var record = new PlanVersionRecord
        {
            PlanId = Guid.NewGuid(),
            Version = 1,
            TaskId = message.TaskId,
            TenantId = message.Principal.TenantId,
            UserId = message.Principal.UserId,
            Source = string.Empty,
            StepsJson = string.Empty,
            ParametersJson = JsonSerializer.Serialize(parameters, PlannerJson.Options),
            AllowedToolsJson = message.AllowedTools is null ? null : JsonSerializer.Serialize(message.AllowedTools, PlannerJson.Options),
            CreatedAt = time.GetUtcNow(),
        };

        IReadOnlyList<PlanStep> steps;
        if (message.Steps is { Count: > 0 })
        {
            record.Source = SourceSteps;
            record.Goal = string.IsNullOrWhiteSpace(message.Goal) ? null : message.Goal;
            steps = Normalise(message.Steps);
            var errors = PlanValidator.Validate(steps, context);
            if (errors.Count > 0)
            {
                return PlanOutcome.Rejected($"The given steps are not a valid plan: {Summary(errors)}", errors);
            }

            record.Rationale = "Steps given with the task.";
        }
        else if (!string.IsNullOrWhiteSpace(message.TemplateName))
        {
            record.Source = SourceTemplate;
            var found = await TemplateStore.FindForTaskAsync(db, message.Principal.TenantId, message.TemplateName, message.TaskId, message.TemplateVersion, cancellationToken);
            if (found is not ({ } template, var rollout))
            {
                return PlanOutcome.Rejected(message.TemplateVersion is { } version
                    ? $"template '{message.TemplateName}' has no version {version} (or it is retired)"
                    : $"unknown template '{message.TemplateName}'");
            }

            var expansion = new List<string>();
            steps = TemplateRules.Expand(template, parameters, expansion);
            if (expansion.Count > 0)
            {
                return PlanOutcome.Rejected(expansion.Count == 1 ? expansion[0] : $"template '{template.Name}': {Summary(expansion)}", expansion);
            }

            var errors = PlanValidator.Validate(steps, context);
            if (errors.Count > 0)
            {
                return PlanOutcome.Rejected($"template '{template.Name}' version {template.Version} does not give a valid plan for this task: {Summary(errors)}", errors);
            }

            record.TemplateName = template.Name;
            record.TemplateVersion = template.Version;
            record.Rollout = rollout;
            record.Goal = string.IsNullOrWhiteSpace(message.Goal) ? template.Description : message.Goal;
            record.Rationale = rollout is null
                ? $"Workflow template '{template.Name}' version {template.Version}."
                : $"Workflow template '{template.Name}' version {template.Version} (the {rollout} version of its rollout).";
        }
        else if (!string.IsNullOrWhiteSpace(message.Goal))
        {
            record.Source = SourceGoal;
            record.Goal = message.Goal;
            var request = new PlanningRequest(message.Goal, VisibleTools(tools, message.AllowedTools, callable), parameters, settings.MaxSteps);
            var memories = (message.Memories ?? []).Take(settings.MaxMemoriesInPrompt).ToList();
            var result = await model.PlanAsync(request, memories, [], context, cancellationToken);
            activity?.SetTag("agents.plan.model_attempts", result.Attempts);
            record.ModelAttempts = result.Attempts;
            if (!result.Succeeded)
            {
                return PlanOutcome.Rejected(
                    $"The planner model gave no valid plan in {result.Attempts} attempt(s) (Planner:MaxPlanAttempts); last errors: {Summary(result.Errors)}",
                    result.Errors);
            }

            steps = result.Steps!;
            record.Rationale = result.Rationale;
        }
        else
        {
            return PlanOutcome.Rejected("The request has no goal, template name or steps; give one of them.");
        }

        record.StepsJson = JsonSerializer.Serialize(steps, PlannerJson.Options);
        return await SaveAsync(record, cancellationToken);
    }

    private async Task<PlanOutcome> ReviseCoreAsync(RevisePlan message, Activity? activity, CancellationToken cancellationToken)
    {
        var versions = await db.PlanVersions.AsNoTracking()
            .Where(p => p.PlanId == message.PlanId && p.TaskId == message.TaskId && p.TenantId == message.Principal.TenantId)
            .OrderBy(p => p.Version)
            .ToListAsync(cancellationToken);
        if (versions.Count == 0)
        {
            return PlanOutcome.Rejected($"Plan {message.PlanId} of task {message.TaskId} was not found; it cannot be revised.");
        }

        if (versions.Find(v => v.Version == message.Version + 1) is { } already)
        {
            return PlanOutcome.Created(ToPlan(already)); // the same revision request again
        }

        if (versions.Find(v => v.Version == message.Version) is not { } current)
        {
            return PlanOutcome.Rejected($"Plan {message.PlanId} has no version {message.Version} (latest is {versions[^1].Version}).");
        }

        var settings = options.Value;
        var revisions = current.Version - 1;
        if (revisions >= settings.MaxRevisions)
        {
            return PlanOutcome.Rejected(
                $"The plan was already revised {revisions} time(s), the most allowed (Planner:MaxRevisions = {settings.MaxRevisions}); step '{message.FailedStepId}' failed: {message.Error}");
        }

        var previous = JsonSerializer.Deserialize<List<PlanStep>>(current.StepsJson, PlannerJson.Options) ?? [];
        if (!previous.Exists(s => s.Id == message.FailedStepId))
        {
            return PlanOutcome.Rejected($"Step '{message.FailedStepId}' is not in version {current.Version} of plan {message.PlanId}.");
        }

        var completed = (message.CompletedStepIds ?? []).ToHashSet(StringComparer.Ordinal);
        completed.Remove(message.FailedStepId);
        var kept = previous.Where(s => completed.Contains(s.Id)).ToList();

        var parameters = current.ParametersJson is null
            ? new Dictionary<string, string>()
            : JsonSerializer.Deserialize<Dictionary<string, string>>(current.ParametersJson, PlannerJson.Options) ?? [];
        var allowed = current.AllowedToolsJson is null ? null : JsonSerializer.Deserialize<List<string>>(current.AllowedToolsJson, PlannerJson.Options);
        var tools = await catalog.LoadAsync(cancellationToken);
        var context = new PlanValidationContext(tools, allowed, parameters.Keys.ToHashSet(StringComparer.Ordinal), settings.MaxSteps) { ParameterValues = parameters };
        var goal = current.Goal ?? "Complete the task that the current plan describes.";
        var request = new PlanningRequest(
            goal,
            VisibleTools(tools, allowed, callable: null),
            parameters,
            settings.MaxSteps,
            new PlanRevisionRequest(current.Version, previous, kept.Select(s => s.Id).ToList(), message.FailedStepId, message.Error ?? string.Empty));

        var result = await model.PlanAsync(request, [], kept, context, cancellationToken);
        activity?.SetTag("agents.plan.model_attempts", result.Attempts);
        if (!result.Succeeded)
        {
            return PlanOutcome.Rejected(
                $"The planner model gave no valid revision of plan version {current.Version} in {result.Attempts} attempt(s) (Planner:MaxPlanAttempts); last errors: {Summary(result.Errors)}",
                result.Errors);
        }

        // The planner model neither sees nor writes which model a step runs on, nor its attempts and timeout: a step that
        // keeps its id and kind keeps what the plan gave it, so a revision never moves a candidate's step to another model.
        var earlier = previous.ToDictionary(s => s.Id, StringComparer.Ordinal);
        result = result with
        {
            Steps = [.. result.Steps!.Select(s => earlier.TryGetValue(s.Id, out var before) && before.Kind == s.Kind
                ? s with { Model = s.Model ?? before.Model, MaxAttempts = s.MaxAttempts ?? before.MaxAttempts, Timeout = s.Timeout ?? before.Timeout }
                : s)],
        };

        var record = new PlanVersionRecord
        {
            PlanId = current.PlanId,
            Version = current.Version + 1,
            TaskId = current.TaskId,
            TenantId = current.TenantId,
            UserId = message.Principal.UserId,
            Source = SourceRevision,
            StepsJson = JsonSerializer.Serialize(result.Steps, PlannerJson.Options),
            Rationale = result.Rationale,
            Goal = current.Goal,
            TemplateName = current.TemplateName,
            TemplateVersion = current.TemplateVersion,
            Rollout = current.Rollout,
            ParametersJson = current.ParametersJson,
            AllowedToolsJson = current.AllowedToolsJson,
            RevisionReason = $"step '{message.FailedStepId}' failed: {message.Error}",
            ModelAttempts = result.Attempts,
            CreatedAt = time.GetUtcNow(),
        };
        return await SaveAsync(record, cancellationToken);
    }

    private async Task<PlanOutcome> SaveAsync(PlanVersionRecord record, CancellationToken cancellationToken)
    {
        db.PlanVersions.Add(record);
        if (db.Database.CurrentTransaction is not null)
        {
            // A consumer's inbox transaction (the only one the planner opens): its unit of work saves the plan with the
            // answer in one round trip before the commit, and a concurrent duplicate fails that commit's SaveChanges,
            // whose retry finds the stored version.
            return PlanOutcome.Created(ToPlan(record));
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return PlanOutcome.Created(ToPlan(record));
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }
            && db.Database.CurrentTransaction is null)
        {
            // The same task was planned concurrently: use the stored version. Inside the inbox's transaction the
            // exception propagates instead (the transaction is aborted) and the retry finds the stored version.
            db.ChangeTracker.Clear();
            logger.LogInformation("Plan version {Version} of task {TaskId} was stored concurrently; returning the stored one", record.Version, record.TaskId);
            var stored = await db.PlanVersions.AsNoTracking()
                .FirstAsync(p => p.TaskId == record.TaskId && p.Version == record.Version, cancellationToken);
            return PlanOutcome.Created(ToPlan(stored));
        }
    }

    public static Plan ToPlan(PlanVersionRecord record) =>
        new(record.PlanId, record.Version, record.Source, JsonSerializer.Deserialize<List<PlanStep>>(record.StepsJson, PlannerJson.Options) ?? [], record.Rationale,
            record.TemplateName, record.TemplateVersion, record.Rollout);

    /// <summary>The tools offered to the planner model: those the task allows and (when governance said) the caller's roles allow.</summary>
    private static List<ToolSummary> VisibleTools(IReadOnlyDictionary<string, ToolSummary> tools, IReadOnlyCollection<string>? allowed, IReadOnlyList<string>? callable) =>
        tools.Values
            .Where(t => allowed is null || allowed.Contains(t.Name, StringComparer.Ordinal))
            .Where(t => callable is null || Wildcard.MatchesAny(callable, t.Name))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    private static List<PlanStep> Normalise(IReadOnlyList<PlanStep> steps) =>
        steps.Select(s => s with
        {
            ArgumentsJson = s.Kind == StepKind.Tool && string.IsNullOrWhiteSpace(s.ArgumentsJson) ? "{}" : s.ArgumentsJson,
            DependsOn = s.DependsOn ?? [],
        }).ToList();

    private static string Summary(IReadOnlyList<string> errors) =>
        errors.Count <= 3 ? string.Join("; ", errors) : string.Join("; ", errors.Take(3)) + $"; and {errors.Count - 3} more";

    private static void Record(Activity? activity, PlanOutcome outcome)
    {
        if (activity is null)
        {
            return;
        }

        if (outcome.Plan is { } plan)
        {
            activity.SetTag("agents.plan.id", plan.PlanId.ToString());
            activity.SetTag("agents.plan.version", plan.Version);
            activity.SetTag("agents.plan.source", plan.Source);
            activity.SetTag("agents.plan.steps", plan.Steps.Count);
        }
        else
        {
            activity.SetTag("agents.plan.rejected", true);
            activity.SetStatus(ActivityStatusCode.Error, outcome.Reason);
        }
    }
}
