using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Contracts;
using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Agents.ToolGateway.Data;

/// <summary>The tool-gateway's own database: the registry, tool-call records and circuit states.</summary>
public sealed class ToolGatewayDbContext(DbContextOptions<ToolGatewayDbContext> options) : SnakeCaseDbContext(options)
{
    private static readonly JsonSerializerOptions ArgumentClassJson = new() { Converters = { new JsonStringEnumConverter() } };

    public DbSet<RegisteredTool> Tools => Set<RegisteredTool>();

    public DbSet<ToolCallRecord> ToolCalls => Set<ToolCallRecord>();

    public DbSet<CircuitStateRecord> Circuits => Set<CircuitStateRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        modelBuilder.Entity<RegisteredTool>(tool =>
        {
            tool.ToTable("tools");
            tool.HasKey(t => t.Name);
            tool.Property(t => t.Name).HasMaxLength(64);
            tool.Property(t => t.SideEffect).HasConversion<string>().HasMaxLength(16);
            tool.Property(t => t.Risk).HasConversion<string>().HasMaxLength(16);
            tool.Property(t => t.InputSchema).HasColumnType("text");
            tool.Property(t => t.OutputSchema).HasColumnType("text");
            tool.Property(t => t.RequiredScope).HasMaxLength(200);
            tool.Property(t => t.Version).HasMaxLength(64);
            tool.Property(t => t.Instance).HasMaxLength(200);
            tool.Property(t => t.RetiredBy).HasMaxLength(401);
            tool.Property(t => t.UntrustedOutputFields).HasDefaultValueSql("'{}'::text[]");
            tool.Property(t => t.ArgumentClasses).HasColumnType("jsonb").HasDefaultValueSql("'{}'::jsonb").HasConversion(
                v => JsonSerializer.Serialize(v, ArgumentClassJson),
                v => new Dictionary<string, ArgumentClass>(JsonSerializer.Deserialize<Dictionary<string, ArgumentClass>>(v, ArgumentClassJson) ?? new(), StringComparer.Ordinal),
                new ValueComparer<Dictionary<string, ArgumentClass>>(
                    (a, b) => JsonSerializer.Serialize(a, ArgumentClassJson) == JsonSerializer.Serialize(b, ArgumentClassJson),
                    v => JsonSerializer.Serialize(v, ArgumentClassJson).GetHashCode(StringComparison.Ordinal),
                    v => new Dictionary<string, ArgumentClass>(v, StringComparer.Ordinal)));
        });

        modelBuilder.Entity<ToolCallRecord>(call =>
        {
            call.ToTable("tool_calls");
            call.HasKey(c => new { c.IdempotencyKey, c.Compensation });
            call.Property(c => c.IdempotencyKey).HasMaxLength(IdempotencyKeys.MaxLength);
            call.Property(c => c.StepId).HasMaxLength(200);
            call.Property(c => c.TenantId).HasMaxLength(200);
            call.Property(c => c.UserId).HasMaxLength(200);
            call.Property(c => c.Tool).HasMaxLength(64);
            call.Property(c => c.ArgumentsHash).HasMaxLength(64);
            call.Property(c => c.Outcome).HasConversion<string>().HasMaxLength(32);
            call.Property(c => c.OutputJson).HasColumnType("text");
            call.HasIndex(c => c.TaskId);
            call.HasIndex(c => new { c.TenantId, c.StartedAt });
        });

        modelBuilder.Entity<CircuitStateRecord>(circuit =>
        {
            circuit.ToTable("circuits");
            circuit.HasKey(c => c.Tool);
            circuit.Property(c => c.Tool).HasMaxLength(64);
            circuit.Property(c => c.State).HasConversion<string>().HasMaxLength(16);
            circuit.Property(c => c.UpdatedBy).HasMaxLength(200);
        });
    }
}

/// <summary>Lets <c>dotnet ef</c> build the model without starting the service.</summary>
internal sealed class DesignTimeToolGatewayDbContextFactory() : LocalDesignTimeFactory<ToolGatewayDbContext>("agents_toolgateway");
