using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

// Measures the platform started by `./dev.sh up`: tasks per minute for the 3-step template
// `lookup-and-summarize` (two tool calls and one model step; deterministic model; instant tools),
// the orchestration overhead per step, and what each task costs in CPU, database commits and
// broker messages. Bounded: it submits a fixed number of tasks and stops.
//
//   dotnet run -c Release --project benchmarks/Agents.Platform.Benchmarks -- [tasks=300] [concurrency=48]
var tasks = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 48;
var gateway = new Uri(Environment.GetEnvironmentVariable("AGENTS_GATEWAY") ?? "http://127.0.0.1:5000/");
var postgres = Environment.GetEnvironmentVariable("AGENTS_BENCH_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
var rabbitApi = new Uri(Environment.GetEnvironmentVariable("AGENTS_BENCH_RABBIT_API") ?? "http://127.0.0.1:15672/api/");

using var client = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(60) };
client.DefaultRequestHeaders.Add("X-Api-Key", Environment.GetEnvironmentVariable("AGENTS_BENCH_API_KEY") ?? "bench-admin-key");
using var rabbit = new HttpClient { BaseAddress = rabbitApi };
rabbit.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("agents:agents")));

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
Console.WriteLine($"Submitting {tasks} 'lookup-and-summarize' tasks, {concurrency} in flight at most...");

// Warm-up: one task end to end (JIT, connection pools, queues).
await RunOneAsync(0, CancellationToken.None);

var cpuBefore = CpuSeconds();
var processesBefore = CpuByProcess();
var commitsBefore = await CommitsAsync();
var messagesBefore = await PublishedAsync();
var results = new ConcurrentBag<TaskResult>();
var started = Stopwatch.StartNew();
using (var gate = new SemaphoreSlim(concurrency))
{
    await Task.WhenAll(Enumerable.Range(1, tasks).Select(async i =>
    {
        await gate.WaitAsync();
        try
        {
            results.Add(await RunOneAsync(i, CancellationToken.None));
        }
        finally
        {
            gate.Release();
        }
    }));
}

var elapsed = started.Elapsed;
var cpu = CpuSeconds() - cpuBefore;
var processesAfter = CpuByProcess();
var byProcess = processesAfter
    .Select(p => (Name: p.Key, Seconds: p.Value - processesBefore.GetValueOrDefault(p.Key)))
    .Where(p => p.Seconds > 0)
    .OrderByDescending(p => p.Seconds)
    .ToList();
var commits = await CommitsAsync() - commitsBefore;
var messages = await PublishedAsync() - messagesBefore;
var completed = results.Count(r => r.Status == "Completed");

var overheads = new List<double>();
foreach (var result in results.Where(r => r.Status == "Completed").Take(100))
{
    overheads.AddRange(await StepOverheadsAsync(result.Id));
}

overheads.Sort();
var latencies = results.Select(r => r.Latency.TotalMilliseconds).Order().ToList();
Console.WriteLine();
Console.WriteLine($"completed            {completed}/{tasks} ({string.Join(", ", results.GroupBy(r => r.Status).Select(g => $"{g.Key}: {g.Count()}"))})");
Console.WriteLine($"throughput           {completed / elapsed.TotalMinutes:F0} tasks/min ({elapsed.TotalSeconds:F1} s)");
Console.WriteLine($"task latency         p50 {Percentile(latencies, 0.5):F0} ms, p99 {Percentile(latencies, 0.99):F0} ms (submit to terminal, under load)");
Console.WriteLine($"orchestration/step   p50 {Percentile(overheads, 0.5):F1} ms, p99 {Percentile(overheads, 0.99):F1} ms (dispatch to recorded result, minus the tool's or model's own time; {overheads.Count} steps)");
Console.WriteLine($"per task             {cpu / tasks * 1000:F0} ms CPU (whole machine), {commits / (double)tasks:F1} PostgreSQL commits, {messages / (double)tasks:F1} broker publishes");
Console.WriteLine($"CPU per task by process: {string.Join(", ", byProcess.Select(p => $"{p.Name} {p.Seconds / tasks * 1000:F0} ms"))}");
Console.WriteLine($"machine              {Environment.ProcessorCount} cores, {Load()} load average after the run");
return completed == tasks ? 0 : 1;

