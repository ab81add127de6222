using System.Diagnostics;
using System.Globalization;
using Agents.Messaging.Benchmarks;
using Agents.Messaging.TestHost;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

// Usage: dotnet run -c Release --project benchmarks/Agents.Messaging.Benchmarks -- [burst [<messages>] | paced [<rate-per-second>] [<seconds>]]
//   burst (default, 5000): every message at once from 32 producers; throughput, latency is mostly backlog.
//   paced (default 100/s for 20 s): a fixed rate well under capacity; latency is the path itself.
// Needs the local infrastructure (infra/local.sh up). Creates and drops its own database and queues.
var mode = args.Length > 0 && !char.IsAsciiDigit(args[0][0]) ? args[0] : "burst";
var numbers = args.SkipWhile(a => !char.IsAsciiDigit(a[0])).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
if (mode is not ("burst" or "paced"))
{
    await Console.Error.WriteLineAsync("usage: [burst [<messages>] | paced [<rate-per-second>] [<seconds>]]");
    return 2;
}

var burstCount = numbers.ElementAtOrDefault(0) is > 0 and var n ? n : 5000;
var rate = mode == "paced" && numbers.Length > 0 ? numbers[0] : 100;
var seconds = mode == "paced" && numbers.Length > 1 ? numbers[1] : 20;

// The sweep is the fallback for rows this process did not commit. It is set far above any latency
// we expect, so a message that waited for the sweep instead of the wake-up after commit shows up
// as a latency of seconds (and the "> 1 s" column counts them).
var sweep = TimeSpan.FromSeconds(30);

// AGENTS_TEST_POSTGRES / AGENTS_TEST_RABBITMQ point it elsewhere (as for the tests), e.g. at a virtual host of one's own.
var server = Environment.GetEnvironmentVariable("AGENTS_TEST_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
var rabbit = Environment.GetEnvironmentVariable("AGENTS_TEST_RABBITMQ") ?? "amqp://agents:agents@127.0.0.1:5672/";
var database = $"bench_messaging_{Guid.NewGuid():N}"[..30];
await using (var admin = new NpgsqlConnection(server))
{
    await admin.OpenAsync();
    await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
    await create.ExecuteNonQueryAsync();
}

var postgres = new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = 50 }.ConnectionString;
await MessagingHost.CreateSchemaAsync(postgres);
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; RabbitMQ and PostgreSQL on 127.0.0.1; load average before: {LoadAverage()}");
Console.WriteLine(mode == "burst"
    ? $"burst: {burstCount} messages per case, 32 producers, prefetch 64, sweep {sweep.TotalSeconds:F0} s"
    : $"paced: {rate} msg/s for {seconds} s per case (after a 2 s warm-up at the same rate), prefetch 64, sweep {sweep.TotalSeconds:F0} s");
Console.WriteLine(mode == "burst"
    ? $"{"case",-30} {"msg/s",7} {"p50 ms",8} {"p99 ms",8}"
    : $"{"case",-30} {"sent/s",7} {"p50 ms",8} {"p90 ms",8} {"p99 ms",8} {"max ms",8} {"> 1 s",6}");
try
{
    foreach (var kind in new[] { Case.Plain, Case.BusOutbox, Case.Hop })
    {
        await RunAsync(kind);
    }
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var admin = new NpgsqlConnection(server);
    await admin.OpenAsync();
    await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
    await drop.ExecuteNonQueryAsync();
}

Console.WriteLine($"load average after: {LoadAverage()}");
return 0;

