using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

// Measures the platform started by `./dev.sh up` with the 3-step template `lookup-and-summarize` (two tool calls,
// then one model step; deterministic model; instant tools):
//   1. saturated: <tasks> tasks, <concurrency> in flight: tasks/min, CPU per task (whole machine and by process),
//      PostgreSQL commits and broker publishes per task, orchestration overhead per step, task latency;
//   2. half load: tasks submitted at a fixed rate of half the saturated throughput for <seconds>: latency and
//      orchestration overhead when the platform is not the bottleneck;
//   3. overload: twice the saturated throughput for <seconds>: how many submissions were accepted (202) or refused
//      (429 with Retry-After), and whether every accepted task finished (lost must be 0).
// The benchmark waits for each task through its event stream (SSE), never by polling. Bounded in count and time.
//
//   4. chaos (runs=chaos, alone): for each of governance, planner, memory, tool-gateway and executor in turn, tasks
//      submitted at <tasks> per minute for <seconds> while that service is killed (SIGKILL) a quarter of the way in and
//      started again 10 s later with its own command line, directory and environment: every accepted task must still
//      complete (failed and lost must be 0). Submissions carry an Idempotency-Key and are sent again after a 502/503/504
//      (while the executor, which takes them, is down); how many were is printed.
//
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- [tasks=300] [concurrency=48] [seconds=60] [runs=all|saturated]
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- [rate=120] 0 [seconds=40] chaos [Service,Service…]
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- [tasks=300] [concurrency=48] 0 replicas [Executor,ToolGateway,Governance]
//     the saturated run with a second process of each named service (port + 10; Replicas): CPU of each process, and
//     whether any task recorded a step, tool call or model call twice or any tool was invoked twice for one call.
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- history [total=100000]
//     copies the rows of the tasks finished so far until the databases hold about <total> finished tasks of history
//     (HistorySeeder): run it between two saturated runs to see whether the cost of a task grows with history.
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- smoke
//     the saturated run with 3 tasks, 2 in flight (seconds): every path of the benchmark, no figures worth reading.
//     The end-to-end tests run it against the platform they start (PlatformBenchmarkSmokeTests).
if (args is ["history", ..])
{
    return await HistorySeeder.RunAsync(Meter.Postgres, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000);
}

var smoke = args is ["smoke", ..];
var tasks = smoke ? 3 : args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
var concurrency = smoke ? 2 : args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 48;
var pacedSeconds = smoke ? 0 : args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 60;
var runs = smoke ? "saturated" : args.Length > 3 ? args[3] : "all";
var gateway = new Uri(Environment.GetEnvironmentVariable("AGENTS_GATEWAY") ?? "http://127.0.0.1:5000/");

// The knowledge-base article the template fetches: the template's default (tool-web of ./dev.sh up) unless
// AGENTS_BENCH_ARTICLE names another, e.g. the tool-web of a platform started on other ports.
var article = Environment.GetEnvironmentVariable("AGENTS_BENCH_ARTICLE");

using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4096 }) { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(10) };
client.DefaultRequestHeaders.Add("X-Api-Key", Environment.GetEnvironmentVariable("AGENTS_BENCH_API_KEY") ?? "bench-admin-key");

// The benchmark runs in a tenant of its own ('bench', development key) whose policy it writes first: the
// template's tools for agent-user, the usual per-task limits, and no daily limits, so that repeated runs on
// one day measure the platform instead of being refused by the tenant's daily budget.
using (var policy = await client.PutAsync(new Uri("api/governance/policy", UriKind.Relative), new StringContent(BenchmarkTenant.Policy, Encoding.UTF8, "application/json")))
{
    if (!policy.IsSuccessStatusCode)
    {
        Console.Error.WriteLine($"Could not write the benchmark tenant's policy: HTTP {(int)policy.StatusCode} {await policy.Content.ReadAsStringAsync()}");
        return 2;
    }
}

Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {Load()} load average before the run; platform at {gateway}");

