using Agents.Gateway.Security;
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
        var limits = app.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>()?.RateLimits;
        if (limits?.ContainsKey("tasks") == true)
        {
            endpoint.RequireRateLimiting("tasks");
        }

        return app;
    }
}
