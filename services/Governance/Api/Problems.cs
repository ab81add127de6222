using System.Text.Json;
using Agents.ServiceDefaults;

namespace Agents.Governance.Api;

/// <summary>Body reading for governance's routes; refusals are <see cref="ApiProblems"/>.</summary>
internal static class Problems
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IResult Validation(string detail, IDictionary<string, string[]> errors) => ApiProblems.Validation(errors, detail);

    /// <summary>Reads a JSON body, answering malformed JSON with a 400 validation problem.</summary>
    public static async Task<(T? Value, IResult? Problem)> ReadJsonAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, Json, cancellationToken);
            return value is null
                ? (null, Validation("The request body is empty; send a JSON object.", new Dictionary<string, string[]> { [string.Empty] = ["A JSON object is required."] }))
                : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, Validation("The request body is not valid JSON.", new Dictionary<string, string[]> { [ex.Path ?? string.Empty] = [ex.Message] }));
        }
    }
}
