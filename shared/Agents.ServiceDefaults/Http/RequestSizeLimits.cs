using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Limits on the request line and headers, enforced by the pipeline rather than by Kestrel so that a refusal carries
/// problem details: Kestrel's own limits are set above these (<see cref="ConfigureKestrel"/>) and refuse
/// only what is far beyond them (and what its parser refuses outright, such as <c>%00</c> in the path), and those
/// refusals get their problem details from <see cref="KestrelRejections"/>.
/// </summary>
public sealed class RequestSizeLimits(RequestDelegate next)
{
    /// <summary>The longest query string accepted (414 beyond).</summary>
    public const int MaxQueryLength = 8 * 1024;

    /// <summary>The most query parameters accepted (414 beyond).</summary>
    public const int MaxQueryParameters = 100;

    /// <summary>The most request headers accepted (431 beyond).</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>The largest total size of the request headers accepted (431 beyond).</summary>
    public const int MaxHeadersBytes = 32 * 1024;

    /// <summary>Sets Kestrel's own limits above the ones this middleware enforces.</summary>
    public static void ConfigureKestrel(KestrelServerOptions options)
    {
        options.Limits.MaxRequestLineSize = 256 * 1024;
        options.Limits.MaxRequestHeaderCount = 2 * MaxHeaderCount;
        options.Limits.MaxRequestHeadersTotalSize = 2 * MaxHeadersBytes;
        options.ConfigureEndpointDefaults(KestrelRejections.UseOn);
    }

    /// <summary>Refuses a request over a limit with problem details.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.QueryString.Value?.Length > MaxQueryLength || request.Query.Count > MaxQueryParameters)
        {
            await RequestProblems.WriteAsync(context, StatusCodes.Status414UriTooLong, ProblemTypes.UriTooLong, "The query is too long.",
                $"A query may have at most {MaxQueryLength} characters and {MaxQueryParameters} parameters; this one has {request.QueryString.Value!.Length} characters and {request.Query.Count} parameters.");
            return;
        }

        var headerBytes = request.Headers.Sum(h => h.Key.Length + h.Value.Sum(v => v?.Length ?? 0) + 4);
        if (request.Headers.Count > MaxHeaderCount || headerBytes > MaxHeadersBytes)
        {
            await RequestProblems.WriteAsync(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, ProblemTypes.HeadersTooLarge, "The request headers are too large.",
                $"A request may have at most {MaxHeaderCount} headers of {MaxHeadersBytes / 1024} KiB together; this one has {request.Headers.Count} of about {headerBytes / 1024} KiB.");
            return;
        }

        await next(context);
    }
}
