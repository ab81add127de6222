using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Executor.Data;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Tests;

/// <summary>
/// The executor is killed (SIGKILL of a child process running the real service) while a task waits on a tool, and
/// a new executor on the same database and queues finishes it: saga state, event log and scheduled timeouts live in
/// PostgreSQL, messages go through the durable inbox/outbox. The services around the executor are test doubles
/// (<see cref="StandInServices"/>); a queue prefix of its own (queues and exchanges) isolates each test on the broker.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private const string SigningKey = ExecutorApiFixture.SigningKey;

    private readonly string _prefix = TestInfrastructure.UniqueName("excrash");
    private readonly PrincipalSigner _signer = new(Options.Create(new IdentityOptions { SigningKey = SigningKey }), TimeProvider.System);
    private readonly AgentPrincipal _principal = new("tenant-crash", "user-1", ["agent-user"]);
    private TestDatabase? _database;
    private string _broker = string.Empty;
    private StandInServices? _standIns;

    public async Task InitializeAsync()
    {
        _broker = TestInfrastructure.RabbitMq;
        _database = await TestInfrastructure.CreateDatabaseAsync("excrash");
        await using (var db = CreateDb())
        {
            await db.Database.MigrateAsync();
        }

        _standIns = await StandInServices.StartAsync(_broker, _prefix);
    }

    public async Task DisposeAsync()
    {
        if (_standIns is not null)
        {
            await _standIns.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Task_waiting_on_a_tool_completes_after_the_executor_is_killed_and_each_tool_step_runs_once()
    {
        var standIns = _standIns!;
        standIns.HoldTool = call => call.StepId == "lookup";

        // 1. A first executor (child process) takes the task up to the tool call, which the tool-gateway double holds.
        Guid id;
        using (var first = await ExecutorProcess.StartAsync(Settings()))
        {
            using var client = ClientFor(first.BaseAddress);
            using var response = await client.PostAsJsonAsync(new Uri("/api/tasks", UriKind.Relative), new
            {
                steps = new object[]
                {
                    new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", argumentsJson = """{"customerId":"C-1"}""", dependsOn = Array.Empty<string>() },
                    new { id = "ticket", kind = "tool", tool = "tickets.create", argumentsJson = """{"subject":"for {{steps.lookup.output.name}}"}""", dependsOn = new[] { "lookup" } },
                },
            });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
            await WaitForTaskAsync(client, id, t => t["steps"]!.AsArray().Any(s => s!["id"]!.GetValue<string>() == "lookup" && s["status"]!.GetValue<string>() == "Running"), "lookup running");
            await standIns.WaitForInvocationAsync(id, "lookup", TimeSpan.FromSeconds(30));

            // 2. Crash: no graceful shutdown, nothing flushed.
            first.Kill();
        }

        // 3. A new executor on the same database and queues; the held answer arrives only now.
        await using var second = new ServiceFactory<Program>(Settings());
        using (var client = second.CreateClient())
        {
            await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        }

        var lookup = standIns.State.Invocations.Single(c => c.TaskId == id && c.StepId == "lookup");
        await standIns.CompleteAsync(lookup, """{"name":"Ada"}""");

        using var reader = second.CreateClient();
        reader.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, _signer.Sign(_principal));
        var task = await WaitForTaskAsync(reader, id, t => t["status"]!.GetValue<string>() == "Completed", "completed after restart");

        // 4. Each tool step was dispatched exactly once (no replay of the dispatched lookup, one ticket with the lookup's
        // output). Once no outbox row is left to send, everything sent is on the broker, and a marker call published after
        // it reaches the tool-gateway double last: every call is counted.
        await Poll.UntilAsync(
            async () =>
            {
                await using var outbox = CreateDb();
                return await outbox.Database.SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM messaging_outbox_message WHERE delivered IS NULL AND due_time IS NULL").SingleAsync() == 0;
            },
            TimeSpan.FromSeconds(30),
            "the executors' outbox to have sent every message");
        await standIns.DrainAsync();

        // The lookup's message, sent by the killed executor before it could mark it sent, is sent again by the next one
        // with the same message id (at least once; the tool-gateway answers it from its record): a replay of the step
        // would be a new message.
        var deliveries = standIns.State.Deliveries.Where(d => d.Call.TaskId == id).ToList();
        Assert.All(deliveries, d => Assert.NotNull(d.MessageId));
        var calls = deliveries.DistinctBy(d => d.MessageId).Select(d => d.Call).ToList();
        Assert.Equal(["lookup", "ticket"], calls.Select(c => c.StepId).Order().ToArray());
        Assert.Equal("""{"subject":"for Ada"}""", calls.Single(c => c.StepId == "ticket").ArgumentsJson);
        Assert.Equal("Ada", task["result"]!["lookup"]!["name"]!.GetValue<string>());

        // The event log was committed with the saga state: contiguous, and the task view and saga agree on its end.
        await using var db = CreateDb();
        var sequences = await db.TaskEvents.Where(e => e.TaskId == id).OrderBy(e => e.Sequence).Select(e => e.Sequence).ToListAsync();
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
        var saga = await db.TaskRuns.AsNoTracking().SingleAsync(r => r.CorrelationId == id);
        Assert.Equal(sequences[^1], saga.EventSequence);
        Assert.Equal(sequences[^1], task["events"]!.GetValue<long>());
        Assert.Equal(1, await db.TaskEvents.CountAsync(e => e.TaskId == id && e.Kind == "finished"));
    }

    [Fact]
    public async Task Step_timeout_scheduled_before_a_kill_fires_in_the_next_executor()
    {
        var standIns = _standIns!;
        standIns.HoldTool = call => call.StepId == "slow";
        var settings = Settings();
        settings["Executor:StepTimeout"] = "00:00:04";
        settings["Executor:MaxStepAttempts"] = "1";
        settings["Executor:MaxPlanRevisions"] = "0";

        Guid id;
        using (var first = await ExecutorProcess.StartAsync(settings))
        {
            using var client = ClientFor(first.BaseAddress);
            using var response = await client.PostAsJsonAsync(new Uri("/api/tasks", UriKind.Relative), new
            {
                steps = new[] { new { id = "slow", kind = "tool", tool = "web.fetch", argumentsJson = """{"url":"http://127.0.0.1/slow"}""", dependsOn = Array.Empty<string>() } },
            });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
            await standIns.WaitForInvocationAsync(id, "slow", TimeSpan.FromSeconds(30));
            first.Kill();
        }

        // The timeout is a pending outbox row with a due time, not a timer in the killed process.
        await using (var db = CreateDb())
        {
            Assert.True(await db.Database.SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM messaging_outbox_message WHERE delivered IS NULL AND due_time IS NOT NULL AND message_type LIKE '%StepTimedOut%'").SingleAsync() == 1);
        }

        await using var second = new ServiceFactory<Program>(settings);
        using var reader = second.CreateClient();
        reader.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, _signer.Sign(_principal));
        var task = await WaitForTaskAsync(reader, id, t => t["status"]!.GetValue<string>() == "Failed", "failed by the step timeout");
        Assert.Contains("did not finish within its timeout", task["steps"]![0]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["ConnectionStrings:Postgres"] = _database!.ConnectionString,
        ["ConnectionStrings:RabbitMq"] = _broker,
        ["Messaging:QueuePrefix"] = _prefix,
        ["Identity:SigningKey"] = SigningKey,
        ["Executor:StepTimeout"] = "00:05:00",
    };

    private ExecutorDbContext CreateDb() => new(new DbContextOptionsBuilder<ExecutorDbContext>().UseNpgsql(_database!.ConnectionString).Options);

    private HttpClient ClientFor(Uri baseAddress)
    {
        var client = new HttpClient { BaseAddress = baseAddress };
        client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, _signer.Sign(_principal));
        return client;
    }

    internal static async Task<JsonNode> WaitForTaskAsync(HttpClient client, Guid id, Func<JsonNode, bool> condition, string because)
    {
        JsonNode? task = null;
        await Poll.UntilAsync(
            async () => condition(task = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/tasks/{id}", UriKind.Relative)))!),
            () => $"task {id}: {because}. Last: {task?.ToJsonString()}",
            TimeSpan.FromSeconds(40));
        return task!;
    }

    /// <summary>The real executor (the service's own assembly, copied next to the tests) as a child process that can be killed.</summary>
    private sealed class ExecutorProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Queue<string> _output = new();

        private ExecutorProcess(Process process, Uri baseAddress)
        {
            _process = process;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        public static async Task<ExecutorProcess> StartAsync(IReadOnlyDictionary<string, string?> settings)
        {
            var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}");
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Agents.Executor.dll"));
            info.Environment["DOTNET_ENVIRONMENT"] = "Testing";
            info.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
            info.Environment["Urls"] = baseAddress.ToString();
            info.Environment["Logging__LogLevel__Default"] = "Warning";
            foreach (var (key, value) in settings)
            {
                info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
            }

            var child = new ExecutorProcess(Process.Start(info)!, baseAddress);
            child._process.OutputDataReceived += (_, e) => child.Remember(e.Data);
            child._process.ErrorDataReceived += (_, e) => child.Remember(e.Data);
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();

            using var http = new HttpClient { BaseAddress = baseAddress };
            try
            {
                await Poll.UntilAsync(
                    async () => child._process.HasExited || await IsReadyAsync(http),
                    () => $"the executor child process to become ready. Output:\n{child.Output()}",
                    TimeSpan.FromSeconds(60),
                    TimeSpan.FromMilliseconds(200));
            }
            catch
            {
                child.Dispose();
                throw;
            }

            if (!child._process.HasExited)
            {
                return child;
            }

            var output = child.Output();
            child.Dispose();
            throw new InvalidOperationException($"The executor child process exited before it became ready. Output:\n{output}");
        }

        private static async Task<bool> IsReadyAsync(HttpClient http)
        {
            try
            {
                using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                return ready.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
                return false;
            }
        }

        public void Kill()
        {
            _process.Kill(entireProcessTree: true);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException($"The executor child process {_process.Id} did not exit within 30 s of being killed.");
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Kill();
            }

            _process.Dispose();
        }

        private void Remember(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.Enqueue(line);
                if (_output.Count > 200)
                {
                    _output.Dequeue();
                }
            }
        }

        private string Output()
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
