using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Memory.Data;

/// <summary>The memory service's own database (agents_memory).</summary>
public sealed class MemoryDbContext(DbContextOptions<MemoryDbContext> options) : SnakeCaseDbContext(options)
{
    public const int KeyLength = 128;

    public const string PendingIndex = "ix_memories_pending_embedding";

    public DbSet<MemoryRecord> Memories => Set<MemoryRecord>();

    public DbSet<MemoryScopeVersion> ScopeVersions => Set<MemoryScopeVersion>();

    public DbSet<ShortTermMessage> ShortTermMessages => Set<ShortTermMessage>();

    public DbSet<ProcedureVersion> Procedures => Set<ProcedureVersion>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        modelBuilder.Entity<MemoryRecord>(e =>
        {
            e.ToTable("memories");
            e.HasKey(m => new { m.TenantId, m.UserId, m.Id });
            e.Property(m => m.TenantId).HasMaxLength(KeyLength);
            e.Property(m => m.UserId).HasMaxLength(KeyLength);
            e.Property(m => m.Kind).HasMaxLength(16);
            e.Property(m => m.Source).HasMaxLength(2048);
            e.Property(m => m.SourceStepId).HasMaxLength(KeyLength);
            e.Property(m => m.Trust).HasConversion<string>().HasMaxLength(16);
            e.Property(m => m.Embedding).HasColumnType("real[]");
            e.HasIndex(m => new { m.TenantId, m.UserId, m.Kind, m.CreatedAt });
            e.HasIndex(m => new { m.TenantId, m.Source });
            e.HasIndex(m => m.ExpiresAt).HasFilter("expires_at IS NOT NULL");

            // What the background embedder claims, oldest first; stays small (embedded memories leave it).
            e.HasIndex(m => m.CreatedAt).HasDatabaseName(PendingIndex).HasFilter("embedding IS NULL AND stale_at IS NULL");
        });

        modelBuilder.Entity<MemoryScopeVersion>(e =>
        {
            e.ToTable("memory_scopes");
            e.HasKey(s => new { s.TenantId, s.UserId });
            e.Property(s => s.TenantId).HasMaxLength(KeyLength);
            e.Property(s => s.UserId).HasMaxLength(KeyLength);
        });

        modelBuilder.Entity<ShortTermMessage>(e =>
        {
            e.ToTable("short_term_messages");
            e.HasKey(m => m.Id);
            e.Property(m => m.Id).UseIdentityAlwaysColumn();
            e.Property(m => m.TenantId).HasMaxLength(KeyLength);
            e.Property(m => m.UserId).HasMaxLength(KeyLength);
            e.Property(m => m.SessionId).HasMaxLength(KeyLength);
            e.Property(m => m.Role).HasMaxLength(32);
            e.HasIndex(m => new { m.TenantId, m.UserId, m.SessionId, m.Id });
            e.HasIndex(m => m.ExpiresAt).HasFilter("expires_at IS NOT NULL");
        });

        modelBuilder.Entity<ProcedureVersion>(e =>
        {
            e.ToTable("procedures");
            e.HasKey(p => new { p.TenantId, p.Agent, p.Name, p.Version });
            e.Property(p => p.TenantId).HasMaxLength(KeyLength);
            e.Property(p => p.Agent).HasMaxLength(KeyLength);
            e.Property(p => p.Name).HasMaxLength(KeyLength);
            e.Property(p => p.CreatedBy).HasMaxLength(KeyLength);
        });
    }
}

/// <summary>Lets <c>dotnet ef</c> build the model without starting the host.</summary>
internal sealed class MemoryDbContextDesignTimeFactory() : LocalDesignTimeFactory<MemoryDbContext>("agents_memory");
