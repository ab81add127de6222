using Agents.Contracts.Operations;
using Agents.Gateway.Mcp;
using Agents.Gateway.Security;
using Agents.ServiceDefaults;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace Agents.Gateway.DeadLetters;

/// <summary>The queues of every service with their dead-letter counts; services that did not answer are named.</summary>
public sealed record DeadLetterOverview(IReadOnlyList<DeadLetterQueueInfo> Queues, IReadOnlyList<string> Unavailable);

/// <summary>
/// Every service's dead-letter API in one place, at <c>/api/dead-letters/{service}/...</c> (the service is the backend
/// cluster's name, or a tool host's name in <c>Gateway:ToolHosts</c>). The caller's principal goes to the service, which decides what they may see; the gateway refuses
/// early anyone with neither the tenant admin nor the platform operator role.
/// </summary>
internal static class DeadLetterAggregation
{
    private const string Prefix = "/api/dead-letters";

    public static WebApplication MapDeadLetters(this WebApplication app)
    {
        var group = app.MapGroup(Prefix)
            .RequireAuthorization(AuthenticationExtensions.PolicyName)
            .WithTags("Dead letters");
        if (app.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>()?.RateLimits.ContainsKey("standard") == true)
        {
            group.RequireRateLimiting("standard");
        }

        group.AddEndpointFilter(async (context, next) =>
            PrincipalForwarding.ToPrincipal(context.HttpContext.User) is { } principal && DeadLetterAccess.MayUse(principal)
                ? await next(context)
                : Results.Problem(
                    statusCode: StatusCodes.Status403Forbidden,
                    title: "Not allowed",
                    detail: $"Dead letters need the role '{DeadLetterAccess.TenantAdminRole}' (your tenant's messages) or '{DeadLetterAccess.PlatformOperatorRole}' (every message).",
                    type: ProblemTypes.Forbidden));

        group.MapGet("/", OverviewAsync)
            .Produces<DeadLetterOverview>()
            .ProducesProblem(StatusCodes.Status403Forbidden);
        group.Forward("GET", "/{service}/{queue}", string.Empty).Produces<IReadOnlyList<DeadLetterSummary>>();
        group.Forward("GET", "/{service}/{queue}/{messageId}", string.Empty).Produces<DeadLetterMessage>();
        group.Forward("POST", "/{service}/{queue}/redeliver", "/redeliver").Produces<DeadLettersRedelivered>();
        group.Forward("POST", "/{service}/{queue}/{messageId}/redeliver", "/redeliver").Produces<DeadLettersRedelivered>();
        group.Forward("DELETE", "/{service}/{queue}/{messageId}", string.Empty).Produces(StatusCodes.Status204NoContent);
        return app;
    }

    private static async Task<IResult> OverviewAsync(
        HttpContext http, PlatformBackends backends, IProxyStateLookup proxy, IOptions<GatewayOptions> options, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var principal = PrincipalForwarding.ToPrincipal(http.User)!;
        var services = proxy.GetClusters().Select(c => c.ClusterId).Concat(options.Value.ToolHosts.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var answers = await Task.WhenAll(services.Select(async service =>
        {
            try
            {
                using var response = await backends.SendAsync(service, HttpMethod.Get, Prefix, principal, null, cancellationToken);
                return response.IsSuccessStatusCode
                    ? (service, await response.Content.ReadFromJsonAsync<List<DeadLetterQueueInfo>>(cancellationToken))
                    : (service, null);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                logs.CreateLogger(typeof(DeadLetterAggregation)).LogWarning(ex, "The {Service} service did not list its dead letters.", service);
                return (service, (List<DeadLetterQueueInfo>?)null);
            }
        }));
        var queues = answers.Where(a => a.Item2 is not null).SelectMany(a => a.Item2!.Select(q => q with { Service = a.service })).ToList();
        var unavailable = answers.Where(a => a.Item2 is null).Select(a => a.service).ToList();
        return Results.Ok(new DeadLetterOverview(queues, unavailable));
    }

    /// <summary>
    /// Maps <paramref name="pattern"/> to the same request on the service named by <c>{service}</c>: its
    /// <c>{queue}</c>, <c>{messageId}</c> when the pattern has one, then <paramref name="suffix"/>, with the query string.
    /// </summary>
    private static RouteHandlerBuilder Forward(this RouteGroupBuilder group, string method, string pattern, string suffix) =>
        group.MapMethods(pattern, [method], (string service, string queue, HttpContext http, PlatformBackends backends, IProxyStateLookup proxy, IOptions<GatewayOptions> options, CancellationToken cancellationToken) =>
            {
                var messageId = http.Request.RouteValues.TryGetValue("messageId", out var id) && id is string text ? $"/{Escape(text)}" : string.Empty;
                var path = $"{Escape(queue)}{messageId}{suffix}{http.Request.QueryString}";
                return ForwardAsync(service, new HttpMethod(method), path, http, backends, proxy, options.Value, cancellationToken);
            })
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

    private static async Task<IResult> ForwardAsync(
        string service, HttpMethod method, string path, HttpContext http, PlatformBackends backends, IProxyStateLookup proxy, GatewayOptions options, CancellationToken cancellationToken)
    {
        if (!proxy.TryGetCluster(service, out _) && !options.ToolHosts.ContainsKey(service))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Service not found",
                detail: $"There is no service '{service}'; GET {Prefix} lists the services and their queues.",
                type: ProblemTypes.NotFound);
        }

        var principal = PrincipalForwarding.ToPrincipal(http.User)!;
        try
        {
            using var response = await backends.SendAsync(service, method, $"{Prefix}/{path}", principal, null, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.StatusCode == System.Net.HttpStatusCode.NoContent
                ? Results.NoContent()
                : Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: (int)response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status502BadGateway,
                title: "The service is not reachable",
                detail: $"The {service} service could not be reached ({ex.Message}); nothing was changed by the gateway. Retry later.",
                type: ProblemTypes.Unavailable);
        }
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);
}
