using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Http;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Api;

/// <summary>The body of <c>POST /api/governance/kill-switch</c>: a tool name, or none for the whole tenant.</summary>
public sealed record KillSwitchRequest(string? Tool, bool? Enabled, string? Reason);

internal static class PolicyApi
{
    public static RouteGroupBuilder MapPolicies(this RouteGroupBuilder api)
    {
        api.MapGet("/policy", GetAsync).Produces<PolicyView>();
        api.MapPut("/policy", PutAsync).DescribesJsonBody(typeof(JsonElement)).Produces<PolicyWritten>()
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem().ProducesProblem(StatusCodes.Status412PreconditionFailed);
        api.MapGet("/policy/schema", GetSchema).Produces<JsonElement>(StatusCodes.Status200OK, SchemaContentType);
        api.MapGet("/policy/versions", VersionsAsync).Produces<List<PolicyVersionInfo>>();
        api.MapGet("/policy/versions/{version:int}", VersionAsync).Produces<PolicyVersionView>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/kill-switch", ListKillSwitchesAsync).Produces<List<KillSwitchView>>();
        api.MapPost("/kill-switch", SetKillSwitchAsync).Accepts<KillSwitchRequest>("application/json").Produces<KillSwitchView>()
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem();
        return api;
    }

    /// <summary>The media type of a JSON schema.</summary>
    public const string SchemaContentType = "application/schema+json";

    /// <summary>The longest reason a kill switch or an approval decision may carry.</summary>
    public const int MaxReasonLength = 2000;

    internal static IResult? RequireAdmin(AgentPrincipal principal, EffectivePolicy policy, string what) =>
        principal.IsInRole(policy.Document.AdminRole)
            ? null
            : ApiProblems.Forbidden($"{what} needs the tenant's admin role '{policy.Document.AdminRole}'.");

    private static async Task<IResult> GetAsync(HttpContext http, PolicyStore policies, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = await policies.GetCurrentAsync(principal.TenantId, ct);
        http.Response.Headers.ETag = ETagOf(policy.Version);
        return Results.Ok(new PolicyView(policy.TenantId, policy.Version, policy.IsDefault, JsonDocument.Parse(policy.Document.ToJson()).RootElement));
    }

    /// <summary>The policy's JSON schema: every property with its type, bounds and meaning (what a PUT is validated against).</summary>
    private static IResult GetSchema() => Results.Text(PolicyValidator.SchemaJson, SchemaContentType, Encoding.UTF8);

    /// <summary>The policy version as an entity tag: <c>"3"</c> (the default policy of a tenant that never wrote one is <c>"0"</c>).</summary>
    internal static string ETagOf(int version) => $"\"{version.ToString(System.Globalization.CultureInfo.InvariantCulture)}\"";

    private static async Task<IResult> PutAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var current = await policies.GetCurrentAsync(principal.TenantId, ct);
        if (RequireAdmin(principal, current, "Changing the policy") is { } forbidden)
        {
            return forbidden;
        }

