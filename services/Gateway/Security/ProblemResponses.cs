using Agents.ServiceDefaults;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Agents.Gateway.Security;

/// <summary>Writes RFC 7807 problem details for the gateway's own refusals.</summary>
internal static class ProblemResponses
{
    public static Task WriteAsync(HttpContext context, int status, string title, string detail, string type)
    {
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail, Type = type },
        }).AsTask();
    }
}

/// <summary>Turns authorization challenges and refusals into problem details rather than empty 401/403 bodies.</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            var detail = ApiKeyAuthenticationHandler.ReadKey(context.Request) is not null || context.Request.Headers.Authorization.Count > 0
                ? "The credentials are not valid."
                : $"Send an API key in the {ApiKeyAuthenticationHandler.HeaderName} header (or a bearer token).";
            context.Response.Headers.WWWAuthenticate = "ApiKey, Bearer";
            await ProblemResponses.WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthenticated", detail, ProblemTypes.Unauthenticated);
            return;
        }

        if (authorizeResult.Forbidden)
        {
            await ProblemResponses.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", "The credentials do not allow this request.", ProblemTypes.Forbidden);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
