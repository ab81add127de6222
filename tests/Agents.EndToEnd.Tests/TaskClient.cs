using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Testing;
using Xunit.Sdk;

namespace Agents.EndToEnd.Tests;

/// <summary>What a user does over HTTP through the gateway, with waits (Poll.UntilAsync) that have deadlines.</summary>
internal static class TaskClient
{
    public static readonly string[] TerminalStatuses = ["Completed", "Failed", "Cancelled", "BudgetExceeded", "Compensated", "Rejected"];

    public static async Task<Guid> SubmitAsync(HttpClient client, object body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/tasks") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /api/tasks answered {(int)response.StatusCode}: {text}");
        Assert.NotNull(response.Headers.Location);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>
    /// The task's view. A 503 with <c>Retry-After</c> (the service is busy: its database did not answer in time) is waited
    /// out as told and asked again, a few times, as a client of the platform should.
    /// </summary>
    public static async Task<JsonElement> GetAsync(HttpClient client, Guid id)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await client.GetAsync(new Uri($"api/tasks/{id}", UriKind.Relative));
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait && attempt < 10)
            {
                await Task.Delay(wait);
                continue;
            }

            Assert.True(response.IsSuccessStatusCode, $"GET /api/tasks/{id} answered {(int)response.StatusCode}: {text}");
            return JsonDocument.Parse(text).RootElement.Clone();
        }
    }

    public static string Status(JsonElement task) => task.GetProperty("status").GetString()!;

    /// <summary>Polls the task until <paramref name="done"/> holds; fails with the last view (and the log) after the deadline.</summary>
    public static async Task<JsonElement> WaitUntilAsync(HttpClient client, Guid id, Func<JsonElement, bool> done, TimeSpan within, string what)
    {
        JsonElement task = default;
        try
        {
            await Poll.UntilAsync(async () => done(task = await GetAsync(client, id)), within, $"task {id} to reach '{what}'", TimeSpan.FromMilliseconds(250));
        }
        catch (FailException)
        {
            var log = await client.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative));
            Assert.Fail($"Task {id} did not reach '{what}' within {within}. Last view: {task}\nLog: {Truncate(log, 6000)}");
        }

        return task;
    }

    /// <summary>
    /// Waits for <paramref name="status"/> (three minutes unless told: on a machine too busy for a tool to answer in time,
    /// a step waits for the tool's circuit to let a trial call through, 30–60 s); a different terminal state fails at once,
    /// with the task and its log.
    /// </summary>
    public static async Task<JsonElement> WaitForStatusAsync(HttpClient client, Guid id, string status, TimeSpan? within = null)
    {
        var task = await WaitUntilAsync(client, id, t => Status(t) == status || TerminalStatuses.Contains(Status(t)), within ?? TimeSpan.FromMinutes(3), status);
        if (Status(task) != status)
        {
            var log = await client.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative));
            Assert.Fail($"Task {id} ended {Status(task)}, expected {status}. View: {task}\nLog: {Truncate(log, 8000)}");
        }

        return task;
    }

    /// <summary>
    /// The task's audit trail once <paramref name="complete"/> holds for it (governance audits tool executions as
    /// bookkeeping, in batches, shortly after the run has moved on); fails with the last trail read after 30 s.
    /// </summary>
    public static async Task<JsonDocument> AuditTrailAsync(HttpClient admin, Guid taskId, Func<JsonElement, bool> complete)
    {
        var text = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                text = await admin.GetStringAsync(new Uri($"api/governance/audit?taskId={taskId}", UriKind.Relative));
                using var trail = JsonDocument.Parse(text);
                return complete(trail.RootElement);
            },
            () => $"the audit trail of task {taskId} to be complete; last read: {Truncate(text, 6000)}",
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(250));
        return JsonDocument.Parse(text);
    }

    /// <summary>"action decision" of the audit entries of tool calls (authorizations left out) of <paramref name="tool"/>.</summary>
    public static List<string> ToolCalls(JsonElement trail, string tool) => trail.EnumerateArray()
        .Where(e => e.GetProperty("action").GetString()!.StartsWith("tool.", StringComparison.Ordinal) && e.GetProperty("action").GetString() != "tool.authorize"
            && e.GetProperty("subject").GetString() == "tool/" + tool)
        .Select(e => $"{e.GetProperty("action").GetString()} {e.GetProperty("decision").GetString()}")
        .ToList();

    public static async Task<JsonElement> FindPendingApprovalAsync(HttpClient approver, Guid taskId, TimeSpan within)
    {
        JsonNode? match = null;
        await Poll.UntilAsync(
            async () =>
            {
                var list = JsonNode.Parse(await approver.GetStringAsync(new Uri("api/governance/approvals?status=Pending", UriKind.Relative)))!;
                var items = list is JsonArray array ? array : list["items"]!.AsArray();
                match = items.FirstOrDefault(a => a!["taskId"]!.GetValue<Guid>() == taskId);
                return match is not null;
            },
            within,
            $"a pending approval for task {taskId}",
            TimeSpan.FromMilliseconds(250));
        return JsonDocument.Parse(match!.ToJsonString()).RootElement.Clone();
    }

    public static async Task<HttpResponseMessage> DecideAsync(HttpClient approver, Guid approvalId, bool approve, string comment) =>
        await approver.PostAsync(
            new Uri($"api/governance/approvals/{approvalId}/{(approve ? "approve" : "reject")}", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { comment }), Encoding.UTF8, "application/json"));

    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.StartsWith("https://agents.dev/problems/", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        return problem;
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
