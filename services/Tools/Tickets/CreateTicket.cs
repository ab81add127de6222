using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Agents.Contracts;
using Agents.Tools.Sdk;
using Agents.Tools.Tickets.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Tickets;

/// <summary>How urgent a ticket is.</summary>
public enum TicketPriority
{
    Low,
    Normal,
    High,
    Urgent,
}

/// <summary>Arguments of <c>tickets.create</c>: the customer and the priority steer the call; subject and body are its content.</summary>
public sealed record CreateTicketInput(
    [Description("The customer the ticket is for, e.g. C-1001.")]
    [RegularExpression("^C-[0-9]{4,8}$", ErrorMessage = "customerId must look like 'C-1001'.")]
    string CustomerId,
    [Description("One-line summary.")][MinLength(3)][MaxLength(200)][Argument(ArgumentClass.Data)] string Subject,
    [Description("The ticket's text.")][MinLength(1)][MaxLength(5000)][Argument(ArgumentClass.Data)] string Body,
    TicketPriority Priority = TicketPriority.Normal);

/// <summary>The created ticket.</summary>
public sealed record TicketOutput(
    [Description("The ticket's id, e.g. T-000042.")] string TicketId,
    [Description("open or cancelled.")] string Status,
    string CustomerId,
    TicketPriority Priority,
    DateTimeOffset CreatedAt);

/// <summary>Opens a support ticket; compensation cancels it.</summary>
[Tool("tickets.create", "Opens a support ticket for a customer of the caller's tenant. Compensation cancels the ticket.",
    SideEffect = SideEffectClass.Mutating, Risk = RiskTier.Medium, Scope = "tickets.write", TimeoutSeconds = 15)]
public sealed class CreateTicket(TicketsDbContext db) : ICompensableTool<CreateTicketInput, TicketOutput>
{
    /// <inheritdoc />
    public async Task<TicketOutput> ExecuteAsync(CreateTicketInput input, ToolContext context, CancellationToken cancellationToken)
    {
        var tenant = context.Principal.TenantId;

        // The SDK already runs a key at most once; the unique (tenant, key) index makes a second ticket impossible even so.
        var existing = await db.Tickets.AsNoTracking()
            .SingleOrDefaultAsync(t => t.TenantId == tenant && t.IdempotencyKey == context.IdempotencyKey, cancellationToken);
        if (existing is not null)
        {
            return ToOutput(existing);
        }

        var ticket = new Ticket
        {
            TenantId = tenant,
            IdempotencyKey = context.IdempotencyKey,
            CustomerId = input.CustomerId,
            Subject = input.Subject,
            Body = input.Body,
            Priority = input.Priority.ToString().ToLowerInvariant(),
            Status = TicketStatuses.Open,
            CreatedBy = context.Principal.UserId,
            TaskId = context.TaskId,
            CreatedAt = context.Time.GetUtcNow(),
        };
        db.Tickets.Add(ticket);
        await db.SaveChangesAsync(cancellationToken);
        context.Logger.LogInformation("Opened ticket {TicketId} for customer {CustomerId}.", ticket.TicketId, ticket.CustomerId);
        return ToOutput(ticket);
    }

    /// <inheritdoc />
    public async Task<string> CompensateAsync(CreateTicketInput input, TicketOutput previousOutput, ToolContext context, CancellationToken cancellationToken)
    {
        var tenant = context.Principal.TenantId;
        var ticket = await db.Tickets
            .SingleOrDefaultAsync(t => t.TenantId == tenant && t.IdempotencyKey == context.IdempotencyKey, cancellationToken)
            ?? throw new ToolException($"Ticket {previousOutput.TicketId} no longer exists in tenant '{tenant}'; nothing to cancel.");
        if (ticket.Status == TicketStatuses.Cancelled)
        {
            return $"Ticket {ticket.TicketId} was already cancelled.";
        }

        ticket.Status = TicketStatuses.Cancelled;
        ticket.CancelledAt = context.Time.GetUtcNow();
        ticket.CancellationReason = $"Compensated by task {context.TaskId} step {context.StepId}.";
        await db.SaveChangesAsync(cancellationToken);
        return $"Ticket {ticket.TicketId} cancelled.";
    }

    private static TicketOutput ToOutput(Ticket ticket) => new(
        ticket.TicketId,
        ticket.Status,
        ticket.CustomerId,
        Enum.Parse<TicketPriority>(ticket.Priority, ignoreCase: true),
        ticket.CreatedAt);
}
