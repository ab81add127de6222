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
            .Validate(
                o => o.ToolHosts.Values.All(a => Uri.TryCreate(a, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"),
                "Gateway:ToolHosts:<name> must be the tool host's absolute http(s) address, e.g. http://127.0.0.1:5201/.")
            .ValidateOnStart();
        builder.Services.AddOptions<WebConsole.ConsoleOptions>()
            .BindConfiguration(WebConsole.ConsoleOptions.Section)
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
        app.UseHeaderTextCheck();
        app.UseRequestBodyLimit();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapReverseProxy(proxy => proxy.Use(ExplainForwardingErrorsAsync))
            .RequireAuthorization(AuthenticationExtensions.PolicyName)
            .WithMetadata(new RawRequestBodyAttribute());
        return app;
    }

    /// <summary>
    /// Refuses a header value with characters outside printable ASCII with 400 problem details naming the header:
    /// HTTP/1.1 headers are ASCII, and the forwarding client cannot send anything else (it would fail as if the
    /// backend were down). A path holding a control character once decoded (<c>%01</c>…<c>%1F</c>, <c>%7F</c>; Kestrel
    /// itself refuses <c>%00</c>) is refused the same way, so that no service sees one.
    /// </summary>
    private static void UseHeaderTextCheck(this WebApplication app) => app.Use(async (context, next) =>
    {
        if (context.Request.Path.Value is { } path && path.Any(char.IsControl))
        {
            await ProblemResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "Path not valid",
                "The request path holds a control character; no resource is named that way.", ProblemTypes.Validation);
            return;
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            foreach (var value in values)
            {
                if (value is not null && value.Any(c => c > '\x7e' || (c < ' ' && c != '\t')))
                {
                    await ProblemResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "Header not valid",
                        $"The '{name}' header holds characters outside printable ASCII; send header values as ASCII (encode anything else).", ProblemTypes.Validation);
                    return;
                }
            }
        }

        await next(context);
    });

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
    /// When forwarding fails, the caller gets problem details. A failure of the request itself (a body over the
    /// limit, a body the client stopped sending) is the client's: 4xx.
    /// Only a backend that cannot be reached or does not answer is 502/504, naming the service, with <c>Retry-After</c>
    /// (a restarting service is usually back within seconds).
    /// </summary>
    private static async Task ExplainForwardingErrorsAsync(HttpContext context, Func<Task> next)
    {
        await next();
        var error = context.GetForwarderErrorFeature();
        if (error is null || context.Response.HasStarted)
        {
            return;
        }

        if (ClientError(error) is { } client)
        {
            await ProblemResponses.WriteAsync(context, client.Status, client.Title, client.Detail, client.Type);
            return;
        }

        var cluster = context.GetReverseProxyFeature().Cluster?.Config.ClusterId ?? "backend";
        var timedOut = error.Error is ForwarderError.RequestTimedOut;
        context.Response.Headers.RetryAfter = BackendRetryAfterSeconds;
        await ProblemResponses.WriteAsync(
            context,
            timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
            timedOut ? "The service did not answer in time" : "The service is not reachable",
            $"The {cluster} service could not be reached ({error.Error}). Retry later; if the request was a submission, "
                + "send it again with the same Idempotency-Key so that it is not created twice.",
            ProblemTypes.Unavailable);
    }

    /// <summary>What a 502/504 asks the caller to wait before sending the request again.</summary>
    public const string BackendRetryAfterSeconds = "2";

    private static (int Status, string Title, string Detail, string Type)? ClientError(IForwarderErrorFeature error)
    {
        // Kestrel's refusal of a body over the limit reaches here wrapped by the forwarding client's stream.
        var tooLarge = false;
        for (var exception = error.Exception; exception is not null; exception = exception.InnerException)
        {
            tooLarge |= exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge };
        }

        if (tooLarge)
        {
            return (StatusCodes.Status413PayloadTooLarge, "Request body too large",
                "The request body is larger than the gateway accepts (Gateway:MaxRequestBodyBytes); nothing was forwarded.", ProblemTypes.PayloadTooLarge);
        }

        return error.Error switch
        {
            ForwarderError.RequestBodyClient or ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => (
                StatusCodes.Status400BadRequest, "The request could not be read",
                "The request body ended early or could not be read; send the whole request again.", ProblemTypes.Validation),
            _ => null,
        };
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
