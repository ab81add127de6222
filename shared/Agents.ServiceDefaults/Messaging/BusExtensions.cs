using Agents.ServiceDefaults.Configuration;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>Registers MassTransit over RabbitMQ with the project's conventions.</summary>
public static class BusExtensions
{
    /// <summary>Most messages a batch consumer takes at once (below the endpoints' prefetch count of 32).</summary>
    public const int BatchMessageLimit = 16;

    /// <summary>How long a batch consumer waits for more messages after the first one of a batch.</summary>
    public static readonly TimeSpan BatchTimeLimit = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Registers a consumer of <c>Batch&lt;T&gt;</c>: under load it takes up to <see cref="BatchMessageLimit"/> messages
    /// in one inbox transaction (one commit for all of them); alone, a message waits at most <see cref="BatchTimeLimit"/>.
    /// One batch at a time per process, so that batches do not contend with each other for the rows they lock. For
    /// bookkeeping that no run waits for (audit entries, usage, finished tasks), never for a step of a run.
    /// </summary>
    public static IConsumerRegistrationConfigurator<TConsumer> AddAgentsBatchConsumer<TConsumer>(this IBusRegistrationConfigurator configurator)
        where TConsumer : class, IConsumer =>
        configurator.AddConsumer<TConsumer>(c => c.Options<BatchOptions>(o => o
            .SetMessageLimit(BatchMessageLimit)
            .SetTimeLimit(BatchTimeLimit)
            .SetConcurrencyLimit(1)));

    /// <summary>
    /// Adds the message bus. <paramref name="configure"/> registers consumers, sagas and the
    /// durable-messaging pieces; endpoints are configured by convention.
    /// </summary>
    public static IHostApplicationBuilder AddAgentsBus(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? configure = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureRabbitMq = null)
    {
        builder.Services.AddOptions<BusOptions>()
            .BindConfiguration(BusOptions.Section)
            .Configure<IConfiguration>((o, c) => o.RabbitMq = c[ConnectionStrings.RabbitMqKey])
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BusOptions>, BusOptionsValidator>();

        // The endpoint names are needed while registering; read them from configuration now.
        var startupOptions = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();

        builder.Services.AddOptions<MassTransitHostOptions>().Configure(o =>
        {
            // Start serving HTTP (and health) while the broker connection is being established.
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(30);
        });

        builder.Services.AddMassTransit(x =>
        {
            x.SetEndpointNameFormatter(BusConventions.EndpointNameFormatter(startupOptions));
            x.AddOptions<UsageTelemetryOptions>().Configure<IOptions<BusOptions>>((telemetry, bus) => telemetry.Enabled = bus.Value.UsageTelemetry);
            configure?.Invoke(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                var options = context.GetRequiredService<IOptions<BusOptions>>().Value;
                var broker = ConnectionStrings.ParseRabbitMq(options.RabbitMq);
                cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
                {
                    h.Username(broker.Username);
                    h.Password(broker.Password);
                    h.RequestedConnectionTimeout(TimeSpan.FromSeconds(5));
                    if (broker.UseTls)
                    {
                        h.UseSsl(s => s.ServerName = broker.Host);
                    }
                });
                cfg.PrefetchCount = options.PrefetchCount;
                BusConventions.Apply(cfg, options);
                configureRabbitMq?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }
}
