using Agents.Messaging.Data;
using Agents.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Tickets.Data;

/// <summary>A support ticket of a tenant.</summary>
public sealed class Ticket
{
    public long Number { get; set; }

    public string TicketId => $"T-{Number:D6}";

    public required string TenantId { get; set; }

    public required string IdempotencyKey { get; set; }

    public required string CustomerId { get; set; }

    public required string Subject { get; set; }

    public required string Body { get; set; }

    public required string Priority { get; set; }

    public required string Status { get; set; }

    public required string CreatedBy { get; set; }

    public Guid TaskId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? CancelledAt { get; set; }

    public string? CancellationReason { get; set; }
}

/// <summary>Values of <see cref="Ticket.Status"/>.</summary>
public static class TicketStatuses
{
    public const string Open = "open";

    public const string Cancelled = "cancelled";
}

/// <summary>The tickets tool's own database (agents_tool_tickets).</summary>
public sealed class TicketsDbContext(DbContextOptions<TicketsDbContext> options) : SnakeCaseDbContext(options)
{
    public DbSet<Ticket> Tickets => Set<Ticket>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var ticket = modelBuilder.Entity<Ticket>();
        ticket.ToTable("tickets", t => t.HasCheckConstraint("ck_tickets_status", "status IN ('open','cancelled')"));
        ticket.HasKey(t => t.Number).HasName("pk_tickets");
        ticket.Property(t => t.Number).UseIdentityAlwaysColumn();
        ticket.Ignore(t => t.TicketId);
        ticket.Property(t => t.TenantId).HasMaxLength(100);
        ticket.Property(t => t.IdempotencyKey).HasMaxLength(IdempotencyKeys.MaxLength);
        ticket.Property(t => t.CustomerId).HasMaxLength(32);
        ticket.Property(t => t.Subject).HasMaxLength(200);
        ticket.Property(t => t.Body).HasMaxLength(5000);
        ticket.Property(t => t.Priority).HasMaxLength(16);
        ticket.Property(t => t.Status).HasMaxLength(16);
        ticket.Property(t => t.CreatedBy).HasMaxLength(200);
        ticket.Property(t => t.CancellationReason).HasMaxLength(500);
        ticket.HasIndex(t => new { t.TenantId, t.IdempotencyKey }).IsUnique().HasDatabaseName("ux_tickets_tenant_key");
    }
}

internal sealed class TicketsDesignTimeFactory() : LocalDesignTimeFactory<TicketsDbContext>("agents_tool_tickets");