if (runs == "chaos")
{
    var chaosFailed = false;
    var services = args.Length > 4 ? args[4].Split(',') : ["Governance", "Planner", "Memory", "ToolGateway", "Executor"];
    foreach (var service in services)
    {
        var outcome = await RunWithOutageAsync(service, tasks, pacedSeconds, TimeSpan.FromSeconds(10));
        chaosFailed |= outcome.Lost > 0 || outcome.NotCompleted > 0;
    }

    return chaosFailed ? 1 : 0;
}

// runs=replicas: a second process of each of these services beside the first, for the saturated run.
await using var replicas = runs == "replicas"
    ? await Replicas.StartAsync(args.Length > 4 ? args[4].Split(',') : ["Executor", "ToolGateway", "Governance"], Meter.Postgres)
    : null;

// Warm-up: as many tasks as the run keeps in flight, end to end (JIT of the services and of this client, connection
// pools, queues); with replicas, as many as the run, unmeasured, for the second processes start cold.
if (replicas is null)
{
    await Task.WhenAll(Enumerable.Range(0, smoke ? 1 : Math.Max(4, Math.Min(concurrency, tasks))).Select(i => RunOneAsync(i)));
}
else
{
    Console.WriteLine($"  warm-up: {tasks} tasks, not measured");
    await RunSaturatedAsync(tasks, new ConcurrentBag<TaskResult>());
}

// 1. Saturated.
Console.WriteLine($"[saturated] {tasks} 'lookup-and-summarize' tasks, {concurrency} in flight at most...");
var meter = await Meter.StartAsync();
replicas?.MarkStart();
var results = new ConcurrentBag<TaskResult>();
var clock = Stopwatch.StartNew();
await RunSaturatedAsync(tasks, results);

var elapsed = clock.Elapsed;
var cost = await meter.StopAsync();
var completed = results.Count(r => r.Status == "Completed");
var throughput = completed / elapsed.TotalMinutes;
Console.WriteLine($"completed            {completed}/{tasks} ({string.Join(", ", results.GroupBy(r => r.Status).Select(g => $"{g.Key}: {g.Count()}"))})");
Console.WriteLine($"throughput           {throughput:F0} tasks/min ({elapsed.TotalSeconds:F1} s)");
await PrintLatenciesAsync(results);
Console.WriteLine($"per task             {cost.CpuSeconds / tasks * 1000:F1} ms CPU (whole machine), {cost.Commits(tasks)}, {cost.Publishes / (double)tasks:F1} broker publishes");
Console.WriteLine($"CPU per task, split  platform processes {cost.ByProcess.Sum(p => p.Seconds) / tasks * 1000:F1} ms (services, PostgreSQL, RabbitMQ), this benchmark's client {cost.ClientSeconds / tasks * 1000:F1} ms, the rest of the machine {(cost.CpuSeconds - cost.ByProcess.Sum(p => p.Seconds) - cost.ClientSeconds) / tasks * 1000:F1} ms");
Console.WriteLine($"CPU per task by process: {string.Join(", ", cost.ByProcess.Select(p => $"{p.Name} {p.Seconds / tasks * 1000:F1} ms"))}");
Console.WriteLine($"publishes per task by exchange: {string.Join(", ", cost.ByExchange.Select(e => $"{e.Name} {e.Count / (double)tasks:F2}"))}");
Console.WriteLine($"machine              {Environment.ProcessorCount} cores, {Load()} load average after the run");
var failed = completed != tasks;
if (replicas is not null)
{
    failed |= !await replicas.ReportAsync(results.Select(r => r.Id).ToList());
}

if (runs == "all")
{
    // 2. Half of the saturated rate.
    var half = await RunPacedAsync("half load", throughput / 2, pacedSeconds);
    failed |= half.Lost > 0 || half.NotCompleted > 0;

    // 3. Twice the saturated rate.
    var over = await RunPacedAsync("overload (2x)", throughput * 2, pacedSeconds);
    failed |= over.Lost > 0 || over.NotCompleted > 0;
}

return failed ? 1 : 0;

// <count> tasks, <concurrency> in flight at most.
async Task RunSaturatedAsync(int count, ConcurrentBag<TaskResult> into)
{
    using var gate = new SemaphoreSlim(concurrency);
    await Task.WhenAll(Enumerable.Range(1, count).Select(async i =>
    {
        await gate.WaitAsync();
        try
        {
            into.Add(await RunOneAsync(i));
        }
        finally
        {
            gate.Release();
        }
    }));
}

