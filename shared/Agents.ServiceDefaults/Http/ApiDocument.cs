using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.OpenApi;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// The OpenAPI document of a service's HTTP API, at <see cref="Path"/>. The gateway reads every service's document
/// and serves them as one (with its own endpoints and the public authentication schemes).
/// </summary>
public static class ApiDocument
{
    /// <summary>The name of the document.</summary>
    public const string Name = "v1";

    /// <summary>Where each service serves its document (not authenticated: it describes routes, not data).</summary>
    public const string Path = "/openapi/v1.json";

    /// <summary>Registers the document, titled after the application (<c>Agents.Executor</c>, ...), as OpenAPI 3.1.</summary>
    public static IHostApplicationBuilder AddApiDocument(this IHostApplicationBuilder builder)
    {
        var title = builder.Environment.ApplicationName;
        builder.Services.AddOpenApi(Name, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = title;
                document.Info.Version = "v1";
                return Task.CompletedTask;
            });
        });
        return builder;
    }

    /// <summary>
    /// Describes the JSON request body of a route that reads its body itself (to answer its own validation errors), in the
    /// document only: unlike <c>.Accepts&lt;T&gt;()</c>, it does not make <see cref="JsonRequestGuard"/> check the body's shape.
    /// </summary>
    public static TBuilder DescribesJsonBody<TBuilder>(this TBuilder builder, Type body)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(body, null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
            };
        });

    /// <summary>Maps <see cref="Path"/> (a literal route: there is one document, and no other name reaches the generator).</summary>
    public static IEndpointConventionBuilder MapApiDocument(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapOpenApi(Path);
}
