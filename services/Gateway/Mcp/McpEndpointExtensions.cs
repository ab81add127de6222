using Agents.Gateway.Security;
using Agents.ServiceDefaults;
using ModelContextProtocol.Protocol;

namespace Agents.Gateway.Mcp;

/// <summary>The MCP endpoint (Streamable HTTP) at <see cref="Path"/>, behind the gateway's authentication.</summary>
internal static class McpEndpointExtensions
{
    public const string Path = "/mcp";

    public static IHostApplicationBuilder AddGatewayMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayMcpOptions>()
            .BindConfiguration(GatewayMcpOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddHttpClient(PlatformBackends.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton<PlatformBackends>();
        builder.Services.AddSingleton<PlatformMcpTools>();
        builder.Services.AddMcpServer(o => o.ServerInfo = new Implementation
        {
            Name = "agents-platform",
            Version = typeof(McpEndpointExtensions).Assembly.GetName().Version?.ToString(3) ?? "1.0.0",
        })
            // Stateless: any gateway replica can answer any request; nothing is kept between them.
            .WithHttpTransport(o => o.Stateless = true)
            .WithListToolsHandler((request, ct) => request.Services!.GetRequiredService<PlatformMcpTools>().ListAsync(request, ct))
            .WithCallToolHandler((request, ct) => request.Services!.GetRequiredService<PlatformMcpTools>().CallAsync(request, ct));
        return builder;
    }

    public static WebApplication MapGatewayMcp(this WebApplication app)
    {
        var endpoint = app.MapMcp(Path).RequireAuthorization(AuthenticationExtensions.PolicyName);

        // Origin is checked on every request of the endpoint (the MCP transport's guard against DNS rebinding).
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayMcpOptions>>().Value;
        endpoint.Add(builder =>
        {
            var inner = builder.RequestDelegate!;
            builder.RequestDelegate = context => context.Request.Headers.Origin is { Count: > 0 } origin && !OriginAllowed(origin.ToString(), options)
                ? ProblemResponses.WriteAsync(
                    context,
                    StatusCodes.Status403Forbidden,
                    "Origin not allowed",
                    $"Pages from '{origin}' may not call the MCP endpoint; allowed are this machine's own origins and Gateway:Mcp:AllowedOrigins.",
                    ProblemTypes.Forbidden)
                : inner(context);
        });
        var limits = app.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>()?.RateLimits;
        if (limits?.ContainsKey("tasks") == true)
        {
            endpoint.RequireRateLimiting("tasks");
        }

        return app;
    }

    /// <summary>True for an origin on this machine (localhost, 127.0.0.1, [::1]) or one listed in <see cref="GatewayMcpOptions.AllowedOrigins"/>.</summary>
    internal static bool OriginAllowed(string origin, GatewayMcpOptions options)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return false;
        }

        if (uri.IsLoopback || string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var normalized = uri.GetLeftPart(UriPartial.Authority);
        return options.AllowedOrigins.Any(a => Uri.TryCreate(a, UriKind.Absolute, out var allowed)
            && string.Equals(allowed.GetLeftPart(UriPartial.Authority), normalized, StringComparison.OrdinalIgnoreCase));
    }
}
