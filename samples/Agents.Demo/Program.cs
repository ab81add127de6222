using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

// The demo: a user (alice) asks the agent to triage a customer's issue through the gateway; the
// platform looks the customer up, fetches a knowledge-base article, drafts a reply with the model
// and opens a ticket. The reply is outside content in the ticket's body, which the demo policy lets
// flow; a page that addresses instructions to AI agents would need a person, and the demo plays the
// approver (bob) when such a gate appears.
var gateway = new Uri(Environment.GetEnvironmentVariable("AGENTS_GATEWAY") ?? "http://127.0.0.1:5000/");
var customer = args.Length > 0 ? args[0] : "C-1001";
var question = args.Length > 1 ? args[1] : "I cannot log in since yesterday";
using var alice = Client("demo-alice-agent-user-key");
using var bob = Client("demo-bob-approver-key");

Console.WriteLine($"Submitting 'triage-customer-issue' for {customer} through {gateway} as alice (tenant demo)...");
using var submit = await alice.PostAsJsonAsync("api/tasks", new
{
    template = "triage-customer-issue",
    parameters = new Dictionary<string, string> { ["customerId"] = customer, ["question"] = question },
});
var accepted = await submit.Content.ReadAsStringAsync();
if (!submit.IsSuccessStatusCode)
{
    Console.Error.WriteLine($"The gateway refused the task ({(int)submit.StatusCode}): {accepted}");
    return 1;
}

var id = JsonNode.Parse(accepted)!["id"]!.GetValue<Guid>();
Console.WriteLine($"Task {id} accepted. Progress (Server-Sent Events from /api/tasks/{id}/events):");

using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
var approver = ApproveWhenAskedAsync(id, cancel.Token);
using (var stream = await alice.GetStreamAsync(new Uri($"api/tasks/{id}/events", UriKind.Relative), cancel.Token))
using (var reader = new StreamReader(stream, Encoding.UTF8))
{
    string? line;
    var kind = "message";
    while ((line = await reader.ReadLineAsync(cancel.Token)) is not null)
    {
        if (line.StartsWith("event:", StringComparison.Ordinal))
        {
            kind = line[6..].Trim();
        }
        else if (line.StartsWith("data:", StringComparison.Ordinal))
        {
            Console.WriteLine("  " + Describe(kind, line[5..].Trim()));
        }
    }
}

await cancel.CancelAsync();
await approver;
var task = JsonNode.Parse(await alice.GetStringAsync(new Uri($"api/tasks/{id}", UriKind.Relative)))!;
Console.WriteLine();
Console.WriteLine($"Finished: {task["status"]}{(task["reason"] is { } reason ? " — " + reason : string.Empty)}");
var usage = task["usage"];
Console.WriteLine($"Usage: {usage?["steps"]} steps, {usage?["toolCalls"]} tool calls, {usage?["inputTokens"]}+{usage?["outputTokens"]} tokens, cost {usage?["cost"]}");
if (task["result"]?["ticket"]?["ticketId"] is { } ticket)
{
    Console.WriteLine($"Ticket opened: {ticket}");
}

Console.WriteLine("Draft reply (deterministic offline model — not intelligent):");
Console.WriteLine("  " + (task["result"]?["draft"]?.ToString() ?? "(none)").Replace("\n", "\n  ", StringComparison.Ordinal));
Console.WriteLine();
Console.WriteLine("What the agent did, and why — the task's event log:");
Console.WriteLine($"  curl -s -H 'X-Api-Key: demo-alice-agent-user-key' {gateway}api/tasks/{id}/log");
Console.WriteLine("The audit trail (admin):");
Console.WriteLine($"  curl -s -H 'X-Api-Key: demo-carol-admin-key' '{gateway}api/governance/audit?taskId={id}'");
return task["status"]?.GetValue<string>() == "Completed" ? 0 : 2;

HttpClient Client(string key)
{
    var client = new HttpClient { BaseAddress = gateway, Timeout = Timeout.InfiniteTimeSpan };
    client.DefaultRequestHeaders.Add("X-Api-Key", key);
    return client;
}

async Task ApproveWhenAskedAsync(Guid taskId, CancellationToken token)
{
    try
    {
        while (!token.IsCancellationRequested)
        {
            await Task.Delay(500, token);
            var pending = JsonNode.Parse(await bob.GetStringAsync(new Uri("api/governance/approvals?status=Pending", UriKind.Relative), token));
            var items = pending is JsonArray array ? array : pending?["items"]?.AsArray();
            var mine = items?.FirstOrDefault(a => a?["taskId"]?.GetValue<Guid>() == taskId);
            if (mine is null)
            {
                continue;
            }

            Console.WriteLine($"  >> approval needed for {mine["tool"]}: {mine["reason"]}");
            Console.WriteLine($"  >> bob (approver) reviews the exact arguments and approves: {mine["argumentsJson"]}");
            using var decided = await bob.PostAsJsonAsync($"api/governance/approvals/{mine["id"]}/approve", new { comment = "Reviewed in the demo" }, token);
            Console.WriteLine($"  >> decision recorded ({(int)decided.StatusCode})");
            return;
        }
    }
    catch (OperationCanceledException)
    {
    }
}

static string Describe(string kind, string data)
{
    try
    {
        var node = JsonNode.Parse(data);
        var step = node?["stepId"]?.GetValue<string>();
        var status = node?["status"]?.ToString();
        var detail = node?["data"] is JsonObject o
            ? string.Join(", ", o.Where(p => p.Value is JsonValue).Take(4).Select(p => $"{p.Key}={Shorten(p.Value!.ToString())}"))
            : string.Empty;
        return $"[{status}] {node?["kind"] ?? kind}{(step is null ? string.Empty : " " + step)} {detail}".TrimEnd();
    }
    catch (JsonException)
    {
        return $"{kind}: {Shorten(data)}";
    }
}

static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
