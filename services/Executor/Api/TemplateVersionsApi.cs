using Agents.Contracts;
using Agents.Executor.Data;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Executor.Api;

/// <summary>
/// <c>GET /api/tasks/versions?template=…</c>: how each version of a workflow template did on live traffic — tasks,
/// success rate, latency, tokens, cost and approvals per template version and rollout side — so a candidate version can
/// be compared with the stable one while it rolls out. Replays are left out (they are not traffic). The caller sees the
/// figures of the tasks it may see: the tenant's for admins and approvers, its own otherwise.
/// </summary>
internal static class TemplateVersionsApi
{
    /// <summary>How far back the figures go when no <c>since</c> is given.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(7);

    public static RouteGroupBuilder MapTemplateVersions(this RouteGroupBuilder tasks)
    {
        tasks.MapGet("/versions", GetAsync).Produces<TemplateVersionReport>().ProducesValidationProblem();
        return tasks;
    }

    private static async Task<IResult> GetAsync(
        string? template,
        DateTimeOffset? since,
        HttpContext http,
        ExecutorDbContext db,
        TenantAccessCache access,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(template))
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["template"] = ["name the workflow template, e.g. ?template=lookup-and-summarize."] }, "See 'errors'.");
        }

        var principal = http.GetPrincipal();
        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        if (rules is null)
        {
            return TenantAccessCache.Unavailable("the tenant's tasks");
        }

        var from = since ?? time.GetUtcNow() - DefaultWindow;
        var tasks = db.Tasks.AsNoTracking().Where(t => t.TenantId == principal.TenantId && t.TemplateName == template && t.CreatedAt >= from);
        if (!rules.MayActOnEveryTask(principal))
        {
            tasks = tasks.Where(t => t.UserId == principal.UserId);
        }

        var rows = await (
            from t in tasks
            join r in db.TaskRuns.AsNoTracking() on t.Id equals r.CorrelationId
            where r.ReplayOf == null
            select new TaskFigures(
                r.TemplateVersion,
                r.TemplateRollout,
                r.Status,
                r.SubmittedAt,
                r.FinishedAt,
                r.InputTokens + r.OutputTokens,
                r.Cost,
                db.TaskEvents.Any(e => e.TaskId == t.Id && e.Kind == "approval-required")))
            .ToListAsync(cancellationToken);

        var versions = rows
            .GroupBy(r => (r.Version, r.Rollout))
            .OrderBy(g => g.Key.Version ?? int.MaxValue).ThenBy(g => g.Key.Rollout, StringComparer.Ordinal)
            .Select(g => TemplateVersionFigures.Of(g.Key.Version, g.Key.Rollout, [.. g]))
            .ToList();
        return Results.Ok(new TemplateVersionReport(template, from, time.GetUtcNow(), versions));
    }
}

/// <summary>What one task contributes to its version's figures.</summary>
internal sealed record TaskFigures(int? Version, string? Rollout, TaskRunStatus Status, DateTimeOffset SubmittedAt, DateTimeOffset? FinishedAt, int Tokens, decimal Cost, bool AskedApproval);

/// <summary>The figures of a template's versions between <see cref="Since"/> and <see cref="Until"/>.</summary>
public sealed record TemplateVersionReport(string Template, DateTimeOffset Since, DateTimeOffset Until, IReadOnlyList<TemplateVersionFigures> Versions);

/// <summary>
/// One template version (and rollout side) on live traffic. <see cref="Version"/> is null for tasks not planned (yet): a
/// task rejected before planning, or still waiting. <see cref="SuccessRate"/>: Completed among the finished;
/// <see cref="ApprovalRate"/>: tasks that asked a person at least once, among all; latency from submission to the end;
/// tokens and cost per task: of the finished tasks (a task still running has spent only part of its share).
/// </summary>
public sealed record TemplateVersionFigures(
    int? Version,
    string? Rollout,
    int Tasks,
    int Finished,
    int Completed,
    double? SuccessRate,
    double? LatencyP50Ms,
    double? LatencyP95Ms,
    double TokensPerTask,
    decimal CostPerTask,
    double ApprovalRate,
    IReadOnlyDictionary<string, int> ByStatus)
{
    internal static TemplateVersionFigures Of(int? version, string? rollout, IReadOnlyList<TaskFigures> tasks)
    {
        var finished = tasks.Where(t => t.FinishedAt is not null).ToList();
        var completed = finished.Count(t => t.Status == TaskRunStatus.Completed);
        var latencies = finished.Select(t => (t.FinishedAt!.Value - t.SubmittedAt).TotalMilliseconds).Order().ToList();
        return new TemplateVersionFigures(
            version,
            rollout,
            tasks.Count,
            finished.Count,
            completed,
            finished.Count == 0 ? null : Math.Round(completed / (double)finished.Count, 4),
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.95),
            finished.Count == 0 ? 0 : Math.Round(finished.Average(t => t.Tokens), 1),
            finished.Count == 0 ? 0m : Math.Round(finished.Average(t => t.Cost), 6),
            Math.Round(tasks.Count(t => t.AskedApproval) / (double)tasks.Count, 4),
            tasks.GroupBy(t => t.Status.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()));
    }

    /// <summary>The nearest-rank percentile of sorted values; null for none.</summary>
    internal static double? Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? null : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)], 1);
}
