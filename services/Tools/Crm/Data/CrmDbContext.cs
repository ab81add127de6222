using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Crm.Data;

/// <summary>A customer; every customer belongs to one tenant, and ids are unique only inside a tenant.</summary>
public sealed class Customer
{
    public required string TenantId { get; set; }

    public required string Id { get; set; }

    public required string Name { get; set; }

    public required string Email { get; set; }

    public required string Plan { get; set; }

    public required string Region { get; set; }

    public DateOnly CustomerSince { get; set; }

    public List<string> OpenIssues { get; set; } = [];
}

/// <summary>The CRM's own database (agents_tool_crm).</summary>
public sealed class CrmDbContext(DbContextOptions<CrmDbContext> options) : SnakeCaseDbContext(options)
{
    public DbSet<Customer> Customers => Set<Customer>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var customer = modelBuilder.Entity<Customer>();
        customer.ToTable("customers");
        customer.HasKey(c => new { c.TenantId, c.Id }).HasName("pk_customers");
        customer.Property(c => c.TenantId).HasMaxLength(100);
        customer.Property(c => c.Id).HasMaxLength(32);
        customer.Property(c => c.Name).HasMaxLength(200);
        customer.Property(c => c.Email).HasMaxLength(320);
        customer.Property(c => c.Plan).HasMaxLength(32);
        customer.Property(c => c.Region).HasMaxLength(32);
    }
}

internal sealed class CrmDesignTimeFactory() : LocalDesignTimeFactory<CrmDbContext>("agents_tool_crm");
