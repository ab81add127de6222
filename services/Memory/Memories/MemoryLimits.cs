using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.VectorSearch;

namespace Agents.Memory.Memories;

/// <summary>Size limits of what the service stores, shared by the HTTP API and the consumers.</summary>
public static class MemoryLimits
{
    public const int MaxTextLength = 8000;
    public const int MaxSourceLength = 2048;
    public const int MaxQueryLength = 2000;
    public const int MaxKeyLength = MemoryDbContext.KeyLength;

    /// <summary>The scope of a message's principal; a principal without tenant or user is a permanent failure.</summary>
    public static MemoryScope ScopeOf(AgentPrincipal? principal)
    {
        if (principal is null || string.IsNullOrWhiteSpace(principal.TenantId) || string.IsNullOrWhiteSpace(principal.UserId))
        {
            throw new ServiceDefaults.Messaging.PermanentFailureException("The message carries no principal with a tenant and a user; memory is always scoped to both.");
        }

        if (principal.TenantId.Length > MaxKeyLength || principal.UserId.Length > MaxKeyLength)
        {
            throw new ServiceDefaults.Messaging.PermanentFailureException($"The principal's tenant or user id is longer than {MaxKeyLength} characters.");
        }

        return new MemoryScope(principal.TenantId, principal.UserId);
    }
}

/// <summary>Time as PostgreSQL stores it (microseconds), so a value returned on write equals the one read later.</summary>
public static class StoredTime
{
    public static DateTimeOffset Now(TimeProvider time)
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % 10));
    }
}
