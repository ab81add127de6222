using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Identity;

/// <summary>
/// Signs and verifies the principal the gateway forwards in the <see cref="HeaderName"/> header:
/// <c>base64url(json) "." base64url(HMAC-SHA256(key, base64url(json)))</c>, with an expiry inside
/// the JSON. Services accept only a valid, unexpired signature, so a request that bypasses the
/// gateway (or forges a tenant) gets nothing.
/// </summary>
public sealed class PrincipalSigner(IOptions<IdentityOptions> options, TimeProvider time)
{
    /// <summary>The header that carries the signed principal from the gateway to the services.</summary>
    public const string HeaderName = "X-Agents-Principal";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Signs <paramref name="principal"/> for the configured lifetime.</summary>
    public string Sign(AgentPrincipal principal)
    {
        var expires = time.GetUtcNow().Add(options.Value.Lifetime).ToUnixTimeSeconds();
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new SignedPrincipal(principal.TenantId, principal.UserId, principal.Roles, expires), Json));
        return payload + "." + Base64Url(Mac(payload));
    }

    /// <summary>Returns the principal when <paramref name="token"/> is validly signed and unexpired; otherwise null and why.</summary>
    public AgentPrincipal? Verify(string? token, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(token))
        {
            error = $"The request carries no {HeaderName} header: call the service through the gateway.";
            return null;
        }

        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == token.Length - 1)
        {
            error = "The signed principal is malformed.";
            return null;
        }

        var payload = token[..dot];
        byte[] signature;
        byte[] json;
        try
        {
            signature = FromBase64Url(token[(dot + 1)..]);
            json = FromBase64Url(payload);
        }
        catch (FormatException)
        {
            error = "The signed principal is malformed.";
            return null;
        }

        if (!CryptographicOperations.FixedTimeEquals(signature, Mac(payload)))
        {
            error = "The principal's signature is not valid.";
            return null;
        }

        SignedPrincipal? signed;
        try
        {
            signed = JsonSerializer.Deserialize<SignedPrincipal>(json, Json);
        }
        catch (JsonException)
        {
            signed = null;
        }

        if (signed is null || string.IsNullOrEmpty(signed.Tenant) || string.IsNullOrEmpty(signed.User))
        {
            error = "The signed principal has no tenant or user.";
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (now > signed.Exp)
        {
            error = "The signed principal has expired.";
            return null;
        }

        // The expiry is rounded to whole seconds when signed: allow that second.
        if (signed.Exp - now > (long)Math.Ceiling(options.Value.MaxAcceptedLifetime.TotalSeconds) + 1)
        {
            error = $"The signed principal is valid for longer than this service accepts ({options.Value.MaxAcceptedLifetime}, Identity:MaxAcceptedLifetime).";
            return null;
        }

        return new AgentPrincipal(signed.Tenant, signed.User, signed.Roles ?? []);
    }

    private byte[] Mac(string payload) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.Value.SigningKey), Encoding.ASCII.GetBytes(payload));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string value)
    {
        var s = value.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));
    }

    private sealed record SignedPrincipal(string Tenant, string User, IReadOnlyList<string>? Roles, long Exp);
}
