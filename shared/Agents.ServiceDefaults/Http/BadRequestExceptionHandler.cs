using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Answers a request the framework could not bind (a query value that is not a number, a date or a GUID, a value
/// out of range, a parameter given twice) with its own 4xx problem details naming the parameter, instead of the 500
/// an unhandled <see cref="BadHttpRequestException"/> would become.
/// </summary>
internal sealed partial class BadRequestExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || httpContext.Response.HasStarted)
        {
            return false;
        }

        var match = BindingFailure().Match(bad.Message);
        if (match.Success)
        {
            var name = match.Groups["name"].Value;
            await RequestProblems.WriteAsync(
                httpContext,
                StatusCodes.Status400BadRequest,
                ProblemTypes.Validation,
                "The request is not valid.",
                $"'{name}' has a value that is not valid for it ({Describe(match.Groups["type"].Value)}); give it once, in range.",
                new Dictionary<string, string[]> { [name] = [$"'{Shorten(match.Groups["value"].Value)}' is not {Describe(match.Groups["type"].Value)}."] });
            return true;
        }

        var status = bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : StatusCodes.Status400BadRequest;
        await RequestProblems.WriteAsync(
            httpContext,
            status,
            status switch
            {
                StatusCodes.Status413PayloadTooLarge => ProblemTypes.PayloadTooLarge,
                StatusCodes.Status415UnsupportedMediaType => ProblemTypes.UnsupportedMediaType,
                _ => ProblemTypes.Validation,
            },
            "The request is not valid.",
            bad.Message);
        return true;
    }

    private static string Describe(string type) => type.TrimEnd('?') switch
    {
        "int" or "long" or "short" => "a whole number in range",
        "Guid" => "a GUID",
        "bool" => "true or false",
        "DateTimeOffset" or "DateTime" or "DateOnly" => "a date",
        "decimal" or "double" => "a number",
        _ => $"a valid {type.TrimEnd('?')}",
    };

    private static string Shorten(string value) => value.Length > 100 ? value[..100] + "…" : value;

    // "Failed to bind parameter "int? page" from "abc"."
    [GeneratedRegex("^Failed to bind parameter \"(?<type>[^ \"]+) (?<name>[^\"]+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
    private static partial Regex BindingFailure();
}
