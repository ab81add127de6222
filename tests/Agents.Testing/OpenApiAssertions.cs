using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;
using Xunit;

namespace Agents.Testing;

/// <summary>Checks on OpenAPI documents: valid by the OpenAPI.NET reader and rules, and complete against a host's endpoints.</summary>
public static class OpenApiAssertions
{
    /// <summary>Reads <paramref name="json"/> with OpenAPI.NET; fails on any reader error or rule violation.</summary>
    public static JsonObject AssertValid(string json)
    {
        var result = OpenApiDocument.Parse(json, "json");
        Assert.True(result.Diagnostic is null || result.Diagnostic.Errors.Count == 0,
            "The document does not read as OpenAPI: " + string.Join("; ", result.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        Assert.NotNull(result.Document);
        var violations = result.Document.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(violations.Count == 0, "The document breaks OpenAPI rules: " + string.Join("; ", violations.Select(e => $"{e.Pointer}: {e.Message}")));
        return JsonNode.Parse(json)!.AsObject();
    }

    /// <summary>The API endpoints (route under <c>/api</c>) of a host, as (method, path) with route constraints removed.</summary>
    public static IReadOnlyList<(string Method, string Path)> ApiEndpoints(EndpointDataSource endpoints) =>
        endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.OrdinalIgnoreCase) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => (m, Normalise(e.RoutePattern.RawText!))))
            .Distinct()
            .ToList();

    /// <summary>Fails unless every endpoint has an operation in <paramref name="document"/>, naming the ones missing.</summary>
    public static void AssertDescribes(JsonObject document, IEnumerable<(string Method, string Path)> endpoints)
    {
        var paths = (document["paths"] as JsonObject ?? []).ToDictionary(p => Normalise(p.Key), p => p.Value as JsonObject, StringComparer.OrdinalIgnoreCase);
        var missing = endpoints
            .Where(e => !paths.TryGetValue(e.Path, out var item) || item?[e.Method.ToLowerInvariant()] is null)
            .Select(e => $"{e.Method} {e.Path}")
            .ToList();
        Assert.True(missing.Count == 0, "Mapped but not in the OpenAPI document: " + string.Join(", ", missing));
    }

    /// <summary><c>/api/tasks/{id:guid}/</c> → <c>/api/tasks/{id}</c>.</summary>
    public static string Normalise(string route)
    {
        var path = System.Text.RegularExpressions.Regex.Replace(route, @"\{\*{0,2}([A-Za-z0-9_]+)[^}]*\}", "{$1}");
        return path.Length > 1 ? path.TrimEnd('/') : path;
    }
}
