using System.Globalization;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Decisions;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Api;

internal static class UsageAuditApi
{
    public static RouteGroupBuilder MapUsageAndAudit(this RouteGroupBuilder api)
    {
        api.MapGet("/usage", UsageAsync).Produces<UsageView>().ProducesValidationProblem();
        api.MapGet("/audit", AuditAsync).Produces<List<AuditEntryView>>().ProducesProblem(StatusCodes.Status403Forbidden);
        api.MapGet("/audit/verify", VerifyAsync).Produces<AuditVerification>().ProducesProblem(StatusCodes.Status403Forbidden);
        return api;
    }

    /// <summary>Usage of one UTC day: the admin sees the tenant, every user and every task; others see their own.</summary>
    private static async Task<IResult> UsageAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, TimeProvider time, string? day, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var date = Ledger.DayOf(time.GetUtcNow());
        if (day is not null && !DateOnly.TryParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
        {
            return Problems.Validation("'day' must be a date like 2026-01-31 (UTC).", new Dictionary<string, string[]> { ["day"] = [$"'{day}' is not a yyyy-MM-dd date."] });
        }

        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        var isAdmin = principal.IsInRole(policy.Document.AdminRole);
        var daily = await db.DailyUsage.AsNoTracking()
            .Where(d => d.TenantId == principal.TenantId && d.Day == date && (isAdmin || d.UserId == principal.UserId || d.UserId == DailyUsage.TenantRow))
            .ToListAsync(ct);
        var tasks = await db.Tasks.AsNoTracking()
            .Where(t => t.TenantId == principal.TenantId && t.Day == date && (isAdmin || t.UserId == principal.UserId))
            .OrderBy(t => t.AdmittedAt)
            .Take(1000)
            .ToListAsync(ct);
        var tenant = daily.SingleOrDefault(d => d.UserId == DailyUsage.TenantRow);
        return Results.Ok(new UsageView(
            principal.TenantId,
            date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            isAdmin ? new TenantUsageView(tenant?.Tokens ?? 0, tenant?.Cost ?? 0, tenant?.ToolCalls ?? 0, policy.Document.Budgets.PerTenantPerDay) : null,
            daily.Where(d => d.UserId != DailyUsage.TenantRow).Select(d => new UserUsageView(d.UserId, d.Tokens, d.Cost, d.ToolCalls, policy.Document.Budgets.PerUserPerDay)),
            tasks.Select(t => new TaskUsageView(
                t.TaskId, t.UserId, t.Admitted, t.RejectionReason, t.AdmittedAt, t.Tokens, t.Cost, t.ToolCalls, t.Steps, t.FinishedStatus,
                new TaskLimitsView(t.MaxSteps, t.MaxToolCalls, t.MaxTokens, t.MaxCost, t.MaxWallClockSeconds)))));
    }

    private static async Task<IResult> AuditAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, Guid? taskId, long? after, int? limit, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        if (PolicyApi.RequireAdmin(principal, policy, "Reading the audit log") is { } forbidden)
        {
            return forbidden;
        }

        var take = Math.Clamp(limit ?? 200, 1, 1000);
        var query = db.Audit.AsNoTracking().Where(e => e.TenantId == principal.TenantId && e.Sequence > (after ?? 0));
        if (taskId is not null)
        {
            query = query.Where(e => e.TaskId == taskId);
        }

        var entries = await query.OrderBy(e => e.Sequence).Take(take).ToListAsync(ct);
        return Results.Ok(entries.Select(e => new AuditEntryView(e.Sequence, e.Time, e.Actor, e.Action, e.Subject, e.TaskId, e.Decision, e.Reason, System.Text.Json.JsonDocument.Parse(e.Details).RootElement, e.PrevHash, e.Hash)));
    }

    private static async Task<IResult> VerifyAsync(HttpContext http, PolicyStore policies, AuditLog audit, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        if (PolicyApi.RequireAdmin(principal, policy, "Verifying the audit log") is { } forbidden)
        {
            return forbidden;
        }

        return Results.Ok(await audit.VerifyAsync(principal.TenantId, ct));
    }
}
