using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Messaging;

namespace Agents.Planner;

internal static class Extensions
{
    public static IHostApplicationBuilder AddPlanner(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        return builder;
    }

    public static WebApplication MapPlannerApi(this WebApplication app)
    {
        return app;
    }
}
