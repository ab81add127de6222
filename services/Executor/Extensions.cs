using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Messaging;

namespace Agents.Executor;

internal static class Extensions
{
    public static IHostApplicationBuilder AddExecutor(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        return builder;
    }

    public static WebApplication MapExecutorApi(this WebApplication app)
    {
        return app;
    }
}
