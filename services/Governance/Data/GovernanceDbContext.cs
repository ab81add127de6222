using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Agents.Governance.Data;

/// <summary>The governance service's own database (agents_governance).</summary>
public sealed class GovernanceDbContext(DbContextOptions<GovernanceDbContext> options) : SnakeCaseDbContext(options)
{
    private static readonly JsonSerializerOptions TaintJson = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
    public DbSet<PolicyVersion> Policies => Set<PolicyVersion>();

    public DbSet<TaskBudget> Tasks => Set<TaskBudget>();

    public DbSet<DailyUsage> DailyUsage => Set<DailyUsage>();

    public DbSet<Approval> Approvals => Set<Approval>();

    public DbSet<AuditEntry> Audit => Set<AuditEntry>();

    public DbSet<AuditHead> AuditHeads => Set<AuditHead>();

    public DbSet<KillSwitch> KillSwitches => Set<KillSwitch>();

    public DbSet<ToolCallCount> ToolCallCounts => Set<ToolCallCount>();

    public DbSet<ProcessedMessage> ProcessedMessages => Set<ProcessedMessage>();

    public DbSet<ModelReservation> ModelReservations => Set<ModelReservation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        modelBuilder.Entity<PolicyVersion>(e =>
        {
            e.ToTable("policies");
            e.HasKey(x => new { x.TenantId, x.Version });
        });
        modelBuilder.Entity<TaskBudget>(e =>
        {
            e.ToTable("task_budgets");
            e.HasKey(x => x.TaskId);
            e.HasIndex(x => new { x.TenantId, x.Day });
            e.Property(x => x.Cost).HasPrecision(18, 6);
            e.Property(x => x.MaxCost).HasPrecision(18, 6);
            e.Property(x => x.Template).HasMaxLength(TaskBudget.TemplateMaxLength);
        });
        modelBuilder.Entity<DailyUsage>(e =>
        {
            e.ToTable("daily_usage");
            e.HasKey(x => new { x.TenantId, x.Day, x.UserId });
            e.Property(x => x.Cost).HasPrecision(18, 6);
        });
        modelBuilder.Entity<Approval>(e =>
        {
            e.ToTable("approvals");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.TenantId, x.Status });
            e.HasIndex(x => new { x.Status, x.ExpiresAt });
            e.HasIndex(x => new { x.TaskId, x.StepId });
            e.Property(x => x.TaintedArguments).HasColumnType("jsonb").HasDefaultValueSql("'[]'::jsonb").HasConversion(
                v => JsonSerializer.Serialize(v, TaintJson),
                v => JsonSerializer.Deserialize<List<ApprovalTaint>>(v, TaintJson) ?? new List<ApprovalTaint>(),
                new ValueComparer<List<ApprovalTaint>>(
                    (a, b) => JsonSerializer.Serialize(a, TaintJson) == JsonSerializer.Serialize(b, TaintJson),
                    v => JsonSerializer.Serialize(v, TaintJson).GetHashCode(StringComparison.Ordinal),
                    v => v.ToList()));
        });
        modelBuilder.Entity<AuditEntry>(e =>
        {
            e.ToTable("audit_entries");
            e.HasKey(x => new { x.TenantId, x.Sequence });
            e.HasIndex(x => new { x.TenantId, x.TaskId });
        });
        modelBuilder.Entity<AuditHead>(e =>
        {
            e.ToTable("audit_heads");
            e.HasKey(x => x.TenantId);
        });
        modelBuilder.Entity<KillSwitch>(e =>
        {
            e.ToTable("kill_switches");
            e.HasKey(x => new { x.TenantId, x.Tool });
        });
        modelBuilder.Entity<ToolCallCount>(e =>
        {
            e.ToTable("tool_call_counts");
            e.HasKey(x => new { x.TaskId, x.Tool, x.ArgumentsHash });
        });
        modelBuilder.Entity<ModelReservation>(e =>
        {
            e.ToTable("model_reservations");
            e.HasKey(x => new { x.TaskId, x.StepId, x.Attempt });
            e.HasIndex(x => x.ReservedAt);
            e.HasIndex(x => x.Day).HasFilter("settled_at IS NULL");
            e.Property(x => x.Cost).HasPrecision(18, 6);
        });
        modelBuilder.Entity<ProcessedMessage>(e =>
        {
            e.ToTable("processed_messages");
            e.HasKey(x => x.Key);
            e.HasIndex(x => x.ProcessedAt);
        });
    }
}
