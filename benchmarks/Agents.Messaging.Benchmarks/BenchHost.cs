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

/// <summary>The message whose arrival is timed.</summary>
public sealed record BenchPing(Guid Id);

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

/// <summary>Runs through the inbox like every consumer of the host; records the arrival.</summary>
public sealed class BenchPingConsumer(BenchClock clock) : IConsumer<BenchPing>
{
    public Task Consume(ConsumeContext<BenchPing> context)
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

/// <summary>A generic host with the real bus conventions and durable messaging over <see cref="TestDbContext"/>.</summary>
public static class BenchHost
{
    public static IHost Create(string postgres, string rabbitMq, string queuePrefix, TimeSpan sweepInterval, int prefetch)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:RabbitMq"] = rabbitMq;
        builder.Configuration["Messaging:QueuePrefix"] = queuePrefix;
        builder.Configuration["Messaging:PrefetchCount"] = prefetch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BenchClock>();
        builder.Services.AddDbContext<TestDbContext>(o => o.UseNpgsql(postgres));
        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<BenchPingConsumer>();
            x.AddConsumer<BenchRelayConsumer>();
            x.AddAgentsDurableMessaging<TestDbContext>(o => o.SweepInterval = sweepInterval);
        });
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
}