async Task<PacedResult> RunPacedAsync(string name, double perMinute, int seconds)
{
    var count = Math.Max(1, (int)(perMinute * seconds / 60));
    var interval = TimeSpan.FromMinutes(1) / perMinute;
    Console.WriteLine();
    Console.WriteLine($"[{name}] {perMinute:F0} tasks/min for {seconds} s ({count} tasks, one every {interval.TotalMilliseconds:F1} ms)...");
    var paced = new ConcurrentBag<TaskResult>();
    var running = new List<Task>(count);
    var start = Stopwatch.GetTimestamp();
    var lateness = new List<double>();
    for (var i = 0; i < count; i++)
    {
        var due = interval * i;
        var wait = due - Stopwatch.GetElapsedTime(start);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        else
        {
            lateness.Add(-wait.TotalMilliseconds);
        }

        var n = 10_000 + i;
        running.Add(Task.Run(async () => paced.Add(await RunOneAsync(n))));
    }

    await Task.WhenAll(running);
    var accepted = paced.Count(r => r.Id != Guid.Empty);
    var refused = paced.Count(r => r.Status == "HTTP 429");
    var withRetryAfter = paced.Count(r => r.Status == "HTTP 429" && r.RetryAfter);
    var other = paced.Where(r => r.Id == Guid.Empty && r.Status != "HTTP 429").GroupBy(r => r.Status).Select(g => $"{g.Key}: {g.Count()}").ToList();
    var notCompleted = paced.Count(r => r.Id != Guid.Empty && r.Status != "Completed");
    var lost = paced.Count(r => r.Status == "TimedOut");
    var resent = paced.Where(r => r.Resent > 0).ToList();
    Console.WriteLine($"submissions          {count}: {accepted} accepted (202), {refused} refused with 429 ({withRetryAfter} with Retry-After){(other.Count > 0 ? ", other: " + string.Join(", ", other) : string.Empty)}");
    if (resent.Count > 0)
    {
        Console.WriteLine($"                     {resent.Count} sent again with their Idempotency-Key after 502/503/504 ({resent.Sum(r => r.Resent)} times), {resent.Count(r => r.Id != Guid.Empty)} of them then accepted");
    }

    Console.WriteLine($"accepted tasks       {accepted - notCompleted} completed, {notCompleted} not completed, {lost} lost (no end within 10 min)");
    Console.WriteLine($"submitter            {lateness.Count} submissions behind schedule{(lateness.Count > 0 ? $" (max {lateness.Max():F0} ms)" : string.Empty)}");
    await PrintLatenciesAsync(paced);
    Console.WriteLine($"machine              {Load()} load average after the run");
    return new PacedResult(lost, notCompleted);
}

async Task<PacedResult> RunWithOutageAsync(string service, double perMinute, int seconds, TimeSpan outage)
{
    var victim = ServiceProcess.Find($"Agents.{service}.dll");
    if (victim is null)
    {
        Console.WriteLine($"[outage of {service}] no running process of Agents.{service}.dll; skipped");
        return new PacedResult(0, 0);
    }

    var chaos = Task.Run(async () =>
    {
        await Task.Delay(TimeSpan.FromSeconds(seconds / 4.0));
        victim.Kill();
        Console.WriteLine($"  {service} killed (pid {victim.Pid}) at {DateTime.UtcNow:HH:mm:ss}");
        await Task.Delay(outage);
        var pid = victim.Restart();
        Console.WriteLine($"  {service} started again (pid {pid}) at {DateTime.UtcNow:HH:mm:ss}");
    });
    var result = await RunPacedAsync($"outage of {service} for {outage.TotalSeconds:F0} s", perMinute, seconds);
    await chaos;
    return result;
}

