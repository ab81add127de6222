using Agents.ServiceDefaults;

namespace Agents.Gateway;

internal static class Extensions
{
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        builder.Services.AddHttpClient(BackendsHealthCheck.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(2));
        builder.Services.AddHealthChecks()
            .AddCheck<BackendsHealthCheck>("backends", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.MapReverseProxy();
        return app;
    }
}
