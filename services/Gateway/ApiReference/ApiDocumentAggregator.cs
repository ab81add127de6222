using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Gateway.Mcp;
using Agents.Gateway.Security;
using Agents.ServiceDefaults.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Yarp.ReverseProxy;

namespace Agents.Gateway.ApiReference;

/// <summary>
/// The platform's one OpenAPI document: the gateway's own endpoints plus, from every backend's document, the paths the
/// gateway forwards to it (a path the gateway does not route, such as a service's own dead-letter API, is left out:
/// nobody outside can call it). Security is what callers of the gateway use: the API key, and a bearer token when JWT
/// is configured.
/// </summary>
internal sealed class ApiDocumentAggregator(
    [FromKeyedServices(ApiDocument.Name)] IOpenApiDocumentProvider own,
    IProxyStateLookup proxy,
    IHttpClientFactory clients,
    Microsoft.Extensions.Options.IOptions<GatewayOptions> options,
    ILogger<ApiDocumentAggregator> logger)
{
    public const string Path = "/openapi/agents.json";
    public const string ApiKeyScheme = "ApiKey";
    public const string BearerScheme = "Bearer";

    public async Task<JsonObject> BuildAsync(CancellationToken cancellationToken)
    {
        var gatewayDocument = await own.GetOpenApiDocumentAsync(cancellationToken);
        using var buffer = new MemoryStream();
        await gatewayDocument.SerializeAsJsonAsync(buffer, OpenApiSpecVersion.OpenApi3_1, cancellationToken);
        var document = JsonNode.Parse(buffer.ToArray())!.AsObject();
        document["info"] = new JsonObject
        {
            ["title"] = "Agents platform API",
            ["version"] = "v1",
            ["description"] = "Every call goes through the gateway with an API key (X-Api-Key) or, when configured, a JWT bearer token. "
                + "Errors are RFC 7807 problem details with a stable type.",
        };
        var paths = Object(document, "paths");
        var schemas = Object(Object(document, "components"), "schemas");
        var unavailable = new List<string>();

        foreach (var (cluster, prefixes) in RoutedPrefixes())
        {
            var backend = await FetchAsync(cluster, cancellationToken);
            if (backend is null)
            {
                unavailable.Add(cluster);
                continue;
            }

            var renames = MergeSchemas(cluster, backend, schemas);
            foreach (var (path, item) in Object(backend, "paths"))
            {
                if (item is null || !prefixes.Any(p => path.Equals(p, StringComparison.OrdinalIgnoreCase) || path.StartsWith(p + "/", StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }

                var copy = item.DeepClone();
                Rewrite(copy, renames);
                paths[path] = copy;
            }
        }

        if (unavailable.Count > 0)
        {
            document["info"]!["x-agents-unavailable"] = new JsonArray([.. unavailable.Select(u => JsonValue.Create(u))]);
        }

        AddSecurity(document);
        return document;
    }

    /// <summary>Path prefixes each cluster is routed (<c>/api/tasks/{**rest}</c> → <c>/api/tasks</c>).</summary>
    private Dictionary<string, List<string>> RoutedPrefixes()
    {
        var prefixes = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var route in proxy.GetRoutes())
        {
            var path = route.Config.Match.Path;
            if (route.Config.ClusterId is not { } cluster || string.IsNullOrEmpty(path))
            {
                continue;
            }

            var catchAll = path.IndexOf("/{", StringComparison.Ordinal);
            var prefix = (catchAll >= 0 ? path[..catchAll] : path).TrimEnd('/');
            if (!prefixes.TryGetValue(cluster, out var list))
            {
                prefixes[cluster] = list = [];
            }

            list.Add(prefix);
        }

        return prefixes;
    }

    private async Task<JsonObject?> FetchAsync(string cluster, CancellationToken cancellationToken)
    {
        try
        {
            if (!proxy.TryGetCluster(cluster, out var state) || state.DestinationsState.AllDestinations.Count == 0)
            {
                return null;
            }

            var address = new Uri(new Uri(state.DestinationsState.AllDestinations[0].Model.Config.Address), ApiDocument.Path);
            using var response = await clients.CreateClient(PlatformBackends.HttpClientName).GetAsync(address, cancellationToken);
            response.EnsureSuccessStatusCode();
            return JsonNode.Parse(await response.Content.ReadAsStreamAsync(cancellationToken), documentOptions: new JsonDocumentOptions { MaxDepth = 256 }) as JsonObject;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The OpenAPI document of the {Cluster} service could not be read; the reference leaves it out.", cluster);
            return null;
        }
    }

    /// <summary>
    /// Adds a backend's schemas; one whose name is taken by a different schema is renamed <c>cluster.Name</c>. Returns
    /// the renames, to apply to the backend's references.
    /// </summary>
    private static Dictionary<string, string> MergeSchemas(string cluster, JsonObject backend, JsonObject schemas)
    {
        var renames = new Dictionary<string, string>(StringComparer.Ordinal);
        var incoming = backend["components"]?["schemas"] as JsonObject;
        if (incoming is null)
        {
            return renames;
        }

        foreach (var (name, _) in incoming)
        {
            if (schemas[name] is { } existing && !JsonNode.DeepEquals(existing, incoming[name]))
            {
                renames[$"#/components/schemas/{name}"] = $"#/components/schemas/{cluster}.{name}";
            }
        }

        foreach (var (name, schema) in incoming)
        {
            var copy = schema?.DeepClone();
            Rewrite(copy, renames);
            schemas[renames.ContainsKey($"#/components/schemas/{name}") ? $"{cluster}.{name}" : name] = copy;
        }

        return renames;
    }

    private static void Rewrite(JsonNode? node, Dictionary<string, string> renames)
    {
        if (renames.Count == 0)
        {
            return;
        }

        switch (node)
        {
            case JsonObject obj:
                if (obj["$ref"] is JsonValue reference && reference.TryGetValue<string>(out var target) && renames.TryGetValue(target, out var renamed))
                {
                    obj["$ref"] = renamed;
                }

                foreach (var (_, child) in obj)
                {
                    Rewrite(child, renames);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Rewrite(child, renames);
                }

                break;
        }
    }

    private void AddSecurity(JsonObject document)
    {
        var schemes = Object(Object(document, "components"), "securitySchemes");
        schemes[ApiKeyScheme] = new JsonObject
        {
            ["type"] = "apiKey",
            ["in"] = "header",
            ["name"] = ApiKeyAuthenticationHandler.HeaderName,
            ["description"] = "An API key the gateway knows (Gateway:ApiKeys); it stands for a tenant, a user and roles.",
        };
        var requirements = new JsonArray { new JsonObject { [ApiKeyScheme] = new JsonArray() } };
        if (options.Value.Jwt.Enabled)
        {
            schemes[BearerScheme] = new JsonObject
            {
                ["type"] = "http",
                ["scheme"] = "bearer",
                ["bearerFormat"] = "JWT",
                ["description"] = $"A JWT with the tenant in '{options.Value.Jwt.TenantClaim}', the user in 'sub' and roles in '{options.Value.Jwt.RolesClaim}'.",
            };
            requirements.Add(new JsonObject { [BearerScheme] = new JsonArray() });
        }

        document["security"] = requirements;
    }

    private static JsonObject Object(JsonObject parent, string name)
    {
        if (parent[name] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        parent[name] = created;
        return created;
    }
}
