using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Executor.Data;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Api;

/// <summary>Server-Sent Events of a task's event log: replay from <c>Last-Event-ID</c>, then live until the task ends.</summary>
internal static class TaskEventStream
{
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
            // Read the status first: everything up to its LastSequence is committed with it.
            var status = await db.Tasks.AsNoTracking().Where(t => t.Id == id)
                .Select(t => new { t.Status, t.LastSequence }).FirstAsync(cancellationToken);
            var events = await db.TaskEvents.AsNoTracking()
                .Where(e => e.TaskId == id && e.Sequence > last)
                .OrderBy(e => e.Sequence)
                .Take(500)
                .ToListAsync(cancellationToken);
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

            if (TaskApi.IsTerminal(status.Status) && last >= status.LastSequence && events.Count < 500)
            {
                return;
            }

            if (events.Count < 500)
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

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.Converters.Add(new JsonStringEnumConverter());
        return options;
    }
}
