using System.Diagnostics;
using Agents.Messaging.TestHost;
using Agents.Messaging.TestHost.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

// Usage: dotnet run -c Release --project benchmarks/Agents.Messaging.Benchmarks [-- <messages>]
// Needs the local infrastructure (infra/local.sh up). Creates and drops its own database and queues.
var count = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5000;
const string server = "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
const string rabbit = "amqp://agents:agents@127.0.0.1:5672/";
var database = $"bench_messaging_{Guid.NewGuid():N}"[..30];
await using (var admin = new NpgsqlConnection(server))
{
    await admin.OpenAsync();
    await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
    await create.ExecuteNonQueryAsync();
}

var postgres = new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = 50 }.ConnectionString;
await MessagingHost.CreateSchemaAsync(postgres);
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; RabbitMQ and PostgreSQL on 127.0.0.1; {count} messages per case");
Console.WriteLine($"{"case",-34} {"msg/s",8} {"p50 ms",8} {"p99 ms",8}");
try
{
    await RunAsync("a) plain publish (durable)", plain: true, hop: false);
    await RunAsync("b) bus outbox", plain: false, hop: false);
    await RunAsync("c) consumer inbox+outbox hop", plain: false, hop: true);
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var admin = new NpgsqlConnection(server);
    await admin.OpenAsync();
    await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
    await drop.ExecuteNonQueryAsync();
}

return 0;

async Task RunAsync(string name, bool plain, bool hop)
{
    var prefix = $"bench-{Guid.NewGuid():N}"[..14];
    using var host = MessagingHost.Create(postgres, rabbit, prefix, s =>
    {
        s.Consumers = false;
        s.Ping = true;
        s.PrefetchCount = 64;
    });
    await host.StartAsync();
    var bus = host.Services.GetRequiredService<IBusControl>();
    await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
    var log = host.Services.GetRequiredService<LatencyLog>();
    var time = host.Services.GetRequiredService<TimeProvider>();
    var scopes = host.Services.GetRequiredService<IServiceScopeFactory>();

    // Warm-up, not measured.
    await bus.Publish(new Ping(Guid.NewGuid(), time.GetUtcNow().UtcDateTime));
    await WaitAsync(log, 1);
    log.Clear();

    var clock = Stopwatch.StartNew();
    using var gate = new SemaphoreSlim(32);
    var work = Enumerable.Range(0, count).Select(async _ =>
    {
        await gate.WaitAsync();
        try
        {
            if (plain)
            {
                await bus.Publish(new Ping(Guid.NewGuid(), time.GetUtcNow().UtcDateTime));
                return;
            }

            if (hop)
            {
                // The relay consumer (inbox+outbox) publishes Ping as it commits; latency is its commit to Ping's consume.
                await bus.Publish(new Relay(Guid.NewGuid()));
                return;
            }

            // One unit of scoped work per message: the row and the message commit in one transaction.
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
            var id = Guid.NewGuid();
            db.Effects.Add(new Effect { Key = id, Kind = "bench", At = time.GetUtcNow().UtcDateTime });
            await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new Ping(id, time.GetUtcNow().UtcDateTime));

            await db.SaveChangesAsync();
        }
        finally
        {
            gate.Release();
        }
    }).ToList();
    await Task.WhenAll(work);
    await WaitAsync(log, count);
    clock.Stop();

    var latencies = log.Snapshot().Select(l => l.TotalMilliseconds).Order().ToArray();
    Console.WriteLine($"{name,-34} {count / clock.Elapsed.TotalSeconds,8:F0} {Percentile(latencies, 0.50),8:F1} {Percentile(latencies, 0.99),8:F1}");
    await host.StopAsync();
}

static async Task WaitAsync(LatencyLog log, int expected)
{
    var deadline = Stopwatch.StartNew();
    while (log.Count < expected)
    {
        if (deadline.Elapsed > TimeSpan.FromMinutes(2))
        {
            throw new TimeoutException($"only {log.Count} of {expected} messages consumed");
        }

        await Task.Delay(5);
    }
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
