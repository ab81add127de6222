using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Cli.Commands;

namespace Agents.Cli.Evaluation;

/// <summary>
/// Runs a suite's cases one after another through the gateway, as the case's user, and checks each run against its
/// expectations from what the API shows: the task (status, result, usage, times) and its event log (the tool calls).
/// </summary>
internal sealed class EvalRunner(EvalSuite suite, IReadOnlyDictionary<string, string> variables, Func<string?, GatewayClient> clientFor, TextWriter progress, TimeProvider time)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Leave tasks that wait for a person as they are (by default they are cancelled once measured).</summary>
    public bool KeepWaitingTasks { get; init; }

    /// <summary>The judge model for <c>judge</c> assertions; without one, such an assertion fails and says so.</summary>
    public EvalJudge? Judge { get; init; }

    /// <summary>A named model every case's model steps run on (the task request's <c>model</c>), unless the case names one.</summary>
    public string? Model { get; init; }

    public async Task<EvalRun> RunAsync(string suiteFile, Uri gateway, int repeat, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var results = new List<EvalCaseResult>();
        foreach (var @case in suite.Cases)
        {
            var runs = new List<EvalCaseRun>();
            for (var attempt = 1; attempt <= repeat; attempt++)
            {
                var run = await RunCaseAsync(@case, attempt, cancellationToken);
                runs.Add(run);
                await progress.WriteLineAsync(
                    $"{@case.Id}{(repeat > 1 ? $" #{attempt}" : string.Empty)}: {(run.Passed ? "passed" : "FAILED")} ({run.Status ?? "not submitted"}, {run.LatencyMs:0} ms, task {run.TaskId})"
                    + string.Concat(run.Failures.Select(f => "\n  - " + f)));
            }

            results.Add(new EvalCaseResult(@case.Id, @case.HasFaults, EvalSummary.Of([.. runs.Select(r => (r, @case.HasFaults))]), runs));
        }

        var all = results.SelectMany(c => c.Runs.Select(r => (r, c.Faulted))).ToList();
        return new EvalRun(suite.Name, suiteFile, gateway.ToString(), repeat, started, time.GetUtcNow(), EvalSummary.Of(all), results) { Model = Model };
    }

    private async Task<EvalCaseRun> RunCaseAsync(EvalCase @case, int attempt, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..12];
        var values = new Dictionary<string, string>(variables, StringComparer.Ordinal)
        {
            ["run"] = run,
            ["faults"] = EvalFault.QueryString(@case.Faults, run),
        };
        var body = WithArgumentsJson(Expand(@case.Task, values)!.AsObject());
        if (Model is not null && !body.ContainsKey("model"))
        {
            body["model"] = Model;
        }

        var client = clientFor(@case.As);
        var clock = time.GetTimestamp();
        Guid id;
        try
        {
            var accepted = await client.PostAsync("/api/tasks", body, cancellationToken, new Dictionary<string, string> { ["Idempotency-Key"] = "eval-" + run });
            id = Guid.Parse(Output.Text(accepted.Body, "id") ?? throw new CliException(ExitCodes.Unavailable, "The gateway accepted a task but named no id."));
        }
        catch (CliException ex) when (ex.ExitCode == ExitCodes.Refused)
        {
            return new EvalCaseRun(attempt, null, null, false, [$"submission refused: {ex.Message}"], 0, 0, 0, 0, @case.Expect.Calls?.Count ?? 0, 0, 0, 0, []);
        }

        var failures = new List<string>();
        var task = await FollowAsync(@case, client, id, failures, cancellationToken);
        var status = Output.Text(task, "status");
        var latency = ServerLatency(task) ?? time.GetElapsedTime(clock).TotalMilliseconds;
        var log = (await client.GetAsync($"/api/tasks/{id}/log", cancellationToken)).Body;
        var calls = ToolCalls(log);

        if (status != @case.Expect.Status)
        {
            failures.Add($"status: expected {@case.Expect.Status} but was {status}" + (Output.Text(task, "reason") is { } reason ? $" ({TaskCommands.Shorten(reason, 200)})" : string.Empty));
        }

        var expected = (@case.Expect.Calls ?? []).Select(c => Expanded(c, values)).ToList();
        var made = 0;
        foreach (var call in expected)
        {
            if (calls.Any(c => call.Matches(c.Tool, c.Arguments, c.Outcome)))
            {
                made++;
            }
            else
            {
                failures.Add($"call not made: {call}");
            }
        }

        foreach (var call in (@case.Expect.NotCalled ?? []).Select(c => Expanded(c, values)))
        {
            if (calls.Any(c => call.Matches(c.Tool, c.Arguments, c.Outcome)))
            {
                failures.Add($"call made that must not be: {call}");
            }
        }

        foreach (var assertion in @case.Expect.Assertions ?? [])
        {
            var path = assertion["path"]!.GetValue<string>();
            var matcher = Expand(EvalExpectation.MatcherOf(assertion), values)!.AsObject();
            var actual = JsonPath.Select(task, path);
            if (matcher["judge"] is JsonValue criterion)
            {
                var (passed, reason) = Judge is null
                    ? (false, $"no judge model is configured (--judge-endpoint and --judge-model, or {EvalJudge.EndpointVariable} and {EvalJudge.ModelVariable})")
                    : await Judge.JudgeAsync(criterion.GetValue<string>(), actual, cancellationToken);
                if (!passed)
                {
                    failures.Add($"{path}: judged against \"{criterion.GetValue<string>()}\": {reason}");
                }
            }
            else if (!JsonMatch.Holds(matcher, actual))
            {
                failures.Add($"{path}: {JsonMatch.Describe(matcher, actual)}");
            }
        }

        var steps = int.TryParse(Output.Text(task, "usage.steps"), CultureInfo.InvariantCulture, out var s) ? s : 0;
        var tokens = long.TryParse(Output.Text(task, "usage.tokens"), CultureInfo.InvariantCulture, out var t) ? t : 0;
        var cost = decimal.TryParse(Output.Text(task, "usage.cost"), CultureInfo.InvariantCulture, out var c) ? c : 0;
        if (@case.Expect.Within is { } within)
        {
            Limit(failures, "steps", steps, within.Steps);
            Limit(failures, "tokens", tokens, within.Tokens);
            Limit(failures, "cost", cost, within.Cost);
            Limit(failures, "latency (ms)", (decimal)Math.Round(latency), within.LatencyMs);
        }

        if (status == "AwaitingApproval" && !KeepWaitingTasks)
        {
            await CancelAsync(client, id, cancellationToken);
        }

        return new EvalCaseRun(attempt, id, status, failures.Count == 0, failures, Math.Round(latency, 1), steps, tokens, cost,
            expected.Count, made, calls.Count, calls.Count(call => expected.Any(e => e.Matches(call.Tool, call.Arguments, call.Outcome))), [.. calls.Select(call => call.Tool)]);
    }

    /// <summary>
    /// Polls the task until it ends, or waits for a person: then the case's approver decides each request of the task
    /// (when the case has one) and the task is followed on, else the waiting state is where the run ends.
    /// </summary>
    private async Task<JsonNode?> FollowAsync(EvalCase @case, GatewayClient client, Guid id, List<string> failures, CancellationToken cancellationToken)
    {
        var timeout = @case.Timeout ?? EvalCase.DefaultTimeout;
        var clock = time.GetTimestamp();
        var decided = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var task = (await client.GetAsync($"/api/tasks/{id}", cancellationToken)).Body;
            var status = Output.Text(task, "status");
            if (TaskCommands.Terminal.Contains(status))
            {
                return task;
            }

            if (status == "AwaitingApproval")
            {
                if (@case.Approval is not { } approval)
                {
                    return task;
                }

                await DecideAsync(approval, id, decided, failures, cancellationToken);
            }

            if (time.GetElapsedTime(clock) > timeout)
            {
                failures.Add($"did not end within {timeout} (status {status})");
                return task;
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    /// <summary>Decides the task's pending approval requests not decided yet (governance may list a request a moment after the task waits).</summary>
    private async Task DecideAsync(EvalApproval approval, Guid taskId, HashSet<string> decided, List<string> failures, CancellationToken cancellationToken)
    {
        var approver = clientFor(approval.As);
        var pending = (await approver.GetAsync("/api/governance/approvals?status=Pending", cancellationToken)).Body;
        foreach (var request in pending as JsonArray ?? pending?["items"] as JsonArray ?? [])
        {
            if (Output.Text(request, "taskId") == taskId.ToString() && Output.Text(request, "id") is { } approvalId && decided.Add(approvalId))
            {
                try
                {
                    await approver.PostAsync($"/api/governance/approvals/{approvalId}/{approval.Decision}",
                        new JsonObject { ["comment"] = approval.Comment ?? "evaluation suite " + suite.Name }, cancellationToken);
                }
                catch (CliException ex) when (ex.ExitCode == ExitCodes.Refused)
                {
                    failures.Add($"{approval.As} could not {approval.Decision} request {approvalId}: {ex.Message}");
                }
            }
        }
    }

    private static async Task CancelAsync(GatewayClient client, Guid id, CancellationToken cancellationToken)
    {
        try
        {
            await client.PostAsync($"/api/tasks/{id}/cancel", null, cancellationToken);
        }
        catch (CliException)
        {
            // It ended meanwhile, or may no longer be cancelled: nothing is left waiting either way.
        }
    }

    /// <summary>
    /// The distinct tool calls of the task's log, one per step and tool whatever the retries and approvals, each with
    /// its arguments and how it ended last.
    /// </summary>
    private static List<(string Tool, JsonNode? Arguments, string? Outcome)> ToolCalls(JsonNode? log) =>
        [.. (log?["events"] as JsonArray ?? [])
            .Where(e => Output.Text(e, "kind") == "tool-call" && Output.Text(e, "data.tool") is not null)
            .GroupBy(e => (Output.Text(e, "stepId"), Output.Text(e, "data.tool")))
            .Select(g => (g.Key.Item2!, Arguments(g.Last()?["data"]?["arguments"]), Output.Text(g.Last(), "data.outcome")))];

    private static JsonNode? Arguments(JsonNode? node)
    {
        if (node is JsonValue value && value.TryGetValue<string>(out var text))
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                return node;
            }
        }

        return node?.DeepClone();
    }

    /// <summary>Submission to the end (or to the wait for a person) by the executor's clock: createdAt to finishedAt or updatedAt.</summary>
    private static double? ServerLatency(JsonNode? task)
    {
        var created = Time(Output.Text(task, "createdAt"));
        var ended = Time(Output.Text(task, "finishedAt")) ?? Time(Output.Text(task, "updatedAt"));
        return created is { } from && ended is { } to && to >= from ? (to - from).TotalMilliseconds : null;
    }

    private static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value) ? value : null;

    private static void Limit(List<string> failures, string what, decimal actual, decimal? limit)
    {
        if (limit is { } max && actual > max)
        {
            failures.Add($"{what}: {actual.ToString(CultureInfo.InvariantCulture)} is over the limit of {max.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    private static EvalCall Expanded(EvalCall call, Dictionary<string, string> values) =>
        call with { Arguments = call.Arguments?.ToDictionary(a => a.Key, a => Expand(a.Value, values)) };

    /// <summary>A copy of <paramref name="node"/> with <c>${name}</c> in every string replaced by its value.</summary>
    internal static JsonNode? Expand(JsonNode? node, IReadOnlyDictionary<string, string> values) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Expand(p.Value, values)))),
        JsonArray array => new JsonArray([.. array.Select(i => Expand(i, values))]),
        JsonValue value when value.TryGetValue<string>(out var text) => JsonValue.Create(Expand(text, values)),
        _ => node?.DeepClone(),
    };

    internal static string Expand(string text, IReadOnlyDictionary<string, string> values) =>
        EvalSuite.VariablePattern().Replace(text, m => values.TryGetValue(m.Groups[1].Value, out var value)
            ? value
            : throw new CliException(ExitCodes.Usage, $"'${{{m.Groups[1].Value}}}' is not a variable of the suite (variables: {string.Join(", ", values.Keys)}; give others with --var name=value)."));

    /// <summary>Steps may give <c>arguments</c> as an object; the API takes <c>argumentsJson</c>, a string.</summary>
    private static JsonObject WithArgumentsJson(JsonObject body)
    {
        foreach (var step in body["steps"] as JsonArray ?? [])
        {
            if (step is JsonObject obj && obj["arguments"] is JsonObject arguments)
            {
                obj.Remove("arguments");
                obj["argumentsJson"] = arguments.ToJsonString();
            }
        }

        return body;
    }
}
