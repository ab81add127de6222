using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner.Data;

/// <summary>The planner's database (agents_planner): plan versions, workflow templates, tool catalog.</summary>
internal sealed class PlannerDbContext(DbContextOptions<PlannerDbContext> options) : SnakeCaseDbContext(options)
{
    public DbSet<PlanVersionRecord> PlanVersions => Set<PlanVersionRecord>();

    public DbSet<WorkflowTemplateRecord> Templates => Set<WorkflowTemplateRecord>();

    public DbSet<TemplateRolloutRecord> TemplateRollouts => Set<TemplateRolloutRecord>();

    public DbSet<CatalogToolRecord> CatalogTools => Set<CatalogToolRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<PlanVersionRecord>(plan =>
        {
            plan.ToTable("plan_versions");
            plan.HasKey(p => new { p.PlanId, p.Version });
            plan.HasIndex(p => new { p.TaskId, p.Version }).IsUnique();
            plan.HasIndex(p => new { p.TenantId, p.TaskId });
            plan.Property(p => p.TenantId).HasMaxLength(128);
            plan.Property(p => p.UserId).HasMaxLength(128);
            plan.Property(p => p.Source).HasMaxLength(32);
            plan.Property(p => p.TemplateName).HasMaxLength(64);
            plan.Property(p => p.Rollout).HasMaxLength(16);
            plan.Property(p => p.StepsJson).HasColumnType("jsonb");
            plan.Property(p => p.ParametersJson).HasColumnType("jsonb");
            plan.Property(p => p.AllowedToolsJson).HasColumnType("jsonb");
        });

        modelBuilder.Entity<WorkflowTemplateRecord>(template =>
        {
            template.ToTable("workflow_templates");
            template.HasKey(t => new { t.TenantId, t.Name, t.Version });
            template.Property(t => t.TenantId).HasMaxLength(128);
            template.Property(t => t.Name).HasMaxLength(64);
            template.Property(t => t.CreatedBy).HasMaxLength(256);
            template.Property(t => t.ParametersJson).HasColumnType("jsonb");
            template.Property(t => t.StepsJson).HasColumnType("jsonb");
        });

        modelBuilder.Entity<TemplateRolloutRecord>(rollout =>
        {
            rollout.ToTable("template_rollouts");
            rollout.HasKey(r => new { r.TenantId, r.Name });
            rollout.Property(r => r.TenantId).HasMaxLength(128);
            rollout.Property(r => r.Name).HasMaxLength(64);
            rollout.Property(r => r.UpdatedBy).HasMaxLength(256);
            rollout.ToTable(t => t.HasCheckConstraint("ck_template_rollouts_percent", "percent BETWEEN 0 AND 100"));
        });

        modelBuilder.Entity<CatalogToolRecord>(tool =>
        {
            tool.ToTable("catalog_tools");
            tool.HasKey(t => t.Name);
            tool.Property(t => t.Name).HasMaxLength(64);
            tool.Property(t => t.SideEffect).HasMaxLength(32);
            tool.Property(t => t.Risk).HasMaxLength(32);
        });

        // Inbox and outbox tables of the durable messaging library (their own names).
        modelBuilder.AddAgentsMessaging();
    }
}
