using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Sdk.Hosting;

namespace Agents.Tools.Web;

internal static class Extensions
{
    public const string HttpClientName = "web-fetch";

    public static IHostApplicationBuilder AddWebTool(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebFetchOptions>()
            .BindConfiguration(WebFetchOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<WebFetchOptions>, WebFetchOptionsValidator>();

        // Redirects are followed by the tool itself, so that every hop is checked against the allowlist.
        builder.Services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                UseCookies = false,
            });
        builder.AddPrincipalSigning();
        builder.AddAgentsTool<WebFetch>();
        builder.AddAgentsBus(x => x.AddAgentsTools());
        return builder;
    }

    /// <summary>The <c>migrate</c> step: the SDK's ledger (this tool keeps no other data).</summary>
    public static Task MigrateWebAsync(this IServiceProvider services, CancellationToken cancellationToken = default) =>
        services.MigrateAgentsToolLedgerAsync(cancellationToken);
}
