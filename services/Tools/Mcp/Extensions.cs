using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Sdk.Hosting;

namespace Agents.Tools.Mcp;

internal static class Extensions
{
    /// <summary>The MCP servers of <c>Mcp:Servers</c>, their tools offered as runtime tools.</summary>
    public static IHostApplicationBuilder AddMcpTools(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<McpOptions>()
            .BindConfiguration(McpOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<McpOptions>, McpOptionsValidator>();
        builder.Services.AddSingleton<McpBridge>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<McpBridge>());
        // A server's read-only hint is its own claim, not something this host can check: its "read-only" calls keep the
        // ledger (once per key, the stored result replayed) unless Tools:LedgerReadOnlyCalls says otherwise.
        builder.Services.Configure<ToolHostOptions>(options => options.LedgerReadOnlyCalls = true);
        builder.AddPrincipalSigning();
        builder.AddAgentsRuntimeTools();
        builder.AddAgentsBus(x => x.AddAgentsTools());
        return builder;
    }

    /// <summary>The <c>migrate</c> step: the SDK's ledger (the host keeps no other data).</summary>
    public static Task MigrateMcpAsync(this IServiceProvider services, CancellationToken cancellationToken = default) =>
        services.MigrateAgentsToolLedgerAsync(cancellationToken);
}
