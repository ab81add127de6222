using System.Diagnostics;
using System.Globalization;
using Agents.Messaging.Benchmarks;
using Agents.Messaging.TestHost;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

// Usage: dotnet run -c Release --project benchmarks/Agents.Messaging.Benchmarks --
//          [burst [<messages>] | paced [<rate-per-second>] [<seconds>] | smoke] [--prefetch N] [--concurrency N] [--remove-sent] [--only <letters>]
//   burst (default, 5000): every message at once from 32 producers; throughput, latency is mostly backlog.
//   paced (default 100/s for 20 s): a fixed rate well under capacity; latency is the path itself.
//   --prefetch (default 64), --concurrency (Messaging:ConcurrentMessageLimit, default: the prefetch count),
//   --remove-sent (delete sent outbox rows instead of marking them delivered), --only <letters> (cases to run, e.g. "ab").
//   smoke: burst with 20 messages per case (seconds): every case's path, no figures worth reading; the messaging
//   tests run it (BenchmarkSmokeTests).
// Needs RabbitMQ and PostgreSQL on 127.0.0.1 (or AGENTS_TEST_RABBITMQ / AGENTS_TEST_POSTGRES). Creates and drops its own database and queues.
var positional = new List<string>();
int? prefetchArg = null, concurrencyArg = null;
var removeSent = false;
var only = "abcd";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--prefetch":
            prefetchArg = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--concurrency":
            concurrencyArg = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--remove-sent":
            removeSent = true;
            break;
        case "--only":
            only = args[++i];
            break;
        default:
            positional.Add(args[i]);
            break;
    }
}

var mode = positional.Count > 0 && !char.IsAsciiDigit(positional[0][0]) ? positional[0] : "burst";
var numbers = positional.SkipWhile(a => !char.IsAsciiDigit(a[0])).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
if (mode is not ("burst" or "paced" or "smoke"))
{
    await Console.Error.WriteLineAsync("usage: [burst [<messages>] | paced [<rate-per-second>] [<seconds>] | smoke] [--prefetch N] [--concurrency N] [--remove-sent] [--only <letters>]");
    return 2;
}

var smoke = mode == "smoke";
mode = smoke ? "burst" : mode;
var burstCount = smoke ? 20 : numbers.ElementAtOrDefault(0) is > 0 and var n ? n : 5000;
var rate = mode == "paced" && numbers.Length > 0 ? numbers[0] : 100;
var seconds = mode == "paced" && numbers.Length > 1 ? numbers[1] : 20;
var prefetch = prefetchArg ?? 64;

// The sweep is the fallback for rows this process did not send from memory. It is set far above any
// latency we expect, so a message that waited for the sweep instead of being sent right after its commit
// shows up as a latency of seconds (and the "> 1 s" column counts them).
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
var settings = new BenchSettings(postgres, rabbit, sweep, prefetch, concurrencyArg, removeSent);
await MessagingHost.CreateSchemaAsync(postgres);
var shape = $"prefetch {prefetch}, concurrency {concurrencyArg?.ToString(CultureInfo.InvariantCulture) ?? "= prefetch"}, sent rows {(removeSent ? "deleted" : "marked delivered")}, sweep {sweep.TotalSeconds:F0} s";
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; RabbitMQ and PostgreSQL on 127.0.0.1; load average before: {LoadAverage()}");
Console.WriteLine(mode == "burst"
    ? $"burst: {burstCount} messages per case, 32 producers; {shape}"
    : $"paced: {rate} msg/s for {seconds} s per case (after a 2 s warm-up at the same rate); {shape}");
Console.WriteLine("cpu ms/msg: this process only (bus, EF Core, consumers), PostgreSQL and RabbitMQ not included");
Console.WriteLine("xacts/msg: transactions the database committed (pg_stat_database), including the one-statement DISCARD ALL with which Npgsql resets a pooled connection on reuse (one per scope)");
Console.WriteLine(mode == "burst"
    ? $"{"case",-38} {"msg/s",7} {"p50 ms",8} {"p99 ms",8} {"cpu ms/msg",10} {"xacts/msg",9}"
    : $"{"case",-38} {"sent/s",7} {"p50 ms",8} {"p90 ms",8} {"p99 ms",8} {"max ms",8} {"> 1 s",6} {"cpu ms/msg",10} {"xacts/msg",9}");
