using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Api;

/// <summary>The body of <c>POST /api/governance/kill-switch</c>: a tool name, or none for the whole tenant.</summary>
public sealed record KillSwitchRequest(string? Tool, bool? Enabled, string? Reason);

internal static class PolicyApi
{
    public static RouteGroupBuilder MapPolicies(this RouteGroupBuilder api)
    {
        api.MapGet("/policy", GetAsync);
        api.MapPut("/policy", PutAsync);
        api.MapGet("/policy/versions", VersionsAsync);
        api.MapGet("/policy/versions/{version:int}", VersionAsync);
        api.MapGet("/kill-switch", ListKillSwitchesAsync);
        api.MapPost("/kill-switch", SetKillSwitchAsync).Accepts<KillSwitchRequest>("application/json");
        return api;
    }

    internal static IResult? RequireAdmin(AgentPrincipal principal, EffectivePolicy policy, string what) =>
        principal.IsInRole(policy.Document.AdminRole)
            ? null
            : Problems.Forbidden($"{what} needs the tenant's admin role '{policy.Document.AdminRole}'.");

    private static async Task<IResult> GetAsync(HttpContext http, PolicyStore policies, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        return Results.Ok(new { tenantId = policy.TenantId, version = policy.Version, isDefault = policy.IsDefault, document = JsonDocument.Parse(policy.Document.ToJson()).RootElement });
    }

    private static async Task<IResult> PutAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var current = await policies.GetCurrentAsync(principal.TenantId, ct);
        if (RequireAdmin(principal, current, "Changing the policy") is { } forbidden)
        {
            return forbidden;
        }

        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var json = await reader.ReadToEndAsync(ct);
        var document = PolicyValidator.Validate(json, out var errors);
        if (document is null)
        {
            return Problems.Validation(
                $"The policy has {errors.Count} error(s); nothing was changed.",
                errors.GroupBy(e => e.Pointer).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        // The chain lock serializes the tenant's policy writers, so versions never collide.
        await audit.LockChainAsync(principal.TenantId, ct);
        var version = (await db.Policies.Where(p => p.TenantId == principal.TenantId).MaxAsync(p => (int?)p.Version, ct) ?? 0) + 1;
        var stored = new PolicyVersion { TenantId = principal.TenantId, Version = version, Document = json, CreatedAt = time.GetUtcNow(), CreatedBy = principal.UserId };
        db.Policies.Add(stored);
        await audit.AppendAsync(
            principal.TenantId,
            principal.UserId,
            "policy.changed",
            $"policy/v{version}",
            null,
            "Accepted",
            null,
            new { version, previousVersion = current.Version, sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json))) },
            ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return Results.Ok(new { tenantId = principal.TenantId, version, createdAt = stored.CreatedAt, createdBy = stored.CreatedBy });
    }

    private static async Task<IResult> VersionsAsync(HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var versions = await db.Policies.AsNoTracking()
            .Where(p => p.TenantId == principal.TenantId)
            .OrderByDescending(p => p.Version)
            .Select(p => new { p.Version, p.CreatedAt, p.CreatedBy })
            .ToListAsync(ct);
        return Results.Ok(versions);
    }

    private static async Task<IResult> VersionAsync(int version, HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var stored = await db.Policies.AsNoTracking().SingleOrDefaultAsync(p => p.TenantId == principal.TenantId && p.Version == version, ct);
        return stored is null
            ? Problems.NotFound($"Policy version {version} does not exist.")
            : Results.Ok(new { stored.Version, stored.CreatedAt, stored.CreatedBy, document = JsonDocument.Parse(stored.Document).RootElement });
    }

    private static async Task<IResult> ListKillSwitchesAsync(HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var switches = await db.KillSwitches.AsNoTracking()
            .Where(k => k.TenantId == principal.TenantId)
            .OrderBy(k => k.Tool)
            .Select(k => new { k.Tool, k.Enabled, k.ChangedAt, k.ChangedBy, k.Reason })
            .ToListAsync(ct);
        return Results.Ok(switches);
    }

    private static async Task<IResult> SetKillSwitchAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        if (RequireAdmin(principal, policy, "Changing a kill switch") is { } forbidden)
        {
            return forbidden;
        }

        var (body, problem) = await Problems.ReadJsonAsync<KillSwitchRequest>(http.Request, ct);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        if (body!.Enabled is null)
        {
            errors["/enabled"] = ["'enabled' is required: true turns the switch on (calls are denied), false turns it off."];
        }

        var tool = string.IsNullOrEmpty(body.Tool) ? KillSwitch.TenantWide : body.Tool;
        if (tool != KillSwitch.TenantWide && !ToolEndpoints.IsValidName(tool))
        {
            errors["/tool"] = [$"'{tool}' is not a valid tool name; omit 'tool' for a tenant-wide switch."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The kill switch request is invalid.", errors);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var now = time.GetUtcNow();
        var existing = await db.KillSwitches.SingleOrDefaultAsync(k => k.TenantId == principal.TenantId && k.Tool == tool, ct);
        if (existing is null)
        {
            existing = new KillSwitch { TenantId = principal.TenantId, Tool = tool, ChangedBy = principal.UserId };
            db.KillSwitches.Add(existing);
        }

        existing.Enabled = body.Enabled!.Value;
        existing.ChangedAt = now;
        existing.ChangedBy = principal.UserId;
        existing.Reason = body.Reason;
        await audit.AppendAsync(principal.TenantId, principal.UserId, "kill-switch.changed", tool == KillSwitch.TenantWide ? "tenant" : $"tool/{tool}", null, existing.Enabled ? "On" : "Off", body.Reason, new { tool, enabled = existing.Enabled }, ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return Results.Ok(new { existing.Tool, existing.Enabled, existing.ChangedAt, existing.ChangedBy, existing.Reason });
    }
}
