using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Agents.Messaging.TestHost;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Agents.Messaging.Benchmarks;

/// <summary>The message whose arrival is timed by a plain consumer (no inbox).</summary>
public sealed record BenchPing(Guid Id);

/// <summary>The message whose arrival is timed by a consumer running through the inbox.</summary>
public sealed record BenchInboxPing(Guid Id);

/// <summary>Consumed by <see cref="BenchRelayConsumer"/>, which publishes a <see cref="BenchPing"/> from its outbox.</summary>
public sealed record BenchRelay(Guid Id);

/// <summary>
/// Monotonic timestamps (<see cref="Stopwatch.GetTimestamp"/>) per message id: when the message
/// was committed (or published) and when its consumer ran. Producer and consumer share the process.
/// </summary>
public sealed class BenchClock
{
    private readonly ConcurrentDictionary<Guid, long> _started = new();
    private readonly ConcurrentDictionary<Guid, long> _consumed = new();

    public int ConsumedCount => _consumed.Count;

    public void Started(Guid id) => _started[id] = Stopwatch.GetTimestamp();

    public void Consumed(Guid id) => _consumed.TryAdd(id, Stopwatch.GetTimestamp());

    /// <summary>Milliseconds from start to consume of every message that has both, sorted.</summary>
    public double[] LatenciesMs() =>
        [.. _consumed
            .Select(c => _started.TryGetValue(c.Key, out var start) ? Stopwatch.GetElapsedTime(start, c.Value).TotalMilliseconds : double.NaN)
            .Where(l => !double.IsNaN(l))
            .Order()];

    public void Clear()
    {
        _started.Clear();
        _consumed.Clear();
    }
}

/// <summary>A plain consumer (no inbox, no database): records the arrival.</summary>
public sealed class BenchPingConsumer(BenchClock clock) : IConsumer<BenchPing>
{
    public Task Consume(ConsumeContext<BenchPing> context)
    {
        clock.Consumed(context.Message.Id);
        return Task.CompletedTask;
    }
}

/// <summary>Runs through the inbox (its own transaction with the inbox record); records the arrival.</summary>
public sealed class BenchInboxPingConsumer(BenchClock clock) : IConsumer<BenchInboxPing>
{
    public Task Consume(ConsumeContext<BenchInboxPing> context)
    {
        clock.Consumed(context.Message.Id);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The inbox+outbox hop: publishes <see cref="BenchPing"/> into its outbox; the row is committed
/// with the inbox record right after this method returns. The hop's clock starts here, so the
/// measured time includes that commit (an upper bound on commit-to-consume).
/// </summary>
public sealed class BenchRelayConsumer(BenchClock clock) : IConsumer<BenchRelay>
{
    public Task Consume(ConsumeContext<BenchRelay> context)
    {
        clock.Started(context.Message.Id);
        return context.Publish(new BenchPing(context.Message.Id));
    }
}

/// <summary>Settings of one benchmark run.</summary>
public sealed record BenchSettings(string Postgres, string RabbitMq, TimeSpan SweepInterval, int Prefetch, int? ConcurrentMessageLimit, bool RemoveSentRows);

/// <summary>Generic hosts with the real bus conventions (<c>AddAgentsBus</c>).</summary>
public static class BenchHost
{
    /// <summary>
    /// The durable side: durable messaging over <see cref="TestDbContext"/> (bus outbox for scopes, inbox and
    /// outbox on every endpoint), with the relay and the inbox consumer.
    /// </summary>
    public static IHost CreateDurable(BenchSettings settings, string queuePrefix, BenchClock clock)
    {
        var builder = Create(settings, queuePrefix, clock);
        builder.Services.AddDbContext<TestDbContext>(o => o.UseNpgsql(settings.Postgres));
        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<BenchRelayConsumer>();
            x.AddConsumer<BenchInboxPingConsumer>();
            x.AddAgentsDurableMessaging<TestDbContext>(o =>
            {
                o.SweepInterval = settings.SweepInterval;
                o.RemoveSentRows = settings.RemoveSentRows;
            });
        });
        return builder.Build();
    }

    /// <summary>The plain side: the same bus conventions without durable messaging, with the plain consumer.</summary>
    public static IHost CreatePlain(BenchSettings settings, string queuePrefix, BenchClock clock)
    {
        var builder = Create(settings, queuePrefix, clock);
        builder.AddAgentsBus(x => x.AddConsumer<BenchPingConsumer>());
        return builder.Build();
    }

    /// <summary>Deletes the queues and exchanges of one case, so later cases do not also fill them.</summary>
    public static async Task DeleteBrokerObjectsAsync(string rabbitMq, string prefix)
    {
        var vhost = Uri.EscapeDataString(Agents.ServiceDefaults.Configuration.ConnectionStrings.ParseRabbitMq(rabbitMq).VirtualHost);
        using var http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:15672/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("agents:agents")));
        foreach (var kind in new[] { "queues", "exchanges" })
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/{kind}/{vhost}?columns=name", UriKind.Relative)));
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                var name = item.GetProperty("name").GetString()!;
                if (name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    using var _ = await http.DeleteAsync(new Uri($"api/{kind}/{vhost}/{Uri.EscapeDataString(name)}", UriKind.Relative));
                }
            }
        }
    }

    private static HostApplicationBuilder Create(BenchSettings settings, string queuePrefix, BenchClock clock)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:RabbitMq"] = settings.RabbitMq;
        builder.Configuration["Messaging:QueuePrefix"] = queuePrefix;
        builder.Configuration["Messaging:PrefetchCount"] = settings.Prefetch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (settings.ConcurrentMessageLimit is { } limit)
        {
            builder.Configuration["Messaging:ConcurrentMessageLimit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(clock);
        return builder;
    }
}
