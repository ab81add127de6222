using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Sdk.Hosting;

namespace Agents.Tools.Sample;

internal static class Extensions
{
    public static IHostApplicationBuilder AddSampleTool(this IHostApplicationBuilder builder)
    {
        builder.AddPrincipalSigning();                 // the gateway's signed principal, for the dead-letter API
        builder.AddAgentsTool<CountWords>();           // one line per tool
        builder.AddAgentsBus(x => x.AddAgentsTools());  // a queue consumer per registered tool
        return builder;
    }
}
