namespace Agents.ServiceDefaults;

/// <summary>
/// Stable <c>type</c> URIs for RFC 7807 problem details, so clients can branch on them.
/// Each names a documented error class of the platform.
/// </summary>
public static class ProblemTypes
{
    private const string Base = "https://agents.dev/problems/";

    /// <summary>No or invalid credentials.</summary>
    public const string Unauthenticated = Base + "unauthenticated";

    /// <summary>Authenticated, but not allowed.</summary>
    public const string Forbidden = Base + "forbidden";

    /// <summary>The request body or parameters are invalid; <c>errors</c> lists each problem.</summary>
    public const string Validation = Base + "validation";

    /// <summary>The resource does not exist (or belongs to another tenant).</summary>
    public const string NotFound = Base + "not-found";

    /// <summary>The request conflicts with the resource's current state.</summary>
    public const string Conflict = Base + "conflict";

    /// <summary>The resource changed since the caller read it (<c>If-Match</c> names an older version); read it again.</summary>
    public const string PreconditionFailed = Base + "precondition-failed";

    /// <summary>Too many requests; see <c>Retry-After</c>.</summary>
    public const string RateLimited = Base + "rate-limited";

    /// <summary>The request body is larger than allowed.</summary>
    public const string PayloadTooLarge = Base + "payload-too-large";

    /// <summary>The request body is not in a format the route takes (JSON routes take <c>application/json</c>).</summary>
    public const string UnsupportedMediaType = Base + "unsupported-media-type";

    /// <summary>The request's query is longer, or has more parameters, than accepted.</summary>
    public const string UriTooLong = Base + "uri-too-long";

    /// <summary>The request has more, or larger, headers than accepted.</summary>
    public const string HeadersTooLarge = Base + "headers-too-large";

    /// <summary>
    /// The server could not parse the request at all (its request line, headers or framing, e.g. a NUL in the path);
    /// nothing was processed.
    /// </summary>
    public const string MalformedRequest = Base + "malformed-request";

    /// <summary>A service this request depends on did not answer; nothing was changed, retry later.</summary>
    public const string Unavailable = Base + "unavailable";

    /// <summary>An unexpected server error; the trace id identifies it in the logs.</summary>
    public const string Internal = Base + "internal";
}
