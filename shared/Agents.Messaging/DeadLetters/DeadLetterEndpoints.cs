using Agents.Contracts;
using Agents.Contracts.Operations;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MassTransit;

namespace Agents.Messaging.DeadLetters;

/// <summary>HTTP endpoints over <see cref="DeadLetterQueue"/> for operators, on the queues of this service only.</summary>
public static class DeadLetterEndpoints
{
    /// <summary>Where the API is mapped; the gateway aggregates it at <c>/api/dead-letters/{service}/...</c>.</summary>
    public const string Prefix = "/api/dead-letters";

    /// <summary>
    /// Registers what <see cref="MapDeadLetterApi"/> needs: the <see cref="DeadLetterQueue"/> and the record of this
    /// service's queues (<see cref="ServiceQueues"/>, filled as its receive endpoints start). Done by
    /// <c>AddAgentsDurableMessaging</c>; hosts without it (tool hosts) call this. Calling it again changes nothing.
    /// </summary>
    public static IServiceCollection AddAgentsDeadLetters(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ServiceQueues)))
        {
            return services;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DeadLetterQueue>();
        services.AddSingleton<ServiceQueues>();
        services.AddReceiveEndpointObserver(sp => sp.GetRequiredService<ServiceQueues>());
        return services;
    }

    /// <summary>
    /// Maps, under <see cref="Prefix"/>, behind the gateway's signed principal and the roles of <see cref="DeadLetterAccess"/>:
    /// <c>GET /</c> (this service's queues and their dead-letter counts), <c>GET /{queue}</c> (list),
    /// <c>GET /{queue}/{messageId}</c> (one, with its body), <c>POST /{queue}/redeliver</c> (all),
    /// <c>POST /{queue}/{messageId}/redeliver</c> (one) and <c>DELETE /{queue}/{messageId}</c>.
    /// A platform operator sees every message; a tenant admin only those naming their tenant (docs/decisions/0009-dead-letters-by-tenant.md).
    /// </summary>
    public static RouteGroupBuilder MapDeadLetterApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(Prefix).RequireAgentPrincipal().WithTags("Dead letters")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.AddEndpointFilter(async (context, next) => DeadLetterAccess.MayUse(context.HttpContext.GetPrincipal())
            ? await next(context)
            : Forbidden());

        group.MapGet("/", async (HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
        {
            var visible = VisibleTo(http.GetPrincipal());
            var counts = new List<DeadLetterQueueInfo>();
            foreach (var queue in queues.Names)
            {
                counts.Add(new DeadLetterQueueInfo(null, queue, await deadLetters.CountAsync(queue, visible, cancellationToken)));
            }

            return TypedResults.Ok(counts);
        });
        group.MapGet("/{queue}", async Task<Results<Ok<IReadOnlyList<DeadLetterSummary>>, ProblemHttpResult>> (
            string queue, int? limit, HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
            !queues.Contains(queue)
                ? UnknownQueue(queue)
                : TypedResults.Ok(await deadLetters.ListAsync(queue, Math.Clamp(limit ?? 100, 1, 1000), VisibleTo(http.GetPrincipal()), cancellationToken)));
        group.MapGet("/{queue}/{messageId}", async Task<Results<Ok<DeadLetterMessage>, ProblemHttpResult>> (
            string queue, string messageId, HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
        {
            if (!queues.Contains(queue))
            {
                return UnknownQueue(queue);
            }

            var message = await deadLetters.GetAsync(queue, messageId, VisibleTo(http.GetPrincipal()), cancellationToken);
            return message is null ? NotFound(queue, messageId) : TypedResults.Ok(message);
        });
        group.MapPost("/{queue}/redeliver", async Task<Results<Ok<DeadLettersRedelivered>, ProblemHttpResult>> (
            string queue, HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
            !queues.Contains(queue)
                ? UnknownQueue(queue)
                : TypedResults.Ok(new DeadLettersRedelivered(await deadLetters.RedeliverAsync(queue, null, VisibleTo(http.GetPrincipal()), cancellationToken))));
        group.MapPost("/{queue}/{messageId}/redeliver", async Task<Results<Ok<DeadLettersRedelivered>, ProblemHttpResult>> (
            string queue, string messageId, HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
        {
            if (!queues.Contains(queue))
            {
                return UnknownQueue(queue);
            }

            var moved = await deadLetters.RedeliverAsync(queue, messageId, VisibleTo(http.GetPrincipal()), cancellationToken);
            return moved == 0 ? NotFound(queue, messageId) : TypedResults.Ok(new DeadLettersRedelivered(moved));
        });
        group.MapDelete("/{queue}/{messageId}", async Task<Results<NoContent, ProblemHttpResult>> (
            string queue, string messageId, HttpContext http, ServiceQueues queues, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
        {
            if (!queues.Contains(queue))
            {
                return UnknownQueue(queue);
            }

            return await deadLetters.DeleteAsync(queue, messageId, VisibleTo(http.GetPrincipal()), cancellationToken)
                ? TypedResults.NoContent()
                : NotFound(queue, messageId);
        });
        return group;
    }

    private static Func<DeadLetterSummary, bool> VisibleTo(AgentPrincipal principal) => message => DeadLetterAccess.MaySee(principal, message.TenantId);

    private static ProblemHttpResult Forbidden() => TypedResults.Problem(
        statusCode: StatusCodes.Status403Forbidden,
        title: "Not allowed",
        detail: $"Dead letters need the role '{DeadLetterAccess.TenantAdminRole}' (your tenant's messages) or '{DeadLetterAccess.PlatformOperatorRole}' (every message).",
        type: ProblemTypes.Forbidden);

    private static ProblemHttpResult UnknownQueue(string queue) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Queue not found",
        detail: $"'{queue}' is not a queue of this service; GET {Prefix} lists them.",
        type: ProblemTypes.NotFound);

    private static ProblemHttpResult NotFound(string queue, string messageId) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Dead letter not found",
        detail: $"No message {messageId} that you may see waits in {queue}_error.",
        type: ProblemTypes.NotFound);
}