        var expected = ParseIfMatch(http.Request.Headers.IfMatch);
        if (expected is { Valid: false })
        {
            return Problems.Validation(
                "If-Match must be the policy's ETag (its version in quotes, e.g. \"3\"), or '*'.",
                new Dictionary<string, string[]> { ["If-Match"] = [$"'{http.Request.Headers.IfMatch}' is not a policy ETag."] });
        }

        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var json = await reader.ReadToEndAsync(ct);
        if (Encoding.UTF8.GetByteCount(json) > PolicyValidator.MaxDocumentBytes)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status413PayloadTooLarge,
                title: "Policy too large",
                detail: $"A policy may be at most {PolicyValidator.MaxDocumentBytes / 1024} KiB; nothing was changed.",
                type: ProblemTypes.PayloadTooLarge);
        }

        var document = PolicyValidator.Validate(json, out var errors);
        if (document is null)
        {
            return Problems.Validation(
                $"The policy has {errors.Count} error(s); nothing was changed.",
                errors.GroupBy(e => e.Pointer).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
        }

        if (LockoutProblem(principal, document) is { } lockout)
        {
            return lockout;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        // The chain lock serializes the tenant's policy writers, so versions never collide and If-Match is checked
        // against the version that is really current.
        await audit.LockChainAsync(principal.TenantId, ct);
        var latest = await db.Policies.Where(p => p.TenantId == principal.TenantId).MaxAsync(p => (int?)p.Version, ct) ?? 0;
        if (expected is { Version: { } wanted } && wanted != latest)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status412PreconditionFailed,
                title: "The policy has changed",
                detail: $"You edited version {wanted}, but version {latest} is current now; read it (GET /api/governance/policy), apply your change again and send it with If-Match: {ETagOf(latest)}. Nothing was changed.",
                type: ProblemTypes.PreconditionFailed);
        }

        if (latest != current.Version)
        {
            // Another writer committed between reading the current policy and taking the lock.
            current = await policies.GetCurrentAsync(principal.TenantId, ct);
        }

        var version = latest + 1;
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
            new
            {
                version,
                previousVersion = current.Version,
                sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json))),
                changes = PolicyDiff.Between(current.Document, document),
            },
            ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        http.Response.Headers.ETag = ETagOf(version);
        return Results.Ok(new PolicyWritten(principal.TenantId, version, stored.CreatedAt, stored.CreatedBy));
    }

    /// <summary>
    /// A policy under which its writer is no longer an admin could lock the tenant out for good: no one left could change
    /// it through the API. The one rule of a policy that depends on who writes it, so the schema cannot hold it.
    /// </summary>
    private static IResult? LockoutProblem(AgentPrincipal principal, PolicyDocument document) =>
        principal.IsInRole(document.AdminRole)
            ? null
            : Problems.Validation(
                $"Under this policy you would no longer be an admin (its adminRole is '{document.AdminRole}'; your roles are {string.Join(", ", principal.Roles.Select(r => $"'{r}'"))}); nothing was changed.",
                new Dictionary<string, string[]> { ["/adminRole"] = ["Keep an adminRole that you hold, so that the policy can still be changed."] });

    /// <summary>The version an If-Match header names: none when absent or '*', invalid when it is not a policy ETag.</summary>
    private static (bool Valid, int? Version)? ParseIfMatch(Microsoft.Extensions.Primitives.StringValues header)
    {
        if (header.Count == 0)
        {
            return null;
        }

        var text = header.ToString().Trim();
        if (text == "*")
        {
            return null;
        }

        if (text.StartsWith("W/", StringComparison.Ordinal))
        {
            text = text[2..];
        }

        return text.Length > 2 && text[0] == '"' && text[^1] == '"'
            && int.TryParse(text[1..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version)
            ? (true, version)
            : (false, null);
    }

    private static async Task<IResult> VersionsAsync(HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var versions = await db.Policies.AsNoTracking()
            .Where(p => p.TenantId == principal.TenantId)
            .OrderByDescending(p => p.Version)
            .Select(p => new PolicyVersionInfo(p.Version, p.CreatedAt, p.CreatedBy))
            .ToListAsync(ct);
        return Results.Ok(versions);
    }

    private static async Task<IResult> VersionAsync(int version, HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var stored = await db.Policies.AsNoTracking().SingleOrDefaultAsync(p => p.TenantId == principal.TenantId && p.Version == version, ct);
        return stored is null
            ? ApiProblems.NotFound($"Policy version {version} does not exist.")
            : Results.Ok(new PolicyVersionView(stored.Version, stored.CreatedAt, stored.CreatedBy, JsonDocument.Parse(stored.Document).RootElement));
    }

    private static async Task<IResult> ListKillSwitchesAsync(HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var switches = await db.KillSwitches.AsNoTracking()
            .Where(k => k.TenantId == principal.TenantId)
            .OrderBy(k => k.Tool)
            .Select(k => new KillSwitchView(k.Tool, k.Enabled, k.ChangedAt, k.ChangedBy, k.Reason))
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

        if (body.Reason is { Length: > MaxReasonLength })
        {
            errors["/reason"] = [$"'reason' has {body.Reason.Length} characters; at most {MaxReasonLength} are allowed."];
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
        return Results.Ok(new KillSwitchView(existing.Tool, existing.Enabled, existing.ChangedAt, existing.ChangedBy, existing.Reason));
    }
}
