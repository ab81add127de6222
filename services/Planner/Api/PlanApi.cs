using System.Text.Json;
using Agents.Contracts;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner.Api;

/// <summary>One stored version of a plan, as the API shows it.</summary>
internal sealed record PlanVersionView(
    int Version,
    string Source,
    string? Rationale,
    string? TemplateName,
    int? TemplateVersion,
    string? RevisionReason,
    DateTimeOffset CreatedAt,
    IReadOnlyList<StepDocument> Steps);

/// <summary>A task's plan with every version, oldest first.</summary>
internal sealed record PlanHistoryView(Guid TaskId, Guid PlanId, string? Goal, IReadOnlyList<PlanVersionView> Versions);

/// <summary><c>GET /api/plans/{taskId}</c>: every version of a task's plan, for the caller's tenant only.</summary>
internal static class PlanApi
{
    public static RouteGroupBuilder MapPlanApi(this RouteGroupBuilder api)
    {
        api.MapGet("/plans/{taskId:guid}", async (Guid taskId, HttpContext http, PlannerDbContext db, CancellationToken cancellationToken) =>
        {
            var tenant = http.GetPrincipal().TenantId;
            var versions = await db.PlanVersions.AsNoTracking()
                .Where(p => p.TaskId == taskId && p.TenantId == tenant)
                .OrderBy(p => p.Version)
                .ToListAsync(cancellationToken);
            if (versions.Count == 0)
            {
                return Results.Problem(
                    statusCode: StatusCodes.Status404NotFound,
                    title: "Plan not found",
                    detail: $"There is no plan for task {taskId}.",
                    type: ProblemTypes.NotFound);
            }

            return Results.Ok(new PlanHistoryView(
                taskId,
                versions[0].PlanId,
                versions[0].Goal,
                versions.Select(v => new PlanVersionView(
                    v.Version,
                    v.Source,
                    v.Rationale,
                    v.TemplateName,
                    v.TemplateVersion,
                    v.RevisionReason,
                    v.CreatedAt,
                    (JsonSerializer.Deserialize<List<PlanStep>>(v.StepsJson, PlannerJson.Options) ?? []).Select(StepDocument.FromPlanStep).ToList())).ToList()));
        }).Produces<PlanHistoryView>().ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }
}
