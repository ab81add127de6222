using Agents.Executor.Api;
using Agents.Executor.Consumers;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Executor;

internal static class Extensions
{
    public static IHostApplicationBuilder AddExecutor(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddPrincipalSigning();
        builder.Services.AddOptions<ExecutorOptions>()
            .BindConfiguration(ExecutorOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddDbContext<ExecutorDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddExecutorRuntime();

        // The same names the bus gives its endpoints, so the API and the saga can address the executor's own queues.
        builder.Services.TryAddSingleton<IEndpointNameFormatter>(sp => BusConventions.EndpointNameFormatter(sp.GetRequiredService<IOptions<BusOptions>>().Value));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        builder.AddAgentsBus(
            x => x.AddExecutorMessaging(),

            // Timeouts (step, memory recall) are scheduled messages. Until the durable scheduler of the messaging
            // library is configured here, they are handed to a publish-based scheduler and are not delivered.
            (_, cfg) => cfg.UsePublishMessageScheduler());
        builder.Services.AddScoped<ITaskJournal, EfTaskJournal>();
        return builder;
    }

    /// <summary>Services the saga and the model worker need, independent of the transport (shared with the test harness).</summary>
    public static IServiceCollection AddExecutorRuntime(this IServiceCollection services)
    {
        services.AddSingleton<ToolCatalog>();
        services.AddSingleton(sp => new ExecutorEndpoints(sp));
        return services;
    }

    /// <summary>The saga and consumers (shared with the test harness).</summary>
    public static IBusRegistrationConfigurator AddExecutorMessaging(this IBusRegistrationConfigurator x)
    {
        x.AddSagaStateMachine<TaskRunStateMachine, TaskRunState>(typeof(TaskRunStateDefinition)).InMemoryRepository();
        x.AddConsumer<ModelStepConsumer>();
        x.AddConsumer<ToolAnnouncedConsumer>();
        return x;
    }

    public static WebApplication MapExecutorApi(this WebApplication app)
    {
        app.MapTaskApi();
        return app;
    }

    /// <summary>Applies the EF Core migrations to the executor's database (the <c>migrate</c> argument).</summary>
    public static async Task MigrateExecutorDatabaseAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ExecutorDbContext>().Database.MigrateAsync();
    }
}
