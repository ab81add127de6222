using System.Text.Json.Serialization;
using Agents.Contracts;
using Agents.Messaging;
using Agents.Messaging.Data;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Api;
using Agents.ToolGateway.Consumers;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.ToolGateway;

internal static class Extensions
{
    public static IHostApplicationBuilder AddToolGateway(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddPrincipalSigning();
        builder.AddTenantAccess();
        builder.Services.AddOptions<ToolGatewayOptions>()
            .BindConfiguration(ToolGatewayOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ToolGatewayOptions>, ToolGatewayOptionsValidator>();

        builder.Services.AddDbContext<ToolGatewayDbContext>((services, options) =>
            options.UseNpgsql(services.GetRequiredService<NpgsqlDataSource>()));

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddSingleton<ArgumentsValidator>();
        builder.Services.AddSingleton<ToolCircuitBreakers>();
        builder.Services.AddSingleton<OwnLateness>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OwnLateness>());
        builder.Services.AddSingleton<ToolLookup>();
        builder.Services.AddSingleton<ToolGatewayTelemetry>();
        builder.Services.AddScoped<ToolCallPipeline>();
        builder.Services.AddScoped<ToolCallRunner>();

        builder.Services.AddToolDiscovery();
        builder.AddAgentsBus(
            x =>
            {
                x.AddConsumer<ToolAnnouncedConsumer>();
                x.AddConsumer<InvokeToolConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<InvokeToolFaultConsumer>();
                x.AddConsumer<ToolCircuitResetConsumer>().ExcludeFromConfigureEndpoints();
                x.AddRequestClient<AuthorizeToolCall>();
                x.AddAgentsDurableMessaging<ToolGatewayDbContext>();
            },
            (context, cfg) =>
            {
                // Configured by hand so that the inbox (one transaction per message) is not put in front of it:
                // the call record is the message's idempotence, and the tool call runs with no transaction open.
                var bus = context.GetRequiredService<IOptions<BusOptions>>().Value;
                cfg.ReceiveEndpoint(InvokeToolConsumer.EndpointName(bus), e => e.ConfigureConsumer<InvokeToolConsumer>(context));
                cfg.ReceiveEndpoint(ToolCircuitResetConsumer.EndpointName(bus), e =>
                {
                    e.AutoDelete = true;
                    e.Durable = false;
                    e.ConfigureConsumer<ToolCircuitResetConsumer>(context);
                });
            });
        return builder;
    }

    public static WebApplication MapToolGatewayApi(this WebApplication app)
    {
        app.MapToolsApi();
        return app;
    }

    /// <summary>Applies the EF Core migrations to the configured database (the <c>migrate</c> command).</summary>
    public static async Task MigrateToolGatewayDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>().Database.ApplyMigrationsAsync(cancellationToken);
    }
}