async Task<TaskResult> RunOneAsync(int i, CancellationToken token)
{
    var clock = Stopwatch.StartNew();
    using var response = await client.PostAsJsonAsync("api/tasks", new
    {
        template = "lookup-and-summarize",
        parameters = new Dictionary<string, string> { ["customerId"] = $"C-100{(i % 5) + 1}" },
    }, token);
    var body = await response.Content.ReadAsStringAsync(token);
    if (!response.IsSuccessStatusCode)
    {
        return new TaskResult(Guid.Empty, $"HTTP {(int)response.StatusCode}", clock.Elapsed);
    }

    var id = JsonNode.Parse(body)!["id"]!.GetValue<Guid>();
    var delay = 50;
    while (clock.Elapsed < TimeSpan.FromMinutes(5))
    {
        await Task.Delay(delay, token);
        delay = Math.Min(delay * 2, 400);
        var task = JsonNode.Parse(await client.GetStringAsync(new Uri($"api/tasks/{id}", UriKind.Relative), token))!;
        var status = task["status"]!.GetValue<string>();
        if (status is "Completed" or "Failed" or "Cancelled" or "BudgetExceeded" or "Compensated" or "Rejected")
        {
            return new TaskResult(id, status, clock.Elapsed);
        }
    }

    return new TaskResult(id, "TimedOut", clock.Elapsed);
}

async Task<IEnumerable<double>> StepOverheadsAsync(Guid id)
{
    var log = JsonNode.Parse(await client.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative)))!;
    var dispatched = new Dictionary<string, DateTimeOffset>();
    var own = new Dictionary<string, double>();
    var overhead = new List<double>();
    foreach (var entry in log["events"]!.AsArray())
    {
        var step = entry!["stepId"]?.GetValue<string>();
        if (step is null)
        {
            continue;
        }

        var at = entry["at"]!.GetValue<DateTimeOffset>();
        switch (entry["kind"]!.GetValue<string>())
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

    return overhead;
}

async Task<long> CommitsAsync()
{
    await using var connection = new NpgsqlConnection(postgres);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT COALESCE(SUM(xact_commit), 0) FROM pg_stat_database WHERE datname LIKE 'agents_%'", connection);
    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}

async Task<long> PublishedAsync()
{
    // The management API refreshes its statistics every few seconds; wait for a fresh sample.
    await Task.Delay(TimeSpan.FromSeconds(6));
    var overview = JsonNode.Parse(await rabbit.GetStringAsync(new Uri("overview", UriKind.Relative)))!;
    return overview["message_stats"]?["publish"]?.GetValue<long>() ?? 0;
}

static double CpuSeconds()
{
    // /proc/stat: user nice system idle iowait irq softirq steal (in clock ticks of 1/100 s).
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
    var busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    return busy / 100.0;
}

// CPU seconds used so far by each process of the platform (utime + stime from /proc/<pid>/stat), by name:
// the .NET hosts by assembly, RabbitMQ, PostgreSQL (all backends together) and this benchmark.
static Dictionary<string, double> CpuByProcess()
{
    var result = new Dictionary<string, double>(StringComparer.Ordinal);
    foreach (var dir in Directory.EnumerateDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(dir), out _))
        {
            continue;
        }

        try
        {
            var command = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
            var name = command.FirstOrDefault(a => a.EndsWith(".dll", StringComparison.Ordinal)) is { } dll
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

static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

static double Percentile(List<double> sorted, double p) =>
    sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

internal sealed record TaskResult(Guid Id, string Status, TimeSpan Latency);

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
