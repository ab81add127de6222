using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Writes problem details as <c>application/problem+json</c> when the framework's own writer declines because the
/// request's <c>Accept</c> header does not name JSON (e.g. <c>Accept: application/xml</c>): without it, the status code
/// pages (a route that does not match, 405) and the exception handler answer such a request with plain text or nothing,
/// while every endpoint answers JSON anyway. Registered after the default writer, so it only takes what that one leaves.
/// </summary>
internal sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> options, IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        Microsoft.AspNetCore.Mvc.ProblemDetails problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(problem, json.Value.SerializerOptions, "application/problem+json"));
    }
}
