using System.ComponentModel.DataAnnotations;

namespace Agents.Gateway.Security;

/// <summary>Gateway settings (section <c>Gateway</c>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>API keys, stored as SHA-256 hashes (hex). Create one with <c>Agents.Gateway hash-key &lt;key&gt;</c>.</summary>
    public List<ApiKeyEntry> ApiKeys { get; set; } = [];

    /// <summary>Optional JWT bearer validation; off when <see cref="JwtOptions.SigningKey"/> and <see cref="JwtOptions.Authority"/> are empty.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Largest request body accepted, in bytes.</summary>
    [Range(1024, 104_857_600, ErrorMessage = "Gateway:MaxRequestBodyBytes must be between {1} and {2}.")]
    public long MaxRequestBodyBytes { get; set; } = 1_048_576;

    /// <summary>Requests forwarded at once, across all tenants; more are refused with 429.</summary>
    [Range(1, 100_000, ErrorMessage = "Gateway:MaxConcurrentRequests must be between {1} and {2}.")]
    public int MaxConcurrentRequests { get; set; } = 512;

    /// <summary>Token-bucket policies by name; a route names one in its <c>RateLimiterPolicy</c>.</summary>
    public Dictionary<string, TokenBucketSettings> RateLimits { get; set; } = [];

    /// <summary>
    /// Tool hosts by name (e.g. <c>tool-crm</c>) and base address: nothing is routed to them, but their dead letters are
    /// listed and handled through <c>/api/dead-letters/{name}/...</c> like the services' (their queues are their own).
    /// </summary>
    public Dictionary<string, string> ToolHosts { get; set; } = [];
}

/// <summary>One API key: the hash of the secret and who it stands for.</summary>
public sealed class ApiKeyEntry
{
    [Required]
    [RegularExpression("^[0-9a-f]{64}$", ErrorMessage = "Gateway:ApiKeys:*:KeyHash must be a lower-case hex SHA-256 hash (64 characters).")]
    public string KeyHash { get; set; } = string.Empty;

    [Required(ErrorMessage = "Gateway:ApiKeys:*:Tenant is required.")]
    public string Tenant { get; set; } = string.Empty;

    [Required(ErrorMessage = "Gateway:ApiKeys:*:User is required.")]
    public string User { get; set; } = string.Empty;

    public List<string> Roles { get; set; } = [];
}

/// <summary>JWT bearer settings. Tokens carry the tenant in <see cref="TenantClaim"/>, the user in <c>sub</c>, roles in <see cref="RolesClaim"/>.</summary>
public sealed class JwtOptions
{
    /// <summary>OpenID Connect authority (issuer metadata is fetched from it).</summary>
    public string? Authority { get; set; }

    /// <summary>Symmetric signing key (HS256), for setups without an authority.</summary>
    public string? SigningKey { get; set; }

    public string? Issuer { get; set; }

    public string? Audience { get; set; }

    public string TenantClaim { get; set; } = "tenant";

    public string RolesClaim { get; set; } = "roles";

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}

/// <summary>A per-tenant token bucket.</summary>
public sealed class TokenBucketSettings
{
    [Range(1, 1_000_000)]
    public int TokenLimit { get; set; } = 100;

    [Range(1, 1_000_000)]
    public int TokensPerPeriod { get; set; } = 50;

    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    [Range(0, 10_000)]
    public int QueueLimit { get; set; }
}
