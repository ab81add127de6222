using Agents.Executor.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Agents.Executor.StateMachines;

/// <summary>
/// EF Core mapping of the <c>TaskRun</c> saga state (table <c>task_runs</c>, optimistic concurrency on <c>xmin</c>). What
/// the run only ever replaces (the request, the principal, the admission's limits, the plan) is written when replaced;
/// the steps and the other collections changed in place are written on every save.
/// </summary>
public sealed class TaskRunStateMap : IEntityTypeConfiguration<TaskRunState>
{
    public void Configure(EntityTypeBuilder<TaskRunState> builder)
    {
        builder.ToTable("task_runs");
        builder.HasKey(x => x.CorrelationId);
        builder.Property(x => x.CorrelationId).ValueGeneratedNever();
        builder.Property(x => x.CurrentState).HasMaxLength(64);
        builder.Property(x => x.RowVersion).IsRowVersion();
        builder.Property(x => x.Status).HasConversion<string>().HasMaxLength(32);
        builder.Property(x => x.TemplateRollout).HasMaxLength(16);
        builder.Property(x => x.Model).HasMaxLength(64);
        builder.Property(x => x.Principal).HasReplacedJsonConversion();
        builder.Property(x => x.Parameters).HasReplacedJsonConversion();
        builder.Property(x => x.RequestedSteps).HasReplacedJsonConversion();
        builder.Property(x => x.RequestedLimits).HasReplacedJsonConversion();
        builder.Property(x => x.RequestedTools).HasReplacedJsonConversion();
        builder.Property(x => x.Limits).HasReplacedJsonConversion();
        builder.Property(x => x.AllowedTools).HasReplacedJsonConversion();
        builder.Property(x => x.Plan).HasReplacedJsonConversion();
        builder.Property(x => x.Steps).HasJsonConversion();
        builder.Property(x => x.CompensableSteps).HasJsonConversion();
        builder.Property(x => x.CompensationQueue).HasJsonConversion();
        builder.Property(x => x.ToolCallCounts).HasJsonConversion();
        builder.Property(x => x.Result).HasColumnType("jsonb");
        builder.Ignore(x => x.Usage);
        builder.Ignore(x => x.IsTerminal);
        builder.Ignore(x => x.Phase);
    }
}