async Task RunAsync(Case kind)
{
    var prefix = $"bench-{Guid.NewGuid():N}"[..14];
    using var host = BenchHost.Create(postgres, rabbit, prefix, sweep, prefetch: 64);
    await host.StartAsync();
    try
    {
        var bus = host.Services.GetRequiredService<IBusControl>();
        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        var clock = host.Services.GetRequiredService<BenchClock>();
        var scopes = host.Services.GetRequiredService<IServiceScopeFactory>();
        var send = (Guid id) => SendOneAsync(kind, id, bus, scopes, clock);

        if (mode == "burst")
        {
            // Warm-up, not measured.
            await send(Guid.NewGuid());
            await WaitAsync(clock, 1);
            clock.Clear();

            var elapsed = Stopwatch.StartNew();
            using var gate = new SemaphoreSlim(32);
            await Task.WhenAll(Enumerable.Range(0, burstCount).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    await send(Guid.NewGuid());
                }
                finally
                {
                    gate.Release();
                }
            }));
            await WaitAsync(clock, burstCount);
            elapsed.Stop();
            var latencies = clock.LatenciesMs();
            Console.WriteLine($"{Name(kind),-30} {burstCount / elapsed.Elapsed.TotalSeconds,7:F0} {Percentile(latencies, 0.50),8:F1} {Percentile(latencies, 0.99),8:F1}");
        }
        else
        {
            await PaceAsync(send, rate, rate * 2);
            await WaitAsync(clock, rate * 2);
            clock.Clear();

            var total = rate * seconds;
            var sendSeconds = await PaceAsync(send, rate, total);
            await WaitAsync(clock, total);
            var latencies = clock.LatenciesMs();
            Console.WriteLine($"{Name(kind),-30} {total / sendSeconds,7:F0} {Percentile(latencies, 0.50),8:F1} {Percentile(latencies, 0.90),8:F1} {Percentile(latencies, 0.99),8:F1} {latencies[^1],8:F1} {latencies.Count(l => l > 1000),6}");
        }
    }
    finally
    {
        await host.StopAsync();
        await BenchHost.DeleteBrokerObjectsAsync(rabbit, prefix);
    }
}

// Starts one message every 1/rate seconds on a fixed schedule (each send runs on its own, so a slow
// send does not delay the next one); returns the seconds the schedule took.
static async Task<double> PaceAsync(Func<Guid, Task> send, int rate, int count)
{
    var sends = new List<Task>(count);
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < count; i++)
    {
        var due = TimeSpan.FromSeconds((double)i / rate) - clock.Elapsed;
        if (due > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(due);
        }

        sends.Add(Task.Run(() => send(Guid.NewGuid())));
    }

    await Task.WhenAll(sends);
    return Math.Max(clock.Elapsed.TotalSeconds, (double)count / rate);
}

static async Task SendOneAsync(Case kind, Guid id, IBus bus, IServiceScopeFactory scopes, BenchClock clock)
{
    switch (kind)
    {
        case Case.Plain:
            // Plain durable publish: the clock starts at the publish call (there is no commit).
            clock.Started(id);
            await bus.Publish(new BenchPing(id));
            break;
        case Case.BusOutbox:
        {
            // One unit of scoped work: the row and the message commit in one transaction; the clock starts when SaveChanges returns.
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
            db.Effects.Add(new Effect { Key = id, Kind = "bench", At = DateTime.UtcNow });
            await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new BenchPing(id));
            await db.SaveChangesAsync();
            clock.Started(id);
            break;
        }

        case Case.Hop:
            // The relay consumer (inbox+outbox) starts the clock and publishes BenchPing from its outbox.
            await bus.Publish(new BenchRelay(id));
            break;
        default:
            throw new ArgumentOutOfRangeException(nameof(kind));
    }
}

static async Task WaitAsync(BenchClock clock, int expected)
{
    var deadline = Stopwatch.StartNew();
    while (clock.ConsumedCount < expected)
    {
        if (deadline.Elapsed > TimeSpan.FromMinutes(3))
        {
            throw new TimeoutException($"only {clock.ConsumedCount} of {expected} messages consumed");
        }

        await Task.Delay(5);
    }
}

static string Name(Case kind) => kind switch
{
    Case.Plain => "a) plain publish (durable)",
    Case.BusOutbox => "b) bus outbox",
    _ => "c) consumer inbox+outbox hop",
};

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

internal enum Case
{
    Plain,
    BusOutbox,
    Hop,
}
