using Agents.Contracts;
using Agents.Executor.StateMachines;
using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Executor.Data;

/// <summary>
/// The executor's database (<c>agents_executor</c>): tasks, their event logs, the <c>TaskRun</c> saga state, the tool
/// catalog and the durable-messaging inbox/outbox (so a saga step, its log entries and its messages commit together).
/// </summary>
public sealed class ExecutorDbContext(DbContextOptions<ExecutorDbContext> options) : SnakeCaseDbContext(options)
{
    public DbSet<TaskRecord> Tasks => Set<TaskRecord>();

    public DbSet<TaskEvent> TaskEvents => Set<TaskEvent>();

    public DbSet<TaskRunState> TaskRuns => Set<TaskRunState>();

    public DbSet<CatalogToolRecord> CatalogTools => Set<CatalogToolRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        modelBuilder.ApplyConfiguration(new TaskRunStateMap());

        modelBuilder.Entity<TaskRecord>(task =>
        {
            task.ToTable("tasks");
            task.HasKey(x => x.Id);
            task.Property(x => x.TenantId).HasMaxLength(100);
            task.Property(x => x.UserId).HasMaxLength(200);
            task.Property(x => x.IdempotencyKey).HasMaxLength(IdempotencyKeys.MaxLength);
            task.Property(x => x.RequestHash).HasMaxLength(64);
            task.Property(x => x.TemplateName).HasMaxLength(100);
            task.Property(x => x.TraceId).HasMaxLength(32);
            task.Property(x => x.Status).HasConversion<string>().HasMaxLength(32);
            task.Property(x => x.State).HasMaxLength(32);
            task.Property(x => x.Parameters).HasJsonConversion();
            task.Property(x => x.RequestedSteps).HasJsonConversion();
            task.Property(x => x.RequestedLimits).HasJsonConversion();
            task.Property(x => x.AllowedTools).HasJsonConversion();
            task.HasIndex(x => new { x.TenantId, x.CreatedAt });
            task.HasIndex(x => new { x.TenantId, x.UserId, x.IdempotencyKey })
                .IsUnique()
                .HasFilter("idempotency_key IS NOT NULL");
        });

        modelBuilder.Entity<TaskEvent>(entry =>
        {
            entry.ToTable("task_events");
            entry.HasKey(x => new { x.TaskId, x.Sequence });
            entry.Property(x => x.Kind).HasMaxLength(64);
            entry.Property(x => x.StepId).HasMaxLength(100);
            entry.Property(x => x.Status).HasConversion<string>().HasMaxLength(32);
            entry.Property(x => x.Data).HasColumnType("jsonb");
        });

        modelBuilder.Entity<CatalogToolRecord>(tool =>
        {
            tool.ToTable("tool_catalog");
            tool.HasKey(x => x.Name);
            tool.Property(x => x.Name).HasMaxLength(64);
            tool.Property(x => x.SideEffect).HasConversion<string>().HasMaxLength(32);
            tool.Property(x => x.Version).HasMaxLength(64);
        });
    }
}
