using System.Globalization;
using System.Threading.RateLimiting;
using Agents.Gateway.Security;
using Agents.ServiceDefaults;

namespace Agents.Gateway.RateLimiting;

/// <summary>
/// A global concurrency limit over everything forwarded, and per-tenant token buckets, one policy per
/// route (a route names its policy in <c>RateLimiterPolicy</c>). Refusals are 429 problem details with
/// <c>Retry-After</c>.
/// </summary>
internal static class RateLimitingExtensions
{
    public static IServiceCollection AddTenantRateLimiting(this IServiceCollection services, GatewayOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                context.Request.Path.StartsWithSegments("/health")
                    ? RateLimitPartition.GetNoLimiter("health")
                    : RateLimitPartition.GetConcurrencyLimiter("global", _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = options.MaxConcurrentRequests,
                        QueueLimit = 0,
                    }));

            foreach (var (name, bucket) in options.RateLimits)
            {
                limiter.AddPolicy(name, context => RateLimitPartition.GetTokenBucketLimiter(
                    context.User.FindFirst(GatewayClaims.Tenant)?.Value ?? "anonymous",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = bucket.TokenLimit,
                        TokensPerPeriod = bucket.TokensPerPeriod,
                        ReplenishmentPeriod = bucket.ReplenishmentPeriod,
                        QueueLimit = bucket.QueueLimit,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                        AutoReplenishment = true,
                    }));
            }

            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ProblemResponses.WriteAsync(
                    context.HttpContext,
                    StatusCodes.Status429TooManyRequests,
                    "Too many requests",
                    $"The rate limit for this tenant (or the gateway's concurrency limit) is reached; retry after {seconds} s.",
                    ProblemTypes.RateLimited);
            };
        });
        return services;
    }
}
