using Microsoft.AspNetCore.Http;

namespace Agents.ServiceDefaults;

/// <summary>
/// The problem details every service answers with for the common refusals, with the project's stable
/// <see cref="ProblemTypes"/> and titles, so that a client sees the same shape from every route.
/// </summary>
public static class ApiProblems
{
    /// <summary>400 with <c>errors</c> by field (<c>steps[0].prompt</c>, <c>parameters.customerId</c>, <c>body</c>).</summary>
    public static IResult Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        Results.ValidationProblem(
            errors,
            detail: detail ?? string.Join(" ", errors.Values.SelectMany(v => v)),
            title: "The request is not valid",
            type: ProblemTypes.Validation);

    /// <summary>400 naming one field.</summary>
    public static IResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [message] }, message);

    /// <summary>403: the caller is known but may not do this.</summary>
    public static IResult Forbidden(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail, type: ProblemTypes.Forbidden);

    /// <summary>404: nothing of that name the caller may see.</summary>
    public static IResult NotFound(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail, type: ProblemTypes.NotFound);

    /// <summary>409: the request conflicts with the resource's current state.</summary>
    public static IResult Conflict(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail, type: ProblemTypes.Conflict);
}