async Task PrintLatenciesAsync(IEnumerable<TaskResult> finished)
{
    // Read after the measured window: latency is the task's own submitted → finished time (server clock).
    var done = finished.Where(r => r.Status == "Completed").ToList();
    var latencies = new List<double>();
    var overheads = new List<double>();
    foreach (var result in done.Take(200))
    {
        var (latency, steps) = await TaskTimingsAsync(result.Id);
        latencies.Add(latency);
        overheads.AddRange(steps);
    }

    latencies.Sort();
    overheads.Sort();
    Console.WriteLine($"task latency         p50 {Percentile(latencies, 0.5):F0} ms, p99 {Percentile(latencies, 0.99):F0} ms (submitted to finished; {latencies.Count} tasks)");
    Console.WriteLine($"orchestration/step   p50 {Percentile(overheads, 0.5):F1} ms, p99 {Percentile(overheads, 0.99):F1} ms (dispatch to recorded result, minus the tool's or model's own time; {overheads.Count} steps)");
}

// Submits one task with an Idempotency-Key, as a careful client does: a 502/503/504 (a service down for a moment) is
// sent again with the same key after its Retry-After, for up to a minute; a 429 is reported as refused.
async Task<TaskResult> RunOneAsync(int i)
{
    var key = Guid.NewGuid().ToString("N");
    var resent = 0;
    var giveUp = Stopwatch.StartNew();
    while (true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/tasks")
        {
            Content = JsonContent.Create(new
            {
                template = "lookup-and-summarize",
                parameters = article is null
                    ? new Dictionary<string, string> { ["customerId"] = $"C-100{(i % 5) + 1}" }
                    : new Dictionary<string, string> { ["customerId"] = $"C-100{(i % 5) + 1}", ["article"] = article },
            }),
        };
        request.Headers.Add("Idempotency-Key", key);
        HttpResponseMessage response;
        string body;
        try
        {
            response = await client.SendAsync(request);
            body = await response.Content.ReadAsStringAsync();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException && giveUp.Elapsed < TimeSpan.FromMinutes(1))
        {
            // The connection broke under the request: its outcome is unknown, so it is sent again with the same key.
            resent++;
            await Task.Delay(TimeSpan.FromSeconds(1));
            continue;
        }

        using var answer = response;
        if ((int)response.StatusCode is 502 or 503 or 504 && giveUp.Elapsed < TimeSpan.FromMinutes(1))
        {
            resent++;
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
            continue;
        }

        if (!response.IsSuccessStatusCode)
        {
            return new TaskResult(Guid.Empty, $"HTTP {(int)response.StatusCode}", response.Headers.RetryAfter is not null, resent);
        }

        var id = JsonNode.Parse(body)!["id"]!.GetValue<Guid>();
        return new TaskResult(id, await WaitForEndAsync(id), false, resent);
    }
}

// Reads the task's event stream until its "finished" entry; reconnects (resuming after the last event id) if the
// stream ends early. Gives up after 10 minutes.
async Task<string> WaitForEndAsync(Guid id)
{
    using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
    var last = 0L;
    while (!deadline.IsCancellationRequested)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"api/tasks/{id}/events");
            if (last > 0)
            {
                request.Headers.Add("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
            }

            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), deadline.Token);
                continue;
            }

            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(deadline.Token));
            string? kind = null;
            while (await reader.ReadLineAsync(deadline.Token) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    last = long.Parse(line[4..], CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    kind = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && kind == "finished")
                {
                    return JsonNode.Parse(line[6..])!["status"]!.GetValue<string>();
                }
            }
        }
        catch (HttpRequestException) when (!deadline.IsCancellationRequested)
        {
            await Task.Delay(500, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            break;
        }
    }

    return "TimedOut";
}

// A read after the measured window, waiting out the gateway's rate limit (429 with Retry-After) if it answers one.
async Task<JsonNode> ReadAsync(string path)
{
    while (true)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
            continue;
        }

        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }
}

