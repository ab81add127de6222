using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Contracts;
using Agents.Executor.Data;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Executor.Api;

/// <summary>Server-Sent Events of a task's event log: replay from <c>Last-Event-ID</c>, then live until the task ends.</summary>
internal static class TaskEventStream
{
    private const int PageSize = 500;

    // Two statements, one round trip (and one implicit transaction). The status first: everything up to its LastSequence
    // is committed with it, so the events read after it include them.
    private const string StatusSql = "SELECT status, last_sequence FROM tasks WHERE id = $1";

    private const string EventsSql = """
        SELECT sequence, at, kind, step_id, status, data FROM task_events
        WHERE task_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3
        """;

    private static readonly JsonSerializerOptions Json = CreateJson();

    public static async Task StreamAsync(
        Guid id,
        HttpContext http,
        ExecutorDbContext db,
        TaskChangeFeed changes,
        TenantAccessCache access,
        IOptions<ExecutorOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        // Watching before the first read: a change committed after it wakes the loop below.
        using var changed = changes.Watch(id);
        var (task, refused) = await TaskApi.FindAsync(db, http, access, id, cancellationToken);
        if (task is null)
        {
            await refused!.ExecuteAsync(http);
            return;
        }

        long last = 0;
        var resume = http.Request.Headers["Last-Event-ID"].ToString();
        if (long.TryParse(string.IsNullOrEmpty(resume) ? http.Request.Query["lastEventId"].ToString() : resume, out var parsed) && parsed > 0)
        {
            last = parsed;
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.Body.FlushAsync(cancellationToken);

        var keepAlive = time.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            var (status, lastSequence, events) = await ReadAsync(db, id, last, cancellationToken);
            foreach (var entry in events)
            {
                var data = JsonSerializer.Serialize(TaskEventView.From(entry), Json);
                await http.Response.WriteAsync($"id: {entry.Sequence}\nevent: {entry.Kind}\ndata: {data}\n\n", cancellationToken);
                last = entry.Sequence;
            }

            if (events.Count > 0)
            {
                await http.Response.Body.FlushAsync(cancellationToken);
                keepAlive = time.GetTimestamp();
            }

            if (TaskApi.IsTerminal(status) && last >= lastSequence && events.Count < PageSize)
            {
                return;
            }

            if (events.Count < PageSize)
            {
                if (time.GetElapsedTime(keepAlive) > TimeSpan.FromSeconds(15))
                {
                    await http.Response.WriteAsync(": keep-alive\n\n", cancellationToken);
                    await http.Response.Body.FlushAsync(cancellationToken);
                    keepAlive = time.GetTimestamp();
                }

                // Woken by the task's change notification; without notifications (the listening connection is down),
                // this polls at EventStreamPollInterval.
                var keepAliveDue = TimeSpan.FromSeconds(15) - time.GetElapsedTime(keepAlive);
                var wait = changes.Listening ? keepAliveDue : options.Value.EventStreamPollInterval;
                await changed.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, cancellationToken);
            }
        }
    }

    /// <summary>The task's status and last sequence, and its events after <paramref name="after"/> (a page at most).</summary>
    private static async Task<(TaskRunStatus Status, long LastSequence, List<TaskEvent> Events)> ReadAsync(ExecutorDbContext db, Guid id, long after, CancellationToken cancellationToken)
    {
        // The connection goes back to the pool between wake-ups: a stream may wait for minutes.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection());
            var task = new NpgsqlBatchCommand(StatusSql);
            task.Parameters.Add(new NpgsqlParameter { Value = id });
            var page = new NpgsqlBatchCommand(EventsSql);
            page.Parameters.Add(new NpgsqlParameter { Value = id });
            page.Parameters.Add(new NpgsqlParameter { Value = after });
            page.Parameters.Add(new NpgsqlParameter { Value = PageSize });
            batch.BatchCommands.Add(task);
            batch.BatchCommands.Add(page);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException($"Task {id} is gone.");
            }

            var status = Enum.Parse<TaskRunStatus>(reader.GetString(0));
            var lastSequence = reader.GetInt64(1);
            await reader.NextResultAsync(cancellationToken);
            var events = new List<TaskEvent>();
            while (await reader.ReadAsync(cancellationToken))
            {
                events.Add(new TaskEvent
                {
                    TaskId = id,
                    Sequence = reader.GetInt64(0),
                    At = reader.GetFieldValue<DateTimeOffset>(1),
                    Kind = reader.GetString(2),
                    StepId = reader.IsDBNull(3) ? null : reader.GetString(3),
                    Status = Enum.Parse<TaskRunStatus>(reader.GetString(4)),
                    Data = reader.GetString(5),
                });
            }

            return (status, lastSequence, events);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.Converters.Add(new JsonStringEnumConverter());
        return options;
    }
}
