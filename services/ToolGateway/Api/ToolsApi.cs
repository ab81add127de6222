using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Api;

/// <summary>
/// A registered tool as listed. <see cref="Allowed"/>: the caller's roles may call it under their tenant's policy (only
/// admins are shown tools they may not call). <see cref="Status"/>: Active, Stale or Retired.
/// </summary>
public sealed record ToolListItem(
    string Name,
    string Description,
    string Version,
    SideEffectClass SideEffect,
    RiskTier Risk,
    string RequiredScope,
    bool Compensable,
    bool ReturnsUntrustedContent,
    int TimeoutSeconds,
    string Instance,
    DateTimeOffset LastSeenAt,
    ToolStatus Status,
    bool Allowed,
    ToolCircuitView Circuit);

/// <summary>A registered tool with its schemas.</summary>
/// <summary>A tool after it was retired or reinstated.</summary>
public sealed record ToolRetirement(string Name, ToolStatus Status, DateTimeOffset? RetiredAt, string? RetiredBy);

/// <summary>A tool's circuit after an operator reset it; <see cref="Changed"/> is false when it was closed already.</summary>
public sealed record CircuitReset(string Name, string Circuit, bool Changed);

public sealed record ToolDetails(
    string Name,
    string Description,
    string Version,
    SideEffectClass SideEffect,
    RiskTier Risk,
    string RequiredScope,
    bool Compensable,
    bool ReturnsUntrustedContent,
    int TimeoutSeconds,
    string Instance,
    DateTimeOffset FirstSeenAt,
    DateTimeOffset LastSeenAt,
    ToolStatus Status,
    DateTimeOffset? RetiredAt,
    string? RetiredBy,
    bool Allowed,
    JsonElement InputSchema,
    JsonElement OutputSchema,
    ToolCircuitView Circuit,
    IReadOnlyList<string> UntrustedOutputFields,
    IReadOnlyDictionary<string, ArgumentClass> ArgumentClasses,
    bool SendsDataOut);

/// <summary>A tool's circuit: Closed, Open or HalfOpen (an open circuit whose break has ended).</summary>
public sealed record ToolCircuitView(string State, int ConsecutiveFailures, DateTimeOffset? OpenUntil);

