using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Messaging;

namespace Agents.Governance;

internal static class Extensions
{
    public static IHostApplicationBuilder AddGovernance(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        return builder;
    }

    public static WebApplication MapGovernanceApi(this WebApplication app)
    {
        return app;
    }
}
