using Scalar.AspNetCore;

namespace Agents.Gateway.ApiReference;

/// <summary>The platform's API reference: the aggregated OpenAPI document and the interactive page at <see cref="DocsPath"/>.</summary>
internal static class ApiReferenceExtensions
{
    public const string DocsPath = "/docs";

    public static IHostApplicationBuilder AddApiReference(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiDocumentAggregator>();
        return builder;
    }

    /// <summary>
    /// Both are public (they describe routes, not data) and served from this process only: the page's script is the
    /// one embedded in Scalar.AspNetCore, and its fonts, telemetry and AI features (which would call outside hosts) are off.
    /// </summary>
    public static WebApplication MapApiReference(this WebApplication app)
    {
        app.MapGet(ApiDocumentAggregator.Path, async (ApiDocumentAggregator aggregator, CancellationToken cancellationToken) =>
                Results.Json(await aggregator.BuildAsync(cancellationToken), contentType: "application/json"))
            .ExcludeFromDescription();
        app.MapScalarApiReference(DocsPath, options => options
            .WithTitle("Agents platform API")
            .WithOpenApiRoutePattern(ApiDocumentAggregator.Path)
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp()
            .AddPreferredSecuritySchemes(ApiDocumentAggregator.ApiKeyScheme)
            .AddApiKeyAuthentication(ApiDocumentAggregator.ApiKeyScheme, _ => { }));
        return app;
    }
}
