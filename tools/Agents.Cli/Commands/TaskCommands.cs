using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Agents.Cli.Commands;

/// <summary><c>agents submit</c> and <c>agents tasks list|get|log|cancel|watch</c>.</summary>
internal static class TaskCommands
{
    /// <summary>The statuses a task ends in.</summary>
    public static readonly string[] Terminal = ["Completed", "Failed", "Cancelled", "BudgetExceeded", "Compensated", "Rejected"];

    public static Command Submit(CliEnvironment environment)
    {
        var goal = new Option<string?>("--goal", "-g") { Description = "A goal for the planner to plan." };
        var template = new Option<string?>("--template", "-t") { Description = "A workflow template by name." };
        var parameters = new Option<string[]>("--param", "-p") { Description = "A template parameter, name=value (repeat it).", AllowMultipleArgumentsPerToken = false };
        var steps = new Option<FileInfo?>("--steps") { Description = "A JSON file with explicit steps (an array, or an object with \"steps\")." };
        var detach = new Option<bool>("--detach", "-d") { Description = "Print the task id and return at once instead of following the task." };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Makes a retried submission return the same task." };
        var model = new Option<string?>("--model") { Description = "Run every model step on this model, configured by name in the executor (Models:Named:<name>)." };
        var command = new Command("submit", "Submit a task (a goal, a template or explicit steps) and follow its progress until it ends.")
        {
            goal, template, parameters, steps, detach, idempotencyKey, model,
        };
        command.Validators.Add(result =>
        {
            var given = new[] { result.GetValue(goal) is not null, result.GetValue(template) is not null, result.GetValue(steps) is not null }.Count(g => g);
            if (given != 1)
            {
                result.AddError("Give exactly one of --goal, --template or --steps.");
            }

            if (result.GetValue(parameters) is { Length: > 0 } list && result.GetValue(template) is null)
            {
                result.AddError("--param goes with --template.");
            }

            foreach (var parameter in result.GetValue(parameters) ?? [])
            {
                if (parameter.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"--param '{parameter}' must be name=value.");
                }
            }
        });
        command.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var body = BuildRequest(parse.GetValue(goal), parse.GetValue(template), parse.GetValue(parameters) ?? [], parse.GetValue(steps));
            if (parse.GetValue(model) is { } name)
            {
                body["model"] = name;
            }

            var headers = parse.GetValue(idempotencyKey) is { } key ? new Dictionary<string, string> { ["Idempotency-Key"] = key } : null;
            var accepted = await context.Gateway.PostAsync("/api/tasks", body, cancellationToken, headers);
            var id = Output.Text(accepted.Body, "id") ?? throw new CliException(ExitCodes.Unavailable, "The gateway accepted the task but named no id.");
            if (parse.GetValue(detach))
            {
                return context.Output.Show(accepted.Body, () => context.Output.Line(id));
            }

            if (!context.Output.IsJson)
            {
                context.Output.Line($"Task {id} submitted; following it (Ctrl+C stops following, the task goes on).");
            }

