using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Api;

/// <summary>A registered tool as listed.</summary>
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
    ToolCircuitView Circuit);

/// <summary>A registered tool with its schemas.</summary>
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
    JsonElement InputSchema,
    JsonElement OutputSchema,
    ToolCircuitView Circuit);

/// <summary>A tool's circuit: Closed, Open or HalfOpen (an open circuit whose break has ended).</summary>
public sealed record ToolCircuitView(string State, int ConsecutiveFailures, DateTimeOffset? OpenUntil);

/// <summary>
/// <c>GET /api/tools</c> and <c>GET /api/tools/{name}</c>. The registry is platform-wide (tools are
/// not owned by a tenant); a signed principal is still required.
/// </summary>
internal static class ToolsApi
{
    public static RouteGroupBuilder MapToolsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/tools").RequireAgentPrincipal();
        group.MapGet("/", ListAsync).Produces<List<ToolListItem>>();
        group.MapGet("/{name}", GetAsync).Produces<ToolDetails>().ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> ListAsync(ToolGatewayDbContext db, ToolCircuitBreakers breakers, TimeProvider time, CancellationToken cancellationToken)
    {
        var tools = await db.Tools.AsNoTracking().OrderBy(t => t.Name).ToListAsync(cancellationToken);
        var circuits = await db.Circuits.AsNoTracking().ToDictionaryAsync(c => c.Tool, StringComparer.Ordinal, cancellationToken);
        return TypedResults.Ok(tools.Select(t => new ToolListItem(
            t.Name, t.Description, t.Version, t.SideEffect, t.Risk, t.RequiredScope, t.Compensable, t.ReturnsUntrustedContent,
            t.TimeoutSeconds, t.Instance, t.LastSeenAt, Circuit(t.Name, circuits.GetValueOrDefault(t.Name), breakers, time))).ToList());
    }

    private static async Task<IResult> GetAsync(string name, ToolGatewayDbContext db, ToolCircuitBreakers breakers, TimeProvider time, CancellationToken cancellationToken)
    {
        var tool = await db.Tools.AsNoTracking().SingleOrDefaultAsync(t => t.Name == name, cancellationToken);
        if (tool is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Tool not found",
                detail: $"No tool named '{name}' is registered. GET /api/tools lists the registered tools.",
                type: ProblemTypes.NotFound);
        }

        var circuit = await db.Circuits.AsNoTracking().SingleOrDefaultAsync(c => c.Tool == name, cancellationToken);
        return TypedResults.Ok(new ToolDetails(
            tool.Name, tool.Description, tool.Version, tool.SideEffect, tool.Risk, tool.RequiredScope, tool.Compensable,
            tool.ReturnsUntrustedContent, tool.TimeoutSeconds, tool.Instance, tool.FirstSeenAt, tool.LastSeenAt,
            ParseJson(tool.InputSchema), ParseJson(tool.OutputSchema), Circuit(name, circuit, breakers, time)));
    }

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
