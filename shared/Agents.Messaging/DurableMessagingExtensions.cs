using Agents.Messaging.Inbox;
using Agents.Messaging.Outbox;
using Agents.Messaging.Retention;
using Agents.Messaging.Sagas;
using Agents.Messaging.Scheduling;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using MassTransit.Saga;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Agents.Messaging.DeadLetters;

namespace Agents.Messaging;

/// <summary>Registers durable messaging on PostgreSQL for a service's bus.</summary>
public static class DurableMessagingExtensions
{
    /// <summary>
    /// Adds, over <typeparamref name="TDbContext"/> (whose model calls <c>AddAgentsMessaging()</c>):
    /// the bus outbox for scoped work, the consumer inbox and outbox on every endpoint configured by
    /// convention, the delivery service, the durable scheduler (<see cref="IMessageScheduler"/> in
    /// scopes and <c>Schedule</c>/<c>Request</c> in state machines) and retention cleanup.
    /// Call inside <c>AddAgentsBus(x =&gt; ...)</c>.
    /// </summary>
    public static IBusRegistrationConfigurator AddAgentsDurableMessaging<TDbContext>(
        this IBusRegistrationConfigurator configurator,
        Action<DurableMessagingOptions>? configure = null)
        where TDbContext : DbContext
    {
        var services = (IServiceCollection)configurator;
        var optionsBuilder = services.AddOptions<DurableMessagingOptions>();
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        optionsBuilder.BindConfiguration(DurableMessagingOptions.Section);

        optionsBuilder.Validate(o => o.DeliveryBatchSize > 0 && o.SweepInterval > TimeSpan.Zero && o.RetentionWindow > TimeSpan.Zero
                && o.RetentionInterval > TimeSpan.Zero && o.RetentionBatchSize > 0 && o.SendTimeout > TimeSpan.Zero
                && o.SweepGracePeriod > TimeSpan.Zero && o.BacklogInterval > TimeSpan.Zero && o.DeliveryConcurrency > 0 && o.DeliveryQueueCapacity > 0,
            "Durable messaging: batch sizes, concurrency, capacities, intervals, timeouts, the grace period and the retention window must be positive.")
            .Validate(o => o.SettleInterval >= TimeSpan.Zero && o.SettleInterval * 2 <= o.SweepGracePeriod,
                "Durable messaging: SettleInterval must be from zero to half of SweepGracePeriod (a confirmed row must be settled before another replica's sweep may take it).")
            .Validate(o => o.AdditionalRetention.All(r => r.Problem is null), "Durable messaging: a retention rule names an invalid table or column, or has a window that is not positive.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OutboxSignal>();
        services.Replace(ServiceDescriptor.Scoped<IScopedBusContextProvider<IBus>, BusOutboxContextProvider<TDbContext>>());
        services.TryAddScoped<IOutboxContextFactory<TDbContext>, InboxOutboxContextFactory<TDbContext>>();
        services.TryAddScoped<IMessageScheduler>(sp => new MessageScheduler(
            new DurableScheduleMessageProvider(sp.GetRequiredService<ISendEndpointProvider>(), sp.GetRequiredService<TDbContext>()),
            sp.GetRequiredService<IBus>().Topology));
        services.AddAgentsDeadLetters();
        services.TryAddSingleton<OutboxDeliveryService<TDbContext>>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxDeliveryService<TDbContext>>());
        services.TryAddSingleton<MessagingRetentionService<TDbContext>>();
        services.AddHostedService(sp => sp.GetRequiredService<MessagingRetentionService<TDbContext>>());
        services.TryAddSingleton<Monitoring.OutboxBacklogMonitor<TDbContext>>();
        services.AddHostedService(sp => sp.GetRequiredService<Monitoring.OutboxBacklogMonitor<TDbContext>>());

        configurator.AddConfigureEndpointsCallback((context, _, endpoint) => endpoint.UseAgentsInbox<TDbContext>(context));
        return configurator;
    }

    /// <summary>
    /// Puts the inbox and outbox in front of every consumer and saga of a receive endpoint. Done for
    /// every endpoint by <see cref="AddAgentsDurableMessaging{TDbContext}"/>; call it yourself only
    /// for endpoints configured by hand.
    /// </summary>
    public static void UseAgentsInbox<TDbContext>(this IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
        where TDbContext : DbContext
    {
        var observer = new OutboxConsumePipeSpecificationObserver<TDbContext>(endpoint, context);
        endpoint.ConnectConsumerConfigurationObserver(observer);
        endpoint.ConnectSagaConfigurationObserver(observer);
    }

    /// <summary>
    /// Measures the messages in every queue of the platform (work, <c>_error</c> and <c>_skipped</c> queues) through the
    /// RabbitMQ management API at <c>Messaging:QueueMetrics:ManagementUrl</c>, as the gauge
    /// <see cref="MessagingMetrics.QueueMessagesName"/>. Nothing runs while the URL is not set. Add it to one service
    /// only, so that each queue is reported once.
    /// </summary>
    public static IServiceCollection AddAgentsQueueMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<Monitoring.QueueMetricsOptions>().BindConfiguration(Monitoring.QueueMetricsOptions.Section)
            .Validate(o => o.Interval > TimeSpan.Zero, "Messaging:QueueMetrics:Interval must be positive.")
            .Validate(o => o.ManagementUrl is null || o.ManagementUrl.IsAbsoluteUri, "Messaging:QueueMetrics:ManagementUrl must be an absolute http(s) URL.")
            .ValidateOnStart();
        if (configuration[Monitoring.QueueMetricsOptions.Section + ":ManagementUrl"] is { Length: > 0 })
        {
            services.TryAddSingleton(TimeProvider.System);
            services.AddHttpClient<Monitoring.QueueDepthMonitor>(http => http.Timeout = TimeSpan.FromSeconds(10));
            services.AddHostedService(sp => sp.GetRequiredService<Monitoring.QueueDepthMonitor>());
        }

        return services;
    }

    /// <summary>
    /// Stores the saga's instances in <typeparamref name="TDbContext"/> with optimistic concurrency;
    /// map the state with <see cref="SagaModelBuilderExtensions.HasXminConcurrencyToken{TSaga}"/>.
    /// </summary>
    public static ISagaRegistrationConfigurator<TSaga> AgentsRepository<TDbContext, TSaga>(this ISagaRegistrationConfigurator<TSaga> configurator)
        where TSaga : class, ISaga
        where TDbContext : DbContext
    {
        configurator.Repository(r =>
            r.RegisterSagaRepository<TSaga, DbContext, SagaConsumeContextFactory<DbContext, TSaga>, SagaRepositoryContextFactory<TDbContext, TSaga>>());
        return configurator;
    }
}
