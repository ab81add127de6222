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
public sealed class CrmDbContext(DbContextOptions<CrmDbContext> options) : DbContext(options)
{
    public DbSet<Customer> Customers => Set<Customer>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var customer = modelBuilder.Entity<Customer>();
        customer.ToTable("customers");
        customer.HasKey(c => new { c.TenantId, c.Id }).HasName("pk_customers");
        customer.Property(c => c.TenantId).HasColumnName("tenant_id").HasMaxLength(100);
        customer.Property(c => c.Id).HasColumnName("id").HasMaxLength(32);
        customer.Property(c => c.Name).HasColumnName("name").HasMaxLength(200);
        customer.Property(c => c.Email).HasColumnName("email").HasMaxLength(320);
        customer.Property(c => c.Plan).HasColumnName("plan").HasMaxLength(32);
        customer.Property(c => c.Region).HasColumnName("region").HasMaxLength(32);
        customer.Property(c => c.CustomerSince).HasColumnName("customer_since");
        customer.Property(c => c.OpenIssues).HasColumnName("open_issues");
    }
}

internal sealed class CrmDesignTimeFactory() : LocalDesignTimeFactory<CrmDbContext>("agents_tool_crm");
