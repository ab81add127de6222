using Agents.Contracts;
using Agents.ServiceDefaults.Identity;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Agents.Gateway.Security;

/// <summary>
/// Nothing internal comes in from outside: every incoming <c>X-Agents-*</c> header and the caller's
/// credentials are dropped, and the authenticated caller is forwarded as a signed principal.
/// </summary>
internal static class PrincipalForwarding
{
    private const string InternalHeaderPrefix = "X-Agents-";

    public static void AddTransforms(TransformBuilderContext context) => context.AddRequestTransform(transform =>
    {
        var headers = transform.ProxyRequest.Headers;
        foreach (var name in headers.Select(h => h.Key).Where(IsInternalOrCredential).ToList())
        {
            headers.Remove(name);
        }

        var principal = ToPrincipal(transform.HttpContext.User);
        if (principal is not null)
        {
            var signer = transform.HttpContext.RequestServices.GetRequiredService<PrincipalSigner>();
            headers.TryAddWithoutValidation(PrincipalSigner.HeaderName, signer.Sign(principal));
        }

        return ValueTask.CompletedTask;
    });

    /// <summary>Drops internal headers from the incoming request itself, before anything reads them.</summary>
    public static IApplicationBuilder UseInternalHeaderStripping(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        foreach (var name in context.Request.Headers.Keys.Where(k => k.StartsWith(InternalHeaderPrefix, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            context.Request.Headers.Remove(name);
        }

        return next(context);
    });

    public static AgentPrincipal? ToPrincipal(System.Security.Claims.ClaimsPrincipal user)
    {
        var tenant = user.FindFirst(GatewayClaims.Tenant)?.Value;
        var id = user.FindFirst(GatewayClaims.User)?.Value;
        return user.Identity?.IsAuthenticated == true && !string.IsNullOrEmpty(tenant) && !string.IsNullOrEmpty(id)
            ? new AgentPrincipal(tenant, id, user.FindAll(GatewayClaims.Role).Select(c => c.Value).Distinct().ToList())
            : null;
    }

    private static bool IsInternalOrCredential(string name) =>
        name.StartsWith(InternalHeaderPrefix, StringComparison.OrdinalIgnoreCase)
        || name.Equals(ApiKeyAuthenticationHandler.HeaderName, StringComparison.OrdinalIgnoreCase)
        || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase);
}
