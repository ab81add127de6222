using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Agents.Messaging.DeadLetters;

/// <summary>HTTP endpoints over <see cref="DeadLetterQueue"/> for operators.</summary>
public static class DeadLetterEndpoints
{
    /// <summary>
    /// Maps <c>GET {prefix}/{queue}</c> (list), <c>POST {prefix}/{queue}/redeliver</c> (all) and
    /// <c>POST {prefix}/{queue}/{messageId}/redeliver</c> (one). Returns the group so the caller can
    /// require authorization on it: these endpoints move messages and must not be public.
    /// </summary>
    public static RouteGroupBuilder MapDeadLetterApi(this IEndpointRouteBuilder endpoints, string prefix = "/api/dead-letters")
    {
        var group = endpoints.MapGroup(prefix);
        group.MapGet("/{queue}", async (string queue, int? limit, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
            TypedResults.Ok(await deadLetters.ListAsync(queue, Math.Clamp(limit ?? 100, 1, 1000), cancellationToken)));
        group.MapPost("/{queue}/redeliver", async (string queue, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
            TypedResults.Ok(new { redelivered = await deadLetters.RedeliverAsync(queue, null, cancellationToken) }));
        group.MapPost("/{queue}/{messageId}/redeliver", async Task<IResult> (string queue, string messageId, DeadLetterQueue deadLetters, CancellationToken cancellationToken) =>
        {
            var moved = await deadLetters.RedeliverAsync(queue, messageId, cancellationToken);
            return moved == 0
                ? TypedResults.Problem($"No message {messageId} in {queue}_error.", statusCode: StatusCodes.Status404NotFound, type: "https://agents/problems/dead-letter-not-found")
                : TypedResults.Ok(new { redelivered = moved });
        });
        return group;
    }
}
