using Agents.Messaging;
using Agents.Messaging.Data;
using Agents.Models;
using Agents.Planner.Api;
using Agents.Planner.Catalog;
using Agents.Planner.Consumers;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Agents.Planner.Templates;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner;

internal static class Extensions
{
    public static IHostApplicationBuilder AddPlanner(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddPrincipalSigning();
        builder.Services.AddOptions<PlannerOptions>()
            .BindConfiguration(PlannerOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddDbContext<PlannerDbContext>((services, options) =>
            options.UseNpgsql(services.GetRequiredService<Npgsql.NpgsqlDataSource>()));

        // The keyed "planner" chat client from Models:Planner; offline it answers with the keyword planner.
        builder.AddAgentsModels();
        builder.Services.AddDeterministicResponder<PlanningResponder>();

        builder.Services.AddScoped<ToolCatalog>();
        builder.Services.AddScoped<TemplateStore>();
        builder.Services.AddScoped<ModelPlanner>();
        builder.Services.AddScoped<PlanningService>();

        builder.Services.AddToolDiscovery();
        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<CreatePlanConsumer>();
            x.AddConsumer<RevisePlanConsumer>();
            x.AddConsumer<ToolAnnouncedConsumer>();
            x.AddConsumer<ValidateTaskDefinitionConsumer>();

            // Inbox + outbox on every endpoint: a redelivered message never plans twice, and the answer
            // leaves only after the plan version is committed.
            x.AddAgentsDurableMessaging<PlannerDbContext>();
        });
        return builder;
    }

    public static WebApplication MapPlannerApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").RequireAgentPrincipal();
        api.MapTemplateApi();
        api.MapPlanApi();
        return app;
    }

    /// <summary>Applies the EF Core migrations and seeds the built-in templates (the <c>migrate</c> step).</summary>
    public static async Task MigratePlannerDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlannerDbContext>();
        await db.Database.ApplyMigrationsAsync(cancellationToken);
        await scope.ServiceProvider.GetRequiredService<TemplateStore>().SeedAsync(cancellationToken);
    }
}
