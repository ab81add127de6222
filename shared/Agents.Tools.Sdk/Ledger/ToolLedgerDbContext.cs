using Agents.Messaging.Data;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;
using Agents.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Sdk.Ledger;

/// <summary>
/// The tool SDK's ledger in the tool host's own database. Its migrations belong to the SDK and use
/// their own history table (<see cref="HistoryTable"/>), so they sit beside the host's own DbContext.
/// </summary>
public sealed class ToolLedgerDbContext(DbContextOptions<ToolLedgerDbContext> options) : SnakeCaseDbContext(options)
{
    /// <summary>Name of the ledger table.</summary>
    public const string TableName = "tool_ledger";

    /// <summary>The EF Core migrations history table of the ledger.</summary>
    public const string HistoryTable = "__tool_ledger_migrations";

    /// <summary>The ledger rows.</summary>
    public DbSet<ToolLedgerEntry> Entries => Set<ToolLedgerEntry>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var entry = modelBuilder.Entity<ToolLedgerEntry>();
        entry.ToTable(TableName, t => t.HasCheckConstraint(
            "ck_tool_ledger_status",
            "status IN ('started','succeeded','failed','transient-failure','outcome-unknown')"));
        entry.HasKey(e => new { e.Tool, e.IdempotencyKey, e.Operation }).HasName("pk_tool_ledger");
        entry.Property(e => e.Tool).HasMaxLength(64);
        entry.Property(e => e.IdempotencyKey).HasMaxLength(IdempotencyKeys.MaxLength);
        entry.Property(e => e.Operation).HasMaxLength(16);
        entry.Property(e => e.TenantId).HasMaxLength(100);
        entry.Property(e => e.UserId).HasMaxLength(200);
        entry.Property(e => e.StepId).HasMaxLength(200);
        entry.Property(e => e.ArgumentsHash).HasMaxLength(64);
        entry.Property(e => e.Status).HasMaxLength(32);
        entry.HasIndex(e => new { e.TenantId, e.TaskId }).HasDatabaseName("ix_tool_ledger_tenant_task");
    }
}

/// <summary>Lets <c>dotnet ef</c> build the ledger model without a host.</summary>
internal sealed class ToolLedgerDesignTimeFactory() : LocalDesignTimeFactory<ToolLedgerDbContext>("agents_tools_design")
{
    protected override void Configure(NpgsqlDbContextOptionsBuilder npgsql) => npgsql.MigrationsHistoryTable(ToolLedgerDbContext.HistoryTable);
}