async Task<(double Latency, List<double> StepOverheads)> TaskTimingsAsync(Guid id)
{
    var log = await ReadAsync($"api/tasks/{id}/log");
    var dispatched = new Dictionary<string, DateTimeOffset>();
    var own = new Dictionary<string, double>();
    var overhead = new List<double>();
    DateTimeOffset? first = null;
    DateTimeOffset? end = null;
    foreach (var entry in log["events"]!.AsArray())
    {
        var at = entry!["at"]!.GetValue<DateTimeOffset>();
        first ??= at;
        var kind = entry["kind"]!.GetValue<string>();
        if (kind == "finished")
        {
            end = at;
        }

        var step = entry["stepId"]?.GetValue<string>();
        if (step is null)
        {
            continue;
        }

        switch (kind)
        {
            case "step-dispatched":
                dispatched[step] = at;
                break;
            case "tool-call" or "model-call":
                own[step] = entry["data"]?["durationMs"]?.GetValue<double>() ?? 0;
                break;
            case "step-succeeded" when dispatched.TryGetValue(step, out var start):
                overhead.Add(Math.Max(0, (at - start).TotalMilliseconds - own.GetValueOrDefault(step)));
                break;
        }
    }

    var task = await ReadAsync($"api/tasks/{id}");
    var created = task["createdAt"]!.GetValue<DateTimeOffset>();
    var latency = ((end ?? first ?? created) - created).TotalMilliseconds;
    return (latency, overhead);
}

static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

static double Percentile(List<double> sorted, double p) =>
    sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

internal sealed record TaskResult(Guid Id, string Status, bool RetryAfter, int Resent = 0);

internal sealed record PacedResult(int Lost, int NotCompleted);

