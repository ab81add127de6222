using Agents.Gateway.RateLimiting;
using Agents.Gateway.Security;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Http;
using Agents.ServiceDefaults.Identity;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Agents.Gateway;

internal static class Extensions
{
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.AddPrincipalSigning();

        // Authentication schemes and rate-limit policies are fixed at start; read them now.
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.Services.AddGatewayAuthentication(options);
        builder.Services.AddTenantRateLimiting(options);

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddTransforms(PrincipalForwarding.AddTransforms);
        builder.Services.AddHttpClient(BackendsHealthCheck.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(2));
        builder.Services.AddHealthChecks()
            .AddCheck<BackendsHealthCheck>("backends", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseInternalHeaderStripping();
        app.UseRequestBodyLimit();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapReverseProxy(proxy => proxy.Use(ExplainForwardingErrorsAsync))
            .RequireAuthorization(AuthenticationExtensions.PolicyName)
            .WithMetadata(new RawRequestBodyAttribute());
        return app;
    }

    /// <summary>Refuses bodies over the limit with 413 problem details before anything is forwarded.</summary>
    private static void UseRequestBodyLimit(this WebApplication app) => app.Use(async (context, next) =>
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await ProblemResponses.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"The request body is {context.Request.ContentLength} bytes; the limit is {limit} bytes.", ProblemTypes.PayloadTooLarge);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        await next(context);
    });

    /// <summary>
    /// When a backend cannot be reached (refused, timed out), the caller gets problem details that name the
    /// service and say nothing was forwarded, rather than a bare 502.
    /// </summary>
    private static async Task ExplainForwardingErrorsAsync(HttpContext context, Func<Task> next)
    {
        await next();
        var error = context.GetForwarderErrorFeature();
        if (error is null || context.Response.HasStarted)
        {
            return;
        }

        var cluster = context.GetReverseProxyFeature().Cluster?.Config.ClusterId ?? "backend";
        var timedOut = error.Error is ForwarderError.RequestTimedOut;
        await ProblemResponses.WriteAsync(
            context,
            timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
            timedOut ? "The service did not answer in time" : "The service is not reachable",
            $"The {cluster} service could not be reached ({error.Error}). Retry later; if the request was a submission, "
                + "send it again with the same Idempotency-Key so that it is not created twice.",
            ProblemTypes.Unavailable);
    }

    /// <summary>Handles <c>hash-key &lt;key&gt;</c>: prints the hash to put in Gateway:ApiKeys. Returns true when it ran.</summary>
    public static bool TryRunCommand(string[] args)
    {
        if (args is not ["hash-key", var key])
        {
            return false;
        }

        Console.WriteLine(ApiKeyAuthenticationHandler.Hash(key));
        return true;
    }
}
