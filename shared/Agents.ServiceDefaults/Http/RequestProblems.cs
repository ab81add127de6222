using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.ServiceDefaults.Http;

/// <summary>Writes the problem details of requests refused before they reach an endpoint.</summary>
internal static class RequestProblems
{
    public static Task WriteAsync(HttpContext context, int status, string type, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        var problem = errors is null ? new ProblemDetails() : new ValidationProblemDetails(errors);
        problem.Status = status;
        problem.Type = type;
        problem.Title = title;
        problem.Detail = detail;
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem,
        }).AsTask();
    }

    public static Task WriteValidationAsync(HttpContext context, IDictionary<string, List<string>> errors)
    {
        var first = errors.First();
        var detail = $"'{first.Key}' {first.Value[0]}" + (errors.Count > 1 ? $" (and {errors.Count - 1} more field(s), see 'errors'); nothing was stored." : " Nothing was stored.");
        return WriteAsync(
            context,
            StatusCodes.Status400BadRequest,
            ProblemTypes.Validation,
            "The request is not valid.",
            detail,
            errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal));
    }
}