/// <summary>
/// What a measured window cost: machine CPU (/proc/stat), CPU by process (/proc/&lt;pid&gt;/stat), PostgreSQL commits and
/// RabbitMQ publishes. Commits are counted two ways: write transactions, from the commit records in the WAL between the
/// window's start and end (pg_waldump; reads, such as the event streams' queries, write none), and every transaction
/// of the platform's databases (pg_stat_database, reads included).
/// </summary>
internal sealed class Meter
{
    internal static readonly string Postgres = Environment.GetEnvironmentVariable("AGENTS_BENCH_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
    private static readonly Uri RabbitApi = new(Environment.GetEnvironmentVariable("AGENTS_BENCH_RABBIT_API") ?? "http://127.0.0.1:15672/api/");
    private static readonly string RabbitVirtualHost = Environment.GetEnvironmentVariable("AGENTS_BENCH_RABBIT_VHOST") ?? "/";
    private static readonly string WalDirectory = Environment.GetEnvironmentVariable("AGENTS_BENCH_PG_WAL") ?? "/var/lib/postgresql/15/main/pg_wal";

    private double _cpu;
    private double _client;
    private Dictionary<string, double> _processes = [];
    private long _transactions;
    private long _publishes;
    private Dictionary<string, long> _byExchange = [];
    private string _lsn = string.Empty;

    public static async Task<Meter> StartAsync()
    {
        // Episodes of earlier runs still waiting to be embedded would be counted against this one.
        await WaitForEmbeddingsAsync(TimeSpan.FromMinutes(5));
        var meter = new Meter { _publishes = await PublishedAsync() };
        meter._byExchange = await PublishedByExchangeAsync();
        meter._transactions = await TransactionsAsync();
        meter._lsn = await LsnAsync();
        meter._cpu = CpuSeconds();
        meter._client = Environment.CpuUsage.TotalTime.TotalSeconds;
        meter._processes = CpuByProcess();
        return meter;
    }

    public async Task<Cost> StopAsync()
    {
        // Episodes are embedded in the background, behind the tasks under saturation: their CPU belongs to the tasks.
        var drained = await WaitForEmbeddingsAsync(TimeSpan.FromMinutes(2));
        if (drained is { } waited)
        {
            Console.WriteLine($"episodes             embedded {waited.TotalSeconds:F1} s after the last task finished (their CPU is counted below)");
        }

        var cpu = CpuSeconds() - _cpu;
        var client = Environment.CpuUsage.TotalTime.TotalSeconds - _client;
        var byProcess = CpuByProcess()
            .Select(p => (Name: p.Key, Seconds: p.Value - _processes.GetValueOrDefault(p.Key)))
            .Where(p => p.Seconds > 0)
            .OrderByDescending(p => p.Seconds)
            .ToList();
        var end = await LsnAsync();
        var transactions = await TransactionsAsync() - _transactions;
        var writes = WriteCommits(_lsn, end, await PlatformDatabasesAsync());
        var publishes = await PublishedAsync() - _publishes;
        var byExchange = (await PublishedByExchangeAsync())
            .Select(e => (Name: e.Key, Count: e.Value - _byExchange.GetValueOrDefault(e.Key)))
            .Where(e => e.Count > 0)
            .OrderByDescending(e => e.Count)
            .ToList();
        return new Cost(cpu, client, byProcess, writes, transactions, publishes, byExchange);
    }

    /// <summary>Waits until memory has no episode left to embed; how long that took, or null where memory's database is not readable.</summary>
    private static async Task<TimeSpan?> WaitForEmbeddingsAsync(TimeSpan limit)
    {
        var database = new NpgsqlConnectionStringBuilder(Postgres) { Database = Environment.GetEnvironmentVariable("AGENTS_BENCH_MEMORY_DB") ?? "agents_memory" };
        var clock = Stopwatch.StartNew();
        try
        {
            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT count(*) FROM memories WHERE embedding IS NULL AND stale_at IS NULL AND (expires_at IS NULL OR expires_at > now())", connection);
            while (Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) > 0 && clock.Elapsed < limit)
            {
                await Task.Delay(250);
            }

            return clock.Elapsed;
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }

    private static async Task<long> TransactionsAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(SUM(xact_commit), 0) FROM pg_stat_database WHERE datname LIKE 'agents_%'", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<string> LsnAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_current_wal_insert_lsn()::text", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Commit records in the WAL between two positions of transactions that wrote to the platform's databases
    /// (<c>agents_*</c>: a transaction belongs to the database of the first relation it changed), or null when
    /// pg_waldump cannot read them. Other databases on the same server (tests, other work) are not counted.
    /// </summary>
    private static long? WriteCommits(string start, string end, IReadOnlySet<string> databases)
    {
        var tool = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pg_waldump")).FirstOrDefault(File.Exists) : null;
        if (tool is null || !Directory.Exists(WalDirectory))
        {
            return null;
        }

        try
        {
            using var process = Process.Start(new ProcessStartInfo(tool, ["-p", WalDirectory, "-s", start, "-e", end])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var databaseOf = new Dictionary<string, string>(StringComparer.Ordinal);
            var commits = new List<string>();
            while (process.StandardOutput.ReadLine() is { } line)
            {
                var tx = WalField(line, "tx: ", ',');
                if (tx is null or "0")
                {
                    continue;
                }

                if (line.Contains("desc: COMMIT", StringComparison.Ordinal))
                {
                    commits.Add(tx);
                }
                else if (!databaseOf.ContainsKey(tx) && WalField(line, "rel ", ' ') is { } relation && relation.Split('/') is [_, var database, _])
                {
                    databaseOf[tx] = database;
                }
            }

            process.WaitForExit();
            return commits.Count(tx => databaseOf.TryGetValue(tx, out var database) && databases.Contains(database));
        }
        catch (Exception ex) when (ex is IOException or System.ComponentModel.Win32Exception or FormatException)
        {
            return null;
        }
    }

    private static string? WalField(string line, string name, char end)
    {
        var at = line.IndexOf(name, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var value = line.AsSpan(at + name.Length).TrimStart();
        var stop = value.IndexOf(end);
        return (stop < 0 ? value : value[..stop]).Trim().ToString();
    }

    private static async Task<IReadOnlySet<string>> PlatformDatabasesAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT oid::text FROM pg_database WHERE datname LIKE 'agents_%'", connection);
        var result = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    private static async Task<long> PublishedAsync()
    {
        // The management API refreshes its statistics every few seconds; wait for a fresh sample.
        await Task.Delay(TimeSpan.FromSeconds(6));
        using var rabbit = new HttpClient { BaseAddress = RabbitApi };
        rabbit.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("agents:agents")));
        // The platform's virtual host only: other work on the same broker is not the platform's cost.
        var vhost = JsonNode.Parse(await rabbit.GetStringAsync(new Uri($"vhosts/{Uri.EscapeDataString(RabbitVirtualHost)}", UriKind.Relative)))!;
        return vhost["message_stats"]?["publish"]?.GetValue<long>() ?? 0;
    }

    // Messages published into each exchange of the platform's virtual host (the default exchange, "", is where sends to a
    // queue and responses go).
    private static async Task<Dictionary<string, long>> PublishedByExchangeAsync()
    {
        using var rabbit = new HttpClient { BaseAddress = RabbitApi };
        rabbit.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("agents:agents")));
        var exchanges = JsonNode.Parse(await rabbit.GetStringAsync(new Uri($"exchanges/{Uri.EscapeDataString(RabbitVirtualHost)}?columns=name,message_stats", UriKind.Relative)))!.AsArray();
        return exchanges.ToDictionary(
            e => e!["name"]!.GetValue<string>() is { Length: > 0 } name ? name : "(default)",
            e => e!["message_stats"]?["publish_in"]?.GetValue<long>() ?? 0);
    }

    private static double CpuSeconds()
    {
        // /proc/stat: user nice system idle iowait irq softirq steal (in clock ticks of 1/100 s).
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        var busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
        return busy / 100.0;
    }

    /// <summary>utime + stime of the process at <paramref name="procDirectory"/> (/proc/&lt;pid&gt;), and with
    /// <paramref name="withEndedChildren"/> cutime + cstime too, in seconds.</summary>
    internal static double ProcessCpuSeconds(string procDirectory, bool withEndedChildren)
    {
        var stat = File.ReadAllText(Path.Combine(procDirectory, "stat"));
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Skip(11).Take(withEndedChildren ? 4 : 2).Sum(f => long.Parse(f, CultureInfo.InvariantCulture)) / 100.0;
    }

    // CPU seconds used so far by each process of the platform (utime + stime from /proc/<pid>/stat), by name: the
    // platform's .NET hosts (Agents.*.dll) by assembly, RabbitMQ and PostgreSQL (all backends together). Other .NET
    // processes (builds, test hosts, this benchmark) are not the platform's.
    private static Dictionary<string, double> CpuByProcess()
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            // This benchmark's own CPU is the client's (Environment.CpuUsage), not the platform's.
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var command = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                // With cutime + cstime: a PostgreSQL backend that ended (a pooled connection closed) leaves its CPU to
                // the postmaster's children's times, not to a process that is still there to be read.
                var seconds = ProcessCpuSeconds(dir, withEndedChildren: true);
                var name = command.FirstOrDefault(a => a.EndsWith(".dll", StringComparison.Ordinal)) is { } dll
                    && Path.GetFileName(dll).StartsWith("Agents.", StringComparison.Ordinal)
                    ? Path.GetFileNameWithoutExtension(dll).Replace("Agents.", string.Empty, StringComparison.Ordinal)
                    : command.Length == 0 ? null
                    : command[0].Contains("beam", StringComparison.Ordinal) ? "rabbitmq"
                    : command[0].StartsWith("postgres", StringComparison.Ordinal) || command[0].Contains("/postgres", StringComparison.Ordinal) ? "postgresql"
                    : null;
                if (name is not null)
                {
                    result[name] = result.GetValueOrDefault(name) + seconds;
                }
            }
            catch (IOException)
            {
                // The process ended while it was read.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read.
            }
        }

        return result;
    }
}

