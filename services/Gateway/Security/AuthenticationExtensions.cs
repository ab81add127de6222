using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.IdentityModel.Tokens;

namespace Agents.Gateway.Security;

internal static class AuthenticationExtensions
{
    public const string PolicyName = "agents";
    private const string SelectorScheme = "Agents";

    /// <summary>API keys always; JWT bearer when configured. Both normalise to tenant, user and roles.</summary>
    public static IServiceCollection AddGatewayAuthentication(this IServiceCollection services, GatewayOptions options)
    {
        var authentication = services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, SelectorScheme, o => o.ForwardDefaultSelector = context =>
                options.Jwt.Enabled && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        if (options.Jwt.Enabled)
        {
            var jwt = options.Jwt;
            authentication.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.Authority = string.IsNullOrWhiteSpace(jwt.Authority) ? null : jwt.Authority;
                o.Audience = jwt.Audience;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = !string.IsNullOrWhiteSpace(jwt.Issuer) || !string.IsNullOrWhiteSpace(jwt.Authority),
                    ValidIssuer = jwt.Issuer,
                    ValidateAudience = !string.IsNullOrWhiteSpace(jwt.Audience),
                    ValidAudience = jwt.Audience,
                    IssuerSigningKey = string.IsNullOrWhiteSpace(jwt.SigningKey) ? null : new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwt.SigningKey)),
                };
                o.Events = new JwtBearerEvents { OnTokenValidated = context => Normalise(context, jwt) };
            });
        }

        services.AddAuthorizationBuilder().AddPolicy(PolicyName, p => p.RequireAuthenticatedUser().RequireClaim(GatewayClaims.Tenant));
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        return services;
    }

    private static Task Normalise(TokenValidatedContext context, JwtOptions jwt)
    {
        var user = context.Principal!;
        var tenant = user.FindFirst(jwt.TenantClaim)?.Value;
        var subject = user.FindFirst("sub")?.Value;
        if (string.IsNullOrEmpty(tenant) || string.IsNullOrEmpty(subject))
        {
            context.Fail($"The token must carry '{jwt.TenantClaim}' and 'sub' claims.");
            return Task.CompletedTask;
        }

        var claims = new List<Claim> { new(GatewayClaims.Tenant, tenant), new(GatewayClaims.User, subject) };
        claims.AddRange(user.FindAll(jwt.RolesClaim).Select(c => new Claim(GatewayClaims.Role, c.Value)));
        user.AddIdentity(new ClaimsIdentity(claims, JwtBearerDefaults.AuthenticationScheme, GatewayClaims.User, GatewayClaims.Role));
        return Task.CompletedTask;
    }
}