            return await WatchAsync(context, id, cancellationToken);
        });
        return command;
    }

    /// <summary>The body of <c>POST /api/tasks</c> from the options (already validated: exactly one of the three).</summary>
    public static JsonObject BuildRequest(string? goal, string? template, string[] parameters, FileInfo? steps)
    {
        if (goal is not null)
        {
            return new JsonObject { ["goal"] = goal };
        }

        if (template is not null)
        {
            var values = new JsonObject();
            foreach (var parameter in parameters)
            {
                var at = parameter.IndexOf('=', StringComparison.Ordinal);
                values[parameter[..at]] = parameter[(at + 1)..];
            }

            return new JsonObject { ["template"] = template, ["parameters"] = values };
        }

        JsonNode? file;
        try
        {
            file = JsonNode.Parse(File.ReadAllText(steps!.FullName));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new CliException(ExitCodes.Usage, $"The steps file {steps!.FullName} could not be read as JSON: {ex.Message}");
        }

        return file switch
        {
            JsonArray array => new JsonObject { ["steps"] = array.DeepClone() },
            JsonObject obj when obj["steps"] is JsonArray => obj.DeepClone().AsObject(),
            _ => throw new CliException(ExitCodes.Usage, $"The steps file {steps!.FullName} must hold an array of steps or an object with \"steps\"."),
        };
    }

    public static Command Tasks(CliEnvironment environment)
    {
        var command = new Command("tasks", "List, read, follow and cancel tasks of your tenant.");

        var status = new Option<string?>("--status") { Description = "Only tasks in this status (Running, Completed, ...)." };
        var page = new Option<int?>("--page") { Description = "Page number (1, 2, ...)." };
        var pageSize = new Option<int?>("--page-size") { Description = "Tasks per page (1-100)." };
        var list = new Command("list", "List tasks, newest first.") { status, page, pageSize };
        list.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var query = Query(("status", parse.GetValue(status)), ("page", parse.GetValue(page)?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("pageSize", parse.GetValue(pageSize)?.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var answer = await context.Gateway.GetAsync("/api/tasks" + query, cancellationToken);
            return context.Output.Show(answer.Body, () =>
            {
                context.Output.Table(answer.Body?["items"] as JsonArray ?? [],
                    ("ID", t => Output.Text(t, "id")),
                    ("STATUS", t => Output.Text(t, "status")),
                    ("WHAT", t => Output.Text(t, "template") ?? Output.Text(t, "goal")),
                    ("CREATED", t => Output.Text(t, "createdAt")),
                    ("TRACE", t => Output.Text(t, "traceId")));
                context.Output.Line($"page {Output.Text(answer.Body, "page")}, {Output.Text(answer.Body, "total")} task(s) in all");
            });
        });
        command.Add(list);

        var getId = TaskId();
        var get = new Command("get", "Show a task: status, plan, steps, usage, result.") { getId };
        get.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var task = (await context.Gateway.GetAsync($"/api/tasks/{parse.GetValue(getId)}", cancellationToken)).Body;
            return context.Output.Show(task, () =>
            {
                PrintTask(context.Output, task);
            });
        });
        command.Add(get);

        var logId = TaskId();
        var log = new Command("log", "Show a task's event log: what the agent did, step by step, and why.") { logId };
        log.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var answer = await context.Gateway.GetAsync($"/api/tasks/{parse.GetValue(logId)}/log", cancellationToken);
            return context.Output.Show(answer.Body, () =>
            {
                context.Output.Table(answer.Body?["events"] as JsonArray ?? [],
                    ("#", e => Output.Text(e, "sequence")),
                    ("AT", e => Output.Text(e, "at")),
                    ("EVENT", e => Output.Text(e, "kind")),
                    ("STEP", e => Output.Text(e, "stepId")),
                    ("STATUS", e => Output.Text(e, "status")),
                    ("DETAILS", e => Shorten(Output.Text(e, "data"), 100)));
            });
        });
        command.Add(log);

        var cancelId = TaskId();
        var cancel = new Command("cancel", "Cancel a task that has not ended.") { cancelId };
        cancel.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var answer = await context.Gateway.PostAsync($"/api/tasks/{parse.GetValue(cancelId)}/cancel", null, cancellationToken);
            return context.Output.Show(answer.Body, () => context.Output.Line($"Cancellation of task {parse.GetValue(cancelId)} requested (status was {Output.Text(answer.Body, "status")})."));
        });
        command.Add(cancel);

        var watchId = TaskId();
        var watch = new Command("watch", "Follow a task's progress until it ends (exit code 0 when it completed, 1 otherwise).") { watchId };
        watch.Handle(environment, (parse, context, cancellationToken) => WatchAsync(context, parse.GetValue(watchId).ToString(), cancellationToken));
        command.Add(watch);
        return command;
    }

    /// <summary>
    /// <c>agents replay &lt;id&gt;</c>: replays a finished task with zero live calls, waits for the replay to finish and prints
    /// its comparison with the original. Exit code 0 when the replay matched the original, 1 when it diverged.
    /// </summary>
    public static Command Replay(CliEnvironment environment)
    {
        var id = TaskId();
        var whatIf = new Option<bool>("--what-if") { Description = "Ask today's models (re-plan a goal) instead of serving the recorded answers; tools still answer only from the recording, and a call the original did not make is reported, never made." };
        var templateVersion = new Option<int?>("--template-version") { Description = "Plan a template task with this version of its template instead of the one the original ran (how a candidate would have handled it)." };
        var model = new Option<string?>("--model") { Description = "With --what-if: run every model step with this model, configured by name in the executor (Models:Named:<name>)." };
        var noWait = new Option<bool>("--no-wait") { Description = "Start the replay and print its id without waiting for the comparison." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the replay to finish.", DefaultValueFactory = _ => 300 };
        var command = new Command("replay", "Replay a finished task: the same request, every tool call, model call and goal plan answered from the original's log (nothing is called live), then compare step by step.")
        {
            id, whatIf, templateVersion, model, noWait, timeout,
        };
        command.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var body = parse.GetValue(whatIf) ? new JsonObject { ["whatIf"] = true } : null;
            if (parse.GetValue(templateVersion) is { } version)
            {
                body ??= [];
                body["templateVersion"] = version;
            }

            if (parse.GetValue(model) is { } name)
            {
                body ??= [];
                body["model"] = name;
            }

            var started = await context.Gateway.PostAsync($"/api/tasks/{parse.GetValue(id)}/replay", body, cancellationToken);
            var replay = Output.Text(started.Body, "id");
            if (parse.GetValue(noWait))
            {
                return context.Output.Show(started.Body, () => context.Output.Line($"Replay {replay} of task {parse.GetValue(id)} started; compare with: agents replay-report {replay}"));
            }

            var deadline = DateTimeOffset.UtcNow.AddSeconds(parse.GetValue(timeout));
            JsonNode? report;
            while (true)
            {
                report = (await context.Gateway.GetAsync($"/api/tasks/{replay}/replay", cancellationToken)).Body;
                if (Output.Text(report, "finished") == "true" || DateTimeOffset.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }

            return PrintReplay(context.Output, report);
        });
        return command;
    }

    /// <summary><c>agents replay-report &lt;replay id&gt;</c>: the comparison of a replay with its original, as it stands.</summary>
    public static Command ReplayReport(CliEnvironment environment)
    {
        var id = new Argument<Guid>("id") { Description = "The replay's task id." };
        var command = new Command("replay-report", "Compare a replay with its original, step by step (exit code 1 when they diverge).") { id };
        command.Handle(environment, async (parse, context, cancellationToken) =>
            PrintReplay(context.Output, (await context.Gateway.GetAsync($"/api/tasks/{parse.GetValue(id)}/replay", cancellationToken)).Body));
        return command;
    }

    private static int PrintReplay(Output output, JsonNode? report)
    {
        var matched = Output.Text(report, "finished") == "true" && Output.Text(report, "resultMatches") == "true" && report?["firstDivergence"] is null;
        output.Show(report, () =>
        {
            output.Fields(
                ("Replay", $"{Output.Text(report, "taskId")} ({Output.Text(report, "mode")})"),
                ("Of", Output.Text(report, "replayOf")),
                ("Status", $"{Output.Text(report, "status")} (original: {Output.Text(report, "originalStatus")})"),
                ("Live calls", Output.Text(report, "liveCalls")),
                ("Served", $"{Output.Text(report, "served")} answer(s) from the recording"),
                ("Result", Output.Text(report, "resultMatches") == "true" ? "the same as the original's" : "differs from the original's"),
                ("Divergence", report?["firstDivergence"] is { } d
                    ? $"{Output.Text(d, "what")} at step {Output.Text(d, "stepId") ?? "-"}: original {Shorten(Output.Text(d, "original"), 60)}, replay {Shorten(Output.Text(d, "replay"), 60)}"
                    : "none"),
                ("Would call", report?["wouldCall"] is JsonArray { Count: > 0 } calls
                    ? string.Join("; ", calls.Select(c => $"{Output.Text(c, "tool")} {Shorten(Output.Text(c, "arguments"), 60)} (step {Output.Text(c, "stepId")})"))
                    : "nothing the original did not call"));
            output.Table(report?["steps"] as JsonArray ?? [],
                ("STEP", s => Output.Text(s, "stepId")),
                ("KIND", s => Output.Text(s, "kind")),
                ("TOOL", s => Output.Text(s, "tool")),
                ("SAME", s => Output.Text(s, "matches") == "true" ? "yes" : "NO"),
                ("REPLAY INPUT", s => Shorten(Output.Text(s, "replayInput"), 50)),
                ("REPLAY ANSWER", s => Shorten(Output.Text(s, "replayOutput"), 50)));
        });
        return matched ? ExitCodes.Success : ExitCodes.Unsuccessful;
    }

    /// <summary>
    /// Follows the task's event stream (<c>/api/tasks/{id}/events</c>), resuming after a dropped connection from the last
    /// event seen, until the task ends; then prints its outcome. Exit code 0 when it completed, 1 when it ended otherwise.
    /// </summary>
    public static async Task<int> WatchAsync(CommandContext context, string id, CancellationToken cancellationToken)
    {
        long last = 0;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var response = await context.Gateway.OpenStreamAsync($"/api/tasks/{id}/events", last, cancellationToken);
                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
                using var reader = new StreamReader(stream);
                string? data = null;
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        data = line[5..].Trim();
                    }
                    else if (line.Length == 0 && data is not null)
                    {
                        var entry = JsonNode.Parse(data);
                        last = long.TryParse(Output.Text(entry, "sequence"), out var sequence) ? sequence : last;
                        PrintEvent(context.Output, entry);
                        data = null;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && attempt < 5)
            {
                await context.Output.Error.WriteLineAsync($"The event stream broke ({ex.Message}); resuming after event {last}.");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                continue;
            }

            // The stream ends when the task has ended; a stream that ended early (a restart) is resumed.
            var task = (await context.Gateway.GetAsync($"/api/tasks/{id}", cancellationToken)).Body;
            var status = Output.Text(task, "status");
            if (!Terminal.Contains(status))
            {
                continue;
            }

            if (context.Output.IsJson)
            {
                context.Output.JsonLine(task);
            }
            else
            {
                context.Output.Line(string.Empty);
                PrintTask(context.Output, task);
            }

            return status == "Completed" ? ExitCodes.Success : ExitCodes.Unsuccessful;
        }
    }

    private static Argument<Guid> TaskId() => new("id") { Description = "The task id." };

    private static void PrintEvent(Output output, JsonNode? entry)
    {
        if (output.IsJson)
        {
            output.JsonLine(entry);
            return;
        }

        var at = DateTimeOffset.TryParse(Output.Text(entry, "at"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var time)
            ? time.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)
            : Output.Text(entry, "at");
        var step = Output.Text(entry, "stepId") is { } s ? $" [{s}]" : string.Empty;
        output.Line($"{at} #{Output.Text(entry, "sequence"),-4} {Output.Text(entry, "kind")}{step} → {Output.Text(entry, "status")}  {Shorten(Output.Text(entry, "data"), 120)}");
    }

    private static void PrintTask(Output output, JsonNode? task)
    {
        output.Fields(
            ("Task", Output.Text(task, "id")),
            ("Status", Output.Text(task, "status")),
            ("What", Output.Text(task, "template") ?? Output.Text(task, "goal")),
            ("Reason", Output.Text(task, "reason")),
            ("Trace", Output.Text(task, "traceId")),
            ("Created", Output.Text(task, "createdAt")),
            ("Finished", Output.Text(task, "finishedAt")),
            ("Usage", Output.Text(task, "usage")));
        if (task?["steps"] is JsonArray { Count: > 0 } steps)
        {
            output.Table(steps,
                ("STEP", s => Output.Text(s, "id")),
                ("KIND", s => Output.Text(s, "kind")),
                ("TOOL", s => Output.Text(s, "tool")),
                ("STATUS", s => Output.Text(s, "status")),
                ("ATTEMPTS", s => Output.Text(s, "attempts")),
                ("OUTPUT", s => Shorten(Output.Text(s, "output") ?? Output.Text(s, "error"), 80)));
        }

        if (task?["result"] is { } result)
        {
            output.Line("Result:");
            output.Line(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    internal static string Query(params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? string.Empty : "?" + string.Join('&', given);
    }

    internal static string? Shorten(string? text, int length) =>
        text is null || text.Length <= length ? text : text[..(length - 1)] + "…";
}