/// <summary>
/// The registry's API. The registry is platform-wide (tools are not owned by a tenant), but each caller is shown only the
/// tools their roles may call under their tenant's policy, retired ones excepted; the tenant's admins see every tool, with
/// <c>allowed</c> saying which they may call. Operators (admins of <see cref="ToolGatewayOptions.OperatorTenants"/>) retire
/// and reinstate tools and reset circuits.
/// </summary>
internal static class ToolsApi
{
    public static RouteGroupBuilder MapToolsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/tools").RequireAgentPrincipal();
        group.MapGet("/", ListAsync).Produces<List<ToolListItem>>();
        group.MapGet("/{name}", GetAsync).Produces<ToolDetails>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{name}/retire", (string name, HttpContext http, ToolGatewayDbContext db, TenantAccessCache access, ToolLookup lookup, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken ct) =>
                RetireAsync(name, retire: true, http, db, access, lookup, options, time, ct))
            .Produces<ToolRetirement>().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{name}/reinstate", (string name, HttpContext http, ToolGatewayDbContext db, TenantAccessCache access, ToolLookup lookup, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken ct) =>
                RetireAsync(name, retire: false, http, db, access, lookup, options, time, ct))
            .Produces<ToolRetirement>().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{name}/circuit/reset", ResetCircuitAsync)
            .Produces<CircuitReset>().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> ListAsync(
        HttpContext http, ToolGatewayDbContext db, ToolCircuitBreakers breakers, TenantAccessCache access, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        if (rules is null)
        {
            return TenantAccessCache.Unavailable("which tools you may use");
        }

        var tools = await db.Tools.AsNoTracking().OrderBy(t => t.Name).ToListAsync(cancellationToken);
        var circuits = await db.Circuits.AsNoTracking().ToDictionaryAsync(c => c.Tool, StringComparer.Ordinal, cancellationToken);
        var now = time.GetUtcNow();
        return TypedResults.Ok(tools
            .Where(t => Visible(t, principal, rules))
            .Select(t => new ToolListItem(
                t.Name, t.Description, t.Version, t.SideEffect, t.Risk, t.RequiredScope, t.Compensable, t.ReturnsUntrustedContent,
                t.TimeoutSeconds, t.Instance, t.LastSeenAt, ToolRegistry.StatusOf(t, options.Value.StaleAfter, now),
                rules.MayCall(principal, t.Name, t.RequiredScope), Circuit(t.Name, circuits.GetValueOrDefault(t.Name), breakers, time)))
            .ToList());
    }

    private static async Task<IResult> GetAsync(
        string name, HttpContext http, ToolGatewayDbContext db, ToolCircuitBreakers breakers, TenantAccessCache access, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        if (rules is null)
        {
            return TenantAccessCache.Unavailable("which tools you may use");
        }

        var tool = await db.Tools.AsNoTracking().SingleOrDefaultAsync(t => t.Name == name, cancellationToken);
        if (tool is null || !Visible(tool, principal, rules))
        {
            return NotFound(name);
        }

        var circuit = await db.Circuits.AsNoTracking().SingleOrDefaultAsync(c => c.Tool == name, cancellationToken);
        return TypedResults.Ok(new ToolDetails(
            tool.Name, tool.Description, tool.Version, tool.SideEffect, tool.Risk, tool.RequiredScope, tool.Compensable,
            tool.ReturnsUntrustedContent, tool.TimeoutSeconds, tool.Instance, tool.FirstSeenAt, tool.LastSeenAt,
            ToolRegistry.StatusOf(tool, options.Value.StaleAfter, time.GetUtcNow()), tool.RetiredAt, tool.RetiredBy,
            rules.MayCall(principal, tool.Name, tool.RequiredScope), ParseJson(tool.InputSchema), ParseJson(tool.OutputSchema),
            Circuit(name, circuit, breakers, time), tool.UntrustedOutputFields, tool.ArgumentClasses, tool.SendsDataOut));
    }

    private static async Task<IResult> RetireAsync(
        string name, bool retire, HttpContext http, ToolGatewayDbContext db, TenantAccessCache access, ToolLookup lookup, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var (by, refused) = await RequireOperatorAsync(http, access, options.Value, retire ? "Retiring a tool" : "Reinstating a tool", cancellationToken);
        if (refused is not null)
        {
            return refused;
        }

        var tool = await db.Tools.SingleOrDefaultAsync(t => t.Name == name, cancellationToken);
        if (tool is null)
        {
            return NotFound(name);
        }

        if (retire && tool.RetiredAt is null)
        {
            tool.RetiredAt = time.GetUtcNow();
            tool.RetiredBy = by;
        }
        else if (!retire)
        {
            tool.RetiredAt = null;
            tool.RetiredBy = null;
        }

        await db.SaveChangesAsync(cancellationToken);
        lookup.Forget(name);
        return TypedResults.Ok(new ToolRetirement(name, ToolRegistry.StatusOf(tool, options.Value.StaleAfter, time.GetUtcNow()), tool.RetiredAt, tool.RetiredBy));
    }

    private static async Task<IResult> ResetCircuitAsync(
        string name, HttpContext http, ToolGatewayDbContext db, IPublishEndpoint publish, TenantAccessCache access, IOptions<ToolGatewayOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var (by, refused) = await RequireOperatorAsync(http, access, options.Value, "Resetting a tool's circuit", cancellationToken);
        if (refused is not null)
        {
            return refused;
        }

        if (!await db.Tools.AnyAsync(t => t.Name == name, cancellationToken))
        {
            return NotFound(name);
        }

        // The row and the message to every instance (an outbox row) commit together.
        var reset = await ToolRegistry.ResetCircuitAsync(db, publish, name, close: true, by, time.GetUtcNow(), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new CircuitReset(name, nameof(CircuitState.Closed), reset));
    }

    private static bool Visible(RegisteredTool tool, AgentPrincipal principal, TenantAccess rules) =>
        rules.IsAdmin(principal) || (tool.RetiredAt is null && rules.MayCall(principal, tool.Name, tool.RequiredScope));

    private static async Task<(string By, IResult? Refused)> RequireOperatorAsync(
        HttpContext http, TenantAccessCache access, ToolGatewayOptions options, string what, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        var by = $"{principal.TenantId}/{principal.UserId}";
        if (!options.OperatorTenants.Contains(principal.TenantId, StringComparer.Ordinal))
        {
            return (by, Forbidden($"{what} changes the registry of every tenant: it needs an admin of an operator tenant (ToolGateway:OperatorTenants), and '{principal.TenantId}' is not one."));
        }

        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        return rules is null ? (by, TenantAccessCache.Unavailable("who operates the registry"))
            : rules.IsAdmin(principal) ? (by, null)
            : (by, Forbidden($"{what} needs the admin role '{rules.AdminRole}' of tenant '{principal.TenantId}'."));
    }

    private static IResult Forbidden(string detail) => ApiProblems.Forbidden(detail);

    private static IResult NotFound(string name) => ApiProblems.NotFound($"No tool named '{name}' is registered that you may use. GET /api/tools lists them.");

    // This instance's own view when it has used the tool; otherwise the last persisted change.
    private static ToolCircuitView Circuit(string tool, CircuitStateRecord? row, ToolCircuitBreakers breakers, TimeProvider time)
    {
        var live = breakers.Peek(tool);
        if (live is not null)
        {
            return new ToolCircuitView(live.State.ToString(), live.ConsecutiveFailures, live.OpenUntil);
        }

        if (row is null)
        {
            return new ToolCircuitView(nameof(CircuitState.Closed), 0, null);
        }

        var state = row.State == CircuitState.Open && time.GetUtcNow() >= row.OpenUntil ? CircuitState.HalfOpen : row.State;
        return new ToolCircuitView(state.ToString(), row.ConsecutiveFailures, row.OpenUntil);
    }

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
