using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Agents.Messaging.TestHost;

/// <summary>What a test host runs.</summary>
public sealed class HostSettings
{
    public bool Consumers { get; set; } = true;

    public bool Saga { get; set; }

    public bool Ping { get; set; }

    /// <summary>Adds the batch consumer of <c>Tally</c> (up to 20 messages or 300 ms per batch).</summary>
    public bool Batches { get; set; }

    public bool DeliveryEnabled { get; set; } = true;

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public int DeliveryBatchSize { get; set; } = 100;

    public bool DurableMessaging { get; set; } = true;

    public int? PrefetchCount { get; set; }

    /// <summary>How old an unscheduled outbox row must be before the sweep takes it (the library's default when null).</summary>
    public TimeSpan? SweepGracePeriod { get; set; }

    /// <summary>How long confirmations gather before sent rows are settled (the library's default when null).</summary>
    public TimeSpan? SettleInterval { get; set; }

    /// <summary>Delete sent outbox rows instead of marking them delivered.</summary>
    public bool RemoveSentRows { get; set; }

    /// <summary>
    /// After every message's consumers have run and committed, print <c>COMMITTED</c> and never return, so the
    /// message is never acknowledged: a kill then lands between handling and acknowledging.
    /// </summary>
    public bool HoldAfterConsume { get; set; }
}

/// <summary>Builds a generic host with the real bus conventions (<c>AddAgentsBus</c>) and durable messaging.</summary>
public static class MessagingHost
{
    public static IHost Create(string postgres, string rabbitMq, string queuePrefix, Action<HostSettings>? configure = null)
    {
        var settings = new HostSettings();
        configure?.Invoke(settings);

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:RabbitMq"] = rabbitMq;
        builder.Configuration["Messaging:QueuePrefix"] = queuePrefix;
        builder.Configuration["Messaging:Retry:Limit"] = "1";
        builder.Configuration["Messaging:Retry:MinInterval"] = "00:00:00.050";
        builder.Configuration["Messaging:Retry:MaxInterval"] = "00:00:00.100";
        builder.Configuration["Messaging:Retry:IntervalDelta"] = "00:00:00.010";
        if (settings.PrefetchCount is { } prefetch)
        {
            builder.Configuration["Messaging:PrefetchCount"] = prefetch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PoisonSwitch>();
        builder.Services.AddSingleton<LatencyLog>();
        builder.Services.AddSingleton<BatchLog>();
        builder.Services.AddDbContext<TestDbContext>(o => o.UseNpgsql(postgres));
        builder.AddAgentsBus(x =>
        {
            if (settings.Consumers)
            {
                x.AddConsumer<DoWorkConsumer>();
                x.AddConsumer<ReminderConsumer>();
                x.AddConsumer<PoisonConsumer>();
                x.AddConsumer<ForwardConsumer>();
            }

            if (settings.Ping)
            {
                x.AddConsumer<PingConsumer>();
                x.AddConsumer<RelayConsumer>();
            }

            if (settings.Batches)
            {
                x.AddConsumer<TallyBatchConsumer>(c => c.Options<BatchOptions>(o => o.SetMessageLimit(20).SetTimeLimit(TimeSpan.FromMilliseconds(300))));
            }

            if (settings.Saga)
            {
                x.AddSagaStateMachine<CounterStateMachine, CounterState>().AgentsRepository<TestDbContext, CounterState>();
            }

            if (settings.DurableMessaging)
            {
                x.AddAgentsDurableMessaging<TestDbContext>(o =>
                {
                    o.DeliveryEnabled = settings.DeliveryEnabled;
                    o.SweepInterval = settings.SweepInterval;
                    o.DeliveryBatchSize = settings.DeliveryBatchSize;
                    o.RemoveSentRows = settings.RemoveSentRows;
                    if (settings.SweepGracePeriod is { } grace)
                    {
                        o.SweepGracePeriod = grace;
                    }

                    if (settings.SettleInterval is { } settle)
                    {
                        o.SettleInterval = settle;
                    }
                });
            }
        },
        (_, cfg) =>
        {
            if (settings.HoldAfterConsume)
            {
                cfg.UseFilter(new HoldAfterConsumeFilter());
            }
        });
        return builder.Build();
    }

    /// <summary>Creates the tables of <see cref="TestDbContext"/> (tests use a fresh database each).</summary>
    public static async Task CreateSchemaAsync(string postgres)
    {
        var options = new DbContextOptionsBuilder<TestDbContext>().UseNpgsql(postgres).Options;
        await using var db = new TestDbContext(options);
        await db.Database.EnsureCreatedAsync();
    }
}
