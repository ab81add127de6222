using System.Text.Json;
using System.Text.RegularExpressions;
using Agents.ServiceDefaults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Api;

/// <summary>Problem details with the project's stable types, and body reading that turns bad JSON into a 400 a person can act on.</summary>
internal static partial class ApiResults
{
    public static IResult Validation(string field, string message) => ApiProblems.Validation(field, message);

    public static IResult Validation(Dictionary<string, string[]> errors) => ApiProblems.Validation(errors);

    /// <summary>Reads a JSON body; on failure returns the 400 problem to send instead.</summary>
    public static async Task<(T? Value, IResult? Error)> ReadBodyAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, Validation("body", "Send a JSON body with 'Content-Type: application/json'."));
        }

        var json = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            var value = await request.ReadFromJsonAsync<T>(json, cancellationToken);
            return value is null ? (null, Validation("body", "The request body is empty; send a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 0 } path ? $" at '{path}'" : string.Empty;
            return (null, Validation("body", $"The request body is not valid JSON{where}: fix the syntax or the value's type."));
        }
    }

    /// <summary>Ids used in routes (session, agent, procedure name): 1–128 of letters, digits, '.', '_', ':', '-'.</summary>
    public static bool IsValidKey(string? value) => value is { Length: > 0 and <= Memories.MemoryLimits.MaxKeyLength } && KeyPattern().IsMatch(value);

    [GeneratedRegex("^[A-Za-z0-9._:-]+$")]
    private static partial Regex KeyPattern();
}