try
{
    foreach (var kind in Enum.GetValues<Case>().Where(k => only.Contains((char)('a' + (int)k), StringComparison.Ordinal)))
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

    // PostgreSQL refuses a forced drop while an autovacuum worker is in the database (42501); it leaves within moments.
    for (var attempt = 1; ; attempt++)
    {
        try
        {
            await drop.ExecuteNonQueryAsync();
            break;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 50)
        {
            await Task.Delay(200);
        }
    }
}

Console.WriteLine($"load average after: {LoadAverage()}");
return 0;

async Task RunAsync(Case kind)
{
    var prefix = $"bench-{Guid.NewGuid():N}"[..14];
    var clock = new BenchClock();
    var commits = await CommitsAsync();
    var row = string.Empty;
    var messages = 0;
    using var durable = BenchHost.CreateDurable(settings, prefix, clock);
    using var plain = BenchHost.CreatePlain(settings, prefix, clock);
    await plain.StartAsync();
    await durable.StartAsync();
    try
    {
        var bus = durable.Services.GetRequiredService<IBusControl>();
        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        await plain.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        var scopes = durable.Services.GetRequiredService<IServiceScopeFactory>();
        var send = (Guid id) => SendOneAsync(kind, id, bus, scopes, clock);

        if (mode == "burst")
        {
            // Warm-up, not measured: enough messages for the JIT to finish with the path (tier-1 code), so the
            // figures are the steady state rather than compilation.
            var warmUp = Math.Max(1, Math.Min(500, burstCount / 10));
            await Task.WhenAll(Enumerable.Range(0, warmUp).Select(_ => send(Guid.NewGuid())));
            await WaitAsync(clock, warmUp);
            clock.Clear();

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
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
            var cpuPerMessage = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / burstCount;
            var latencies = clock.LatenciesMs();
            row = $"{Name(kind),-38} {burstCount / elapsed.Elapsed.TotalSeconds,7:F0} {Percentile(latencies, 0.50),8:F1} {Percentile(latencies, 0.99),8:F1} {cpuPerMessage,10:F2}";
            messages = warmUp + burstCount;
        }
        else
        {
            await PaceAsync(send, rate, rate * 2);
            await WaitAsync(clock, rate * 2);
            clock.Clear();

            var total = rate * seconds;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sendSeconds = await PaceAsync(send, rate, total);
            await WaitAsync(clock, total);
            var cpuPerMessage = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / total;
            var latencies = clock.LatenciesMs();
            row = $"{Name(kind),-38} {total / sendSeconds,7:F0} {Percentile(latencies, 0.50),8:F1} {Percentile(latencies, 0.90),8:F1} {Percentile(latencies, 0.99),8:F1} {latencies[^1],8:F1} {latencies.Count(l => l > 1000),6} {cpuPerMessage,10:F2}";
            messages = (rate * 2) + total;
        }
    }
    finally
    {
        await durable.StopAsync();
        await plain.StopAsync();
        await BenchHost.DeleteBrokerObjectsAsync(rabbit, prefix);
    }

    // Transactions per message over the whole case (start-up, warm-up and the measured messages).
    Console.WriteLine($"{row} {(double)(await CommitsAsync() - commits) / messages,9:F2}");
}

// Transactions committed in the benchmark's database so far. A backend publishes its counters when its session
// ends (or at most once a second while busy): the pools are closed first; the reading is in another database.
async Task<long> CommitsAsync()
{
    NpgsqlConnection.ClearAllPools();
    await Task.Delay(TimeSpan.FromSeconds(1.5));
    await using var connection = new NpgsqlConnection(server);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", connection);
    command.Parameters.Add(new NpgsqlParameter { Value = database });
    return (long)(await command.ExecuteScalarAsync())!;
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
            // Plain durable publish (confirmed by the broker) to a plain consumer: the clock starts at the publish call.
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

        case Case.Inbox:
            // Plain publish to a consumer that runs through the inbox (one transaction per message).
            clock.Started(id);
            await bus.Publish(new BenchInboxPing(id));
            break;
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
    Case.Plain => "a) plain publish -> plain consumer",
    Case.BusOutbox => "b) bus outbox -> plain consumer",
    Case.Inbox => "c) plain publish -> inbox consumer",
    _ => "d) inbox+outbox hop -> plain consumer",
};

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

internal enum Case
{
    Plain,
    BusOutbox,
    Inbox,
    Hop,
}
