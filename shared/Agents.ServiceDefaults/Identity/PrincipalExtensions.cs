using Agents.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Agents.ServiceDefaults.Identity;

/// <summary>Verification of the gateway's signed principal on a service's API.</summary>
public static class PrincipalExtensions
{
    private const string ItemKey = "agents.principal";

    /// <summary>Adds the validated <see cref="IdentityOptions"/> and the <see cref="PrincipalSigner"/>.</summary>
    public static IHostApplicationBuilder AddPrincipalSigning(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IdentityOptions>()
            .BindConfiguration(IdentityOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PrincipalSigner>();
        return builder;
    }

    /// <summary>
    /// Every endpoint in the group requires a valid signed principal; otherwise 401 with problem
    /// details. Handlers read it with <see cref="GetPrincipal"/>.
    /// </summary>
    public static TBuilder RequireAgentPrincipal<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var signer = http.RequestServices.GetRequiredService<PrincipalSigner>();
            var principal = signer.Verify(http.Request.Headers[PrincipalSigner.HeaderName], out var error);
            if (principal is null)
            {
                return Results.Problem(
                    statusCode: StatusCodes.Status401Unauthorized,
                    title: "Unauthenticated",
                    detail: error,
                    type: ProblemTypes.Unauthenticated);
            }

            http.Items[ItemKey] = principal;
            return await next(context);
        });
        return builder;
    }

    /// <summary>The verified principal of the current request (only inside a group that requires one).</summary>
    public static AgentPrincipal GetPrincipal(this HttpContext context) =>
        context.Items[ItemKey] as AgentPrincipal
        ?? throw new InvalidOperationException("No verified principal: map the endpoint inside a group with RequireAgentPrincipal().");
}