internal sealed record Cost(double CpuSeconds, double ClientSeconds, List<(string Name, double Seconds)> ByProcess, long? WriteCommits, long Transactions, long Publishes, List<(string Name, long Count)> ByExchange)
{
    public string Commits(int tasks) =>
        (WriteCommits is { } writes ? $"{writes / (double)tasks:F1} PostgreSQL write commits" : "write commits n/a (pg_waldump)")
        + $" ({Transactions / (double)tasks:F1} transactions including reads)";
}

internal static class BenchmarkTenant
{
    /// <summary>The policy of the benchmark's tenant, written before every run.</summary>
    public const string Policy = """
        {
          "enabled": true,
          "adminRole": "admin",
          "approverRoles": ["approver"],
          "roles": {
            "agent-user": { "tools": ["crm.lookup-customer", "web.fetch"], "scopes": ["crm.*", "web.*"] },
            "admin": { "tools": ["*"], "scopes": ["*"] }
          },
          "budgets": {
            "perTask": { "tokens": 50000, "cost": 1.0, "toolCalls": 25, "steps": 25, "wallClockSeconds": 900 },
            "perUserPerDay": { "tokens": null, "cost": null, "toolCalls": null },
            "perTenantPerDay": { "tokens": null, "cost": null, "toolCalls": null }
          }
        }
        """;
}

