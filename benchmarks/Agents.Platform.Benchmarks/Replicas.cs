using System.Diagnostics;
using System.Globalization;
using Npgsql;

/// <summary>
/// The saturated run with a second process of some services (<c>runs=replicas</c>): each is started as the running one
/// was (command line, directory, environment) on its port + 10, and must be ready before the run. After the run it
/// prints what each process of those services did (CPU seconds during the run), whether any task of the run recorded a
/// step, a tool call or a model call more than once, and whether any tool was invoked twice for one call; then it
/// stops the second processes.
/// </summary>
internal sealed class Replicas : IAsyncDisposable
{
    private const int PortOffset = 10;

    private readonly List<(string Service, int OriginalPid, Process Process, int Port)> _started = [];
    private readonly Dictionary<int, double> _cpuBefore = [];

    public static async Task<Replicas> StartAsync(IEnumerable<string> services, string postgres)
    {
        var replicas = new Replicas { Postgres = postgres };
        try
        {
            await replicas.StartAllAsync(services);
            return replicas;
        }
        catch
        {
            // Never leave a second process behind: it would go on consuming the platform's queues.
            await replicas.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(IEnumerable<string> services)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var service in services)
        {
            var original = ServiceProcess.Find($"Agents.{service}.dll") ?? throw new InvalidOperationException($"No running process of Agents.{service}.dll: start the platform with ./dev.sh up first.");
            var port = original.Port + PortOffset;
            var output = Path.Combine(Path.GetTempPath(), $"agents-replica-{service.ToLowerInvariant()}.log");
            var process = original.StartReplica(port, output);
            _started.Add((service, original.Pid, process, port));
            Console.WriteLine($"  second {service} process started (pid {process.Id}, http://127.0.0.1:{port}/, output {output}) beside pid {original.Pid}");
        }

        foreach (var (service, _, process, port) in _started)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"The second {service} process exited with code {process.ExitCode}: see its output.");
                }

                try
                {
                    using var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health/ready"));
                    if (ready.IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    // Not listening yet.
                }

                if (deadline.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new TimeoutException($"The second {service} process was not ready within 2 minutes.");
                }

                await Task.Delay(500);
            }
        }

        Console.WriteLine($"  all ready: {string.Join(", ", _started.Select(r => $"{r.Service} ×2"))}");
    }

    private string Postgres { get; init; } = string.Empty;

    /// <summary>Notes each process's CPU time, at the start of the measured run.</summary>
    public void MarkStart()
    {
        foreach (var pid in Pids())
        {
            _cpuBefore[pid] = CpuSeconds(pid);
        }
    }

    /// <summary>Prints each process's share and the duplicate checks for the run's tasks.</summary>
    public async Task<bool> ReportAsync(IReadOnlyCollection<Guid> taskIds)
    {
        foreach (var (service, originalPid, process, _) in _started)
        {
            var first = CpuSeconds(originalPid) - _cpuBefore.GetValueOrDefault(originalPid);
            var second = CpuSeconds(process.Id) - _cpuBefore.GetValueOrDefault(process.Id);
            Console.WriteLine($"replica CPU          {service}: {first:F1} s (pid {originalPid}) and {second:F1} s (pid {process.Id}) during the run");
        }

        var ids = taskIds.ToArray();
        long twice;
        await using (var executor = await OpenAsync("agents_executor"))
        await using (var command = new NpgsqlCommand(
            """
            SELECT count(*) FROM (
                SELECT task_id FROM task_events WHERE task_id = ANY($1)
                GROUP BY task_id
                HAVING count(*) FILTER (WHERE kind = 'step-succeeded') <> 3 OR count(*) FILTER (WHERE kind = 'tool-call') <> 2
                    OR count(*) FILTER (WHERE kind = 'model-call') <> 1 OR count(*) FILTER (WHERE kind = 'finished') <> 1) AS odd
            """,
            executor))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = ids });
            twice = (long)(await command.ExecuteScalarAsync())!;
        }

        long invokedTwice;
        long calls;
        await using (var gateway = await OpenAsync("agents_toolgateway"))
        await using (var command = new NpgsqlCommand("SELECT count(*), count(*) FILTER (WHERE invocations > 1) FROM tool_calls WHERE task_id = ANY($1)", gateway))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = ids });
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            (calls, invokedTwice) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        Console.WriteLine($"duplicates           {twice} of {ids.Length} tasks with a step, tool call, model call or end recorded other than once; {invokedTwice} of {calls} tool calls invoked more than once");
        return twice == 0 && invokedTwice == 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (service, _, process, _) in _started)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            Console.WriteLine($"  second {service} process stopped");
            process.Dispose();
        }
    }

    private IEnumerable<int> Pids() => _started.SelectMany(r => new[] { r.OriginalPid, r.Process.Id });

    private async Task<NpgsqlConnection> OpenAsync(string database)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Postgres) { Database = database }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static double CpuSeconds(int pid)
    {
        try
        {
            return Meter.ProcessCpuSeconds($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}", withEndedChildren: false);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
