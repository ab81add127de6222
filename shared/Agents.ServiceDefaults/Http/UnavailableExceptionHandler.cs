using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Answers a request that failed because something this service depends on did not answer in time or could not be
/// reached (its database: a command or connection timeout, a connection pool with none free, a dropped connection, a
/// server that asks to try again) with 503, <c>Retry-After</c> and the problem type
/// <see cref="ProblemTypes.Unavailable"/>, instead of a 500. On a machine with more work than cores these failures are
/// load, and the same request succeeds a moment later; a client that waits as told gets its answer. Errors that are not
/// transient stay 500s.
/// </summary>
internal sealed partial class UnavailableExceptionHandler(ILogger<UnavailableExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>Seconds a client is asked to wait before trying again.</summary>
    public const int RetryAfterSeconds = 2;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted || Transient(exception) is not { } cause)
        {
            return false;
        }

        LogUnavailable(httpContext.Request.Method, httpContext.Request.Path.Value ?? string.Empty, cause.GetType().Name, cause.Message);
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await RequestProblems.WriteAsync(
            httpContext,
            StatusCodes.Status503ServiceUnavailable,
            ProblemTypes.Unavailable,
            "The service is busy.",
            $"Something this service depends on did not answer in time ({cause.GetType().Name}: the machine or the database is busy). Try again after {RetryAfterSeconds} s."
            + (HttpMethods.IsGet(httpContext.Request.Method) || HttpMethods.IsHead(httpContext.Request.Method)
                ? string.Empty
                : " A change may have been saved before the time ran out: repeat it with the same Idempotency-Key where the route takes one, otherwise read before repeating it."));
        return true;
    }

    /// <summary>The transient failure in <paramref name="exception"/>'s chain (wrapped or aggregated), or null.</summary>
    internal static Exception? Transient(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 8; depth++)
        {
            switch (exception)
            {
                case NpgsqlException { IsTransient: true }:
                case TimeoutException:
                    return exception;
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    exception = aggregate.InnerExceptions[0];
                    continue;
            }

            exception = exception.InnerException;
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: a dependency did not answer in time ({Exception}: {Reason})")]
    private partial void LogUnavailable(string method, string path, string exception, string reason);
}
