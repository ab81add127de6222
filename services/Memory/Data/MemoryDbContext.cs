using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Memory.Data;

/// <summary>The memory service's own database (agents_memory).</summary>
public sealed class MemoryDbContext(DbContextOptions<MemoryDbContext> options) : DbContext(options)
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
            e.Property(m => m.TenantId).HasColumnName("tenant_id").HasMaxLength(KeyLength);
            e.Property(m => m.UserId).HasColumnName("user_id").HasMaxLength(KeyLength);
            e.Property(m => m.Id).HasColumnName("id");
            e.Property(m => m.Kind).HasColumnName("kind").HasMaxLength(16);
            e.Property(m => m.Text).HasColumnName("text");
            e.Property(m => m.Source).HasColumnName("source").HasMaxLength(2048);
            e.Property(m => m.SourceTaskId).HasColumnName("source_task_id");
            e.Property(m => m.SourceStepId).HasColumnName("source_step_id").HasMaxLength(KeyLength);
            e.Property(m => m.Trust).HasColumnName("trust").HasConversion<string>().HasMaxLength(16);
            e.Property(m => m.CreatedAt).HasColumnName("created_at");
            e.Property(m => m.ExpiresAt).HasColumnName("expires_at");
            e.Property(m => m.StaleAt).HasColumnName("stale_at");
            e.Property(m => m.Embedding).HasColumnName("embedding").HasColumnType("real[]");
            e.Property(m => m.EmbeddingClaim).HasColumnName("embedding_claim");
            e.Property(m => m.EmbeddingClaimedUntil).HasColumnName("embedding_claimed_until");
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
            e.Property(s => s.TenantId).HasColumnName("tenant_id").HasMaxLength(KeyLength);
            e.Property(s => s.UserId).HasColumnName("user_id").HasMaxLength(KeyLength);
            e.Property(s => s.Version).HasColumnName("version");
        });

        modelBuilder.Entity<ShortTermMessage>(e =>
        {
            e.ToTable("short_term_messages");
            e.HasKey(m => m.Id);
            e.Property(m => m.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            e.Property(m => m.TenantId).HasColumnName("tenant_id").HasMaxLength(KeyLength);
            e.Property(m => m.UserId).HasColumnName("user_id").HasMaxLength(KeyLength);
            e.Property(m => m.SessionId).HasColumnName("session_id").HasMaxLength(KeyLength);
            e.Property(m => m.Role).HasColumnName("role").HasMaxLength(32);
            e.Property(m => m.Content).HasColumnName("content");
            e.Property(m => m.Tokens).HasColumnName("tokens");
            e.Property(m => m.IsSummary).HasColumnName("is_summary");
            e.Property(m => m.CreatedAt).HasColumnName("created_at");
            e.Property(m => m.ExpiresAt).HasColumnName("expires_at");
            e.HasIndex(m => new { m.TenantId, m.UserId, m.SessionId, m.Id });
            e.HasIndex(m => m.ExpiresAt).HasFilter("expires_at IS NOT NULL");
        });

        modelBuilder.Entity<ProcedureVersion>(e =>
        {
            e.ToTable("procedures");
            e.HasKey(p => new { p.TenantId, p.Agent, p.Name, p.Version });
            e.Property(p => p.TenantId).HasColumnName("tenant_id").HasMaxLength(KeyLength);
            e.Property(p => p.Agent).HasColumnName("agent").HasMaxLength(KeyLength);
            e.Property(p => p.Name).HasColumnName("name").HasMaxLength(KeyLength);
            e.Property(p => p.Version).HasColumnName("version");
            e.Property(p => p.Content).HasColumnName("content");
            e.Property(p => p.CreatedBy).HasColumnName("created_by").HasMaxLength(KeyLength);
            e.Property(p => p.CreatedAt).HasColumnName("created_at");
        });
    }
}

/// <summary>Lets <c>dotnet ef</c> build the model without starting the host.</summary>
internal sealed class MemoryDbContextDesignTimeFactory() : LocalDesignTimeFactory<MemoryDbContext>("agents_memory");
