using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Messaging;

namespace Agents.ToolGateway;

internal static class Extensions
{
    public static IHostApplicationBuilder AddToolGateway(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        return builder;
    }

    public static WebApplication MapToolGatewayApi(this WebApplication app)
    {
        return app;
    }
}
