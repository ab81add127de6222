using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.Tools.Tickets.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Tickets.Api;

/// <summary>A ticket as the read API shows it.</summary>
public sealed record TicketView(
    string TicketId,
    string CustomerId,
    string Subject,
    string Priority,
    string Status,
    Guid TaskId,
    string IdempotencyKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CancelledAt);

internal static class TicketEndpoints
{
    public static void MapTicketEndpoints(this IEndpointRouteBuilder app)
    {
        var tickets = app.MapGroup("/api/tickets").RequireAgentPrincipal();
        tickets.MapGet("/{ticketId}", async (string ticketId, HttpContext http, TicketsDbContext db, CancellationToken cancellationToken) =>
        {
            var tenant = http.GetPrincipal().TenantId;
            var number = ParseNumber(ticketId);
            var ticket = number is null ? null : await db.Tickets.AsNoTracking()
                .SingleOrDefaultAsync(t => t.TenantId == tenant && t.Number == number, cancellationToken);
            return ticket is null
                ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Ticket not found", detail: $"No ticket '{ticketId}' in your tenant.", type: ProblemTypes.NotFound)
                : Results.Ok(View(ticket));
        });
        tickets.MapGet("/", async (string? idempotencyKey, Guid? taskId, HttpContext http, TicketsDbContext db, CancellationToken cancellationToken) =>
        {
            var tenant = http.GetPrincipal().TenantId;
            var query = db.Tickets.AsNoTracking().Where(t => t.TenantId == tenant);
            if (idempotencyKey is not null)
            {
                query = query.Where(t => t.IdempotencyKey == idempotencyKey);
            }

            if (taskId is { } task)
            {
                query = query.Where(t => t.TaskId == task);
            }

            var rows = await query.OrderByDescending(t => t.Number).Take(100).ToListAsync(cancellationToken);
            return Results.Ok(rows.Select(View));
        });
    }

    private static long? ParseNumber(string ticketId) =>
        ticketId.StartsWith("T-", StringComparison.Ordinal) && long.TryParse(ticketId.AsSpan(2), out var number) ? number : null;

    private static TicketView View(Ticket t) =>
        new(t.TicketId, t.CustomerId, t.Subject, t.Priority, t.Status, t.TaskId, t.IdempotencyKey, t.CreatedAt, t.CancelledAt);
}
