using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Messaging;

namespace Agents.Memory;

internal static class Extensions
{
    public static IHostApplicationBuilder AddMemory(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        return builder;
    }

    public static WebApplication MapMemoryApi(this WebApplication app)
    {
        return app;
    }
}
