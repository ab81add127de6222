using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Agents.Gateway.Security;

/// <summary>
/// Authenticates <c>X-Api-Key</c> (or <c>Authorization: ApiKey ...</c>) against the configured key hashes.
/// Keys are random secrets, so one SHA-256 is enough; the comparison is constant-time.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptionsMonitor<GatewayOptions> gateway)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string? ReadKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue(HeaderName, out var header) && !string.IsNullOrWhiteSpace(header))
        {
            return header.ToString().Trim();
        }

        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("ApiKey ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ReadKey(Request);
        if (key is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var hash = Encoding.ASCII.GetBytes(Hash(key));
        var entry = gateway.CurrentValue.ApiKeys.FirstOrDefault(e =>
            CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(e.KeyHash), hash));
        if (entry is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        var claims = new List<Claim> { new(GatewayClaims.Tenant, entry.Tenant), new(GatewayClaims.User, entry.User) };
        claims.AddRange(entry.Roles.Select(r => new Claim(GatewayClaims.Role, r)));
        var identity = new ClaimsIdentity(claims, SchemeName, GatewayClaims.User, GatewayClaims.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}

/// <summary>Claim types the gateway normalises every credential to.</summary>
internal static class GatewayClaims
{
    public const string Tenant = "agents:tenant";
    public const string User = "agents:user";
    public const string Role = "agents:role";
}
