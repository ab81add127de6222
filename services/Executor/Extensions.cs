using Agents.Contracts;
using Agents.Executor.Api;
using Agents.Executor.Consumers;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;
using Agents.Messaging;
using Agents.Messaging.Data;
using Agents.Models;
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
        builder.AddTenantAccess();
        builder.Services.AddOptions<ExecutorOptions>()
            .BindConfiguration(ExecutorOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddDbContext<ExecutorDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddExecutorRuntime();

        // The same names the bus gives its endpoints, so the API and the saga can address the executor's own queues.
        builder.Services.TryAddSingleton<IEndpointNameFormatter>(sp => BusConventions.EndpointNameFormatter(sp.GetRequiredService<IOptions<BusOptions>>().Value));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        builder.AddAgentsModels();

        // Inbox + outbox on every endpoint and the durable scheduler: a saga step, its event-log entries, the task
        // view and the messages it publishes or schedules (step and memory-recall timeouts) commit in one
        // transaction, and scheduled timeouts are rows in PostgreSQL that survive a restart.
        builder.Services.AddToolDiscovery();
        builder.AddAgentsBus(
            x =>
            {
                x.AddExecutorMessaging(saga => saga.AgentsRepository<ExecutorDbContext, TaskRunState>());
                x.AddAgentsDurableMessaging<ExecutorDbContext>();
            },
            ModelStepConsumer.ConfigureEndpoint);
        builder.Services.AddScoped<ITaskJournal, EfTaskJournal>();
        builder.Services.AddSingleton<TaskChangeFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TaskChangeFeed>());
        builder.Services.AddScoped<IToolCatalog, EfToolCatalog>();
        return builder;
    }

    /// <summary>Services the saga and the model worker need, independent of the transport (shared with the test harness).</summary>
    public static IServiceCollection AddExecutorRuntime(this IServiceCollection services)
    {
        services.AddSingleton(sp => new ExecutorEndpoints(sp));
        services.AddSingleton<ModelStepPrice>();
        return services;
    }

    /// <summary>
    /// The saga and consumers (shared with the test harness); <paramref name="repository"/> chooses where saga state
    /// lives (PostgreSQL in the service, in memory in the harness). The model worker's endpoint is configured by hand
    /// (<see cref="ModelStepConsumer.ConfigureEndpoint"/>).
    /// </summary>
    public static IBusRegistrationConfigurator AddExecutorMessaging(
        this IBusRegistrationConfigurator x,
        Action<ISagaRegistrationConfigurator<TaskRunState>> repository)
    {
        repository(x.AddSagaStateMachine<TaskRunStateMachine, TaskRunState>(typeof(TaskRunStateDefinition)));
        x.AddConsumer<ModelStepConsumer>().ExcludeFromConfigureEndpoints();
        x.AddRequestClient<ReserveModelBudget>();
        x.AddConsumer<ToolAnnouncedConsumer>();
        return x;
    }

    public static WebApplication MapExecutorApi(this WebApplication app)
    {
        app.MapTaskApi();
        return app;
    }

    /// <summary>Applies the EF Core migrations to the executor's database (the <c>migrate</c> argument).</summary>
    public static async Task MigrateExecutorDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ExecutorDbContext>().Database.ApplyMigrationsAsync(cancellationToken);
    }
}