/// <summary>
/// A running service process that can be killed and started again as it was: its command line, working directory,
/// environment and output file are read from /proc before the kill; dev.sh's pid file follows the new process.
/// </summary>
internal sealed class ServiceProcess
{
    private ServiceProcess(int pid, string[] command, string directory, Dictionary<string, string> environment, string? output)
    {
        Pid = pid;
        Command = command;
        Directory = directory;
        Environment = environment;
        Output = output;
    }

    public int Pid { get; private set; }

    /// <summary>The loopback port of the service's <c>--urls</c>.</summary>
    public int Port =>
        Command.Where(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal))
            .Select(a => int.Parse(a["http://127.0.0.1:".Length..].TrimEnd('/'), CultureInfo.InvariantCulture))
            .FirstOrDefault() is var port and > 0 ? port : throw new InvalidOperationException($"Process {Pid} has no --urls http://127.0.0.1:<port>.");

    private string[] Command { get; }

    private string Directory { get; }

    private Dictionary<string, string> Environment { get; }

    private string? Output { get; }

    public static ServiceProcess? Find(string dll)
    {
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                var command = File.ReadAllText($"{entry}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
                if (command.Length < 2 || Path.GetFileName(command[0]) != "dotnet" || !command.Any(a => a == dll || a.EndsWith("/" + dll, StringComparison.Ordinal)))
                {
                    continue;
                }

                var environment = File.ReadAllText($"{entry}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
                    .Select(v => v.Split('=', 2)).Where(v => v.Length == 2).ToDictionary(v => v[0], v => v[1]);
                // Only this checkout's platform (dev.sh runs each service from its bin folder), not test hosts elsewhere.
                var directory = new DirectoryInfo($"{entry}/cwd").LinkTarget ?? ".";
                if (!directory.StartsWith(System.Environment.CurrentDirectory + "/", StringComparison.Ordinal))
                {
                    continue;
                }

                var output = new FileInfo($"{entry}/fd/1").LinkTarget;
                return new ServiceProcess(pid, command, directory, environment, output is not null && output.StartsWith('/') && File.Exists(output) ? output : null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    public void Kill()
    {
        using var process = Process.GetProcessById(Pid);
        process.Kill();
        process.WaitForExit();
    }

    /// <summary>
    /// Starts a second process of the service as this one runs (command line, directory, environment), listening on
    /// <paramref name="port"/> instead, with its output in <paramref name="output"/>.
    /// </summary>
    public Process StartReplica(int port, string output)
    {
        var command = Command.Select(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal) ? $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : a).ToArray();
        return Start(command, output);
    }

    /// <summary>Starts the service again (appending to its output file) and returns the new pid.</summary>
    public int Restart()
    {
        using var process = Start(Command, Output ?? "/dev/null");
        var old = Pid;
        Pid = process.Id;

        // Keep dev.sh's pid file (found under .run/pids of the working directory or the repository) pointing at it.
        foreach (var pids in new[] { Path.Combine(System.Environment.CurrentDirectory, ".run", "pids") }.Where(System.IO.Directory.Exists))
        {
            foreach (var file in System.IO.Directory.EnumerateFiles(pids, "*.pid"))
            {
                if (File.ReadAllText(file).Trim() == old.ToString(CultureInfo.InvariantCulture))
                {
                    File.WriteAllText(file, Pid.ToString(CultureInfo.InvariantCulture) + "\n");
                }
            }
        }

        return Pid;
    }

    private Process Start(string[] command, string output)
    {
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = Directory, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >>\"$AGENTS_CHAOS_OUTPUT\" 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var argument in command)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["AGENTS_CHAOS_OUTPUT"] = output;
        return Process.Start(start)!;
    }
}
