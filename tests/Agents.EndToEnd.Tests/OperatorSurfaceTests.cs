using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Agents.Testing;
using RabbitMQ.Client;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// What an operator uses, against the whole platform: the API reference at the gateway, the <c>agents</c> CLI (run as its
/// own process), dead letters across services with their tenant boundary, and the trace id of a task.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class OperatorSurfaceTests(PlatformFixture platform)
{
    [Fact]
    public async Task The_gateway_serves_one_valid_api_reference_of_every_service_and_a_docs_page_that_loads_nothing_from_outside()
    {
        using var anonymous = new HttpClient { BaseAddress = platform.GatewayAddress };

        var document = OpenApiAssertions.AssertValid(await anonymous.GetStringAsync(new Uri("openapi/agents.json", UriKind.Relative)));

        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        foreach (var expected in new[]
        {
            "/api/tasks/", "/api/tasks/{id}", "/api/tasks/{id}/events", "/api/plans/{taskId}", "/api/templates/{name}", "/api/tools/",
            "/api/memories/recall", "/api/governance/policy", "/api/governance/policy/schema", "/api/governance/approvals/{id}/approve", "/api/governance/audit/verify",
            "/api/dead-letters/", "/api/dead-letters/{service}/{queue}/{messageId}/redeliver",
        })
        {
            Assert.Contains(paths, p => OpenApiAssertions.Normalise(p) == OpenApiAssertions.Normalise(expected));
        }

        // Only what the gateway routes: a service's own dead-letter API (/api/dead-letters/{queue}) is not reachable from outside.
        Assert.DoesNotContain(paths, p => p.StartsWith("/api/dead-letters/{queue}", StringComparison.Ordinal));
        Assert.Null(document["info"]!["x-agents-unavailable"]);
        Assert.Equal("X-Api-Key", document["components"]!["securitySchemes"]!["ApiKey"]!["name"]!.GetValue<string>());
        Assert.NotNull(document["security"]!.AsArray().Single(r => r!["ApiKey"] is not null));

        var page = await anonymous.GetStringAsync(new Uri("docs/", UriKind.Relative));
        Assert.Contains("openapi/agents.json", page, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", page, StringComparison.Ordinal);
        using var script = await anonymous.GetAsync(new Uri("docs/scalar.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 100_000, "the reference's script is served by the gateway itself");
    }

    [Fact]
    public async Task The_cli_submits_a_task_an_approver_approves_it_with_the_cli_and_watch_follows_it_to_completion()
    {
        var gateway = platform.GatewayAddress;

        var tools = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "tools", "list", "--output", "json");
        Assert.True(tools.ExitCode == 0, tools.ToString());
        Assert.Contains(JsonNode.Parse(tools.Out)!.AsArray(), t => t!["name"]!.GetValue<string>() == "tickets.create");

        var submitted = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey,
            "submit", "--template", "triage-customer-issue", "--param", "customerId=C-1001", "--param", "question=I cannot log in since yesterday",
            "--param", $"article={platform.KnowledgeBaseUrl("outage-status")}", "--detach");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var id = Guid.Parse(submitted.Out.Trim());

        // The reply was drafted from a page that hides instructions to AI agents: even though the demo policy lets untrusted
        // content flow into a ticket's body, this content waits for a person. Bob finds it with the CLI and approves it.
        JsonNode? approval = null;
        await Poll.UntilAsync(
            async () =>
            {
                var pending = await CliProcess.RunAsync(gateway, PlatformFixture.BobKey, "approvals", "list", "-o", "json");
                Assert.True(pending.ExitCode == 0, pending.ToString());
                approval = JsonNode.Parse(pending.Out)!.AsArray().FirstOrDefault(a => a!["taskId"]!.GetValue<string>() == id.ToString());
                return approval is not null;
            },
            TimeSpan.FromSeconds(90),
            $"the CLI to list a pending approval for task {id}",
            TimeSpan.FromMilliseconds(500));
        var listed = await CliProcess.RunAsync(gateway, PlatformFixture.BobKey, "approvals", "list");
        Assert.Contains("tickets.create", listed.Out, StringComparison.Ordinal);
        var approved = await CliProcess.RunAsync(gateway, PlatformFixture.BobKey, "approvals", "approve", approval!["id"]!.GetValue<string>(), "--comment", "reply reviewed");
        Assert.True(approved.ExitCode == 0, approved.ToString());
        Assert.Contains("Approved by bob", approved.Out, StringComparison.Ordinal);

        var watched = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "tasks", "watch", id.ToString());
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Contains("approval", watched.Out, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Status:   Completed", watched.Out, StringComparison.Ordinal);

        var task = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "tasks", "get", id.ToString(), "-o", "json");
        Assert.Matches("^[0-9a-f]{32}$", JsonNode.Parse(task.Out)!["traceId"]!.GetValue<string>());
        var log = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "tasks", "log", id.ToString());
        Assert.Contains("finished", log.Out, StringComparison.Ordinal);

        // Another tenant's user does not find it: refused, exit code 3.
        var foreign = await CliProcess.RunAsync(gateway, PlatformFixture.DaveKey, "tasks", "get", id.ToString());
        Assert.Equal(3, foreign.ExitCode);
        Assert.Contains("404", foreign.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_demo_run_with_the_cli_completes_without_a_person_and_its_session_is_kept_as_a_transcript()
    {
        var gateway = platform.GatewayAddress;
        var transcript = new System.Text.StringBuilder();
        async Task<CliProcess.Run> Agents(string key, string shown, params string[] args)
        {
            var run = await CliProcess.RunAsync(gateway, key, args);
            transcript.Append("$ ").Append(shown).Append("agents ").AppendJoin(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a)).AppendLine();
            transcript.Append(run.Out).Append(run.Error);
            if (run.ExitCode != 0)
            {
                transcript.AppendLine($"$ echo $?\n{run.ExitCode}");
            }

            return run;
        }

        // The demo's task (samples/Agents.Demo), its plain password-reset article served by this run's knowledge base.
        var submitted = await Agents(PlatformFixture.AliceKey, string.Empty,
            "submit", "--template", "triage-customer-issue", "--param", "customerId=C-1001", "--param", "question=I cannot log in since yesterday",
            "--param", $"article={platform.KnowledgeBaseUrl("password-reset")}");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        Assert.Contains("Status:   Completed", submitted.Out, StringComparison.Ordinal);
        var id = System.Text.RegularExpressions.Regex.Match(submitted.Out, "Task ([0-9a-f-]{36}) submitted").Groups[1].Value;
        Assert.True(Guid.TryParse(id, out _), submitted.ToString());
        Assert.Equal(1, await platform.TicketExecutionsAsync(Guid.Parse(id)));

        var task = await Agents(PlatformFixture.AliceKey, string.Empty, "tasks", "get", id);
        Assert.True(task.ExitCode == 0, task.ToString());
        Assert.Contains("T-", task.Out, StringComparison.Ordinal);
        var log = await Agents(PlatformFixture.AliceKey, string.Empty, "tasks", "log", id);
        Assert.True(log.ExitCode == 0, log.ToString());
        Assert.DoesNotContain("approval-required", log.Out, StringComparison.Ordinal);
        var approvals = await Agents(PlatformFixture.BobKey, "AGENTS_API_KEY=demo-bob-approver-key ", "approvals", "list");
        Assert.True(approvals.ExitCode == 0, approvals.ToString());
        Assert.DoesNotContain(id, approvals.Out, StringComparison.Ordinal);
        var verified = await Agents(PlatformFixture.CarolKey, "AGENTS_API_KEY=demo-carol-admin-key ", "audit", "verify");
        Assert.True(verified.ExitCode == 0, verified.ToString());

        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "cli-sessions"));
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "demo.txt"), transcript.ToString());
    }

    [Fact]
    public async Task The_cli_submit_follows_a_task_to_its_end_and_policy_set_with_a_stale_version_fails_its_precondition()
    {
        var gateway = platform.GatewayAddress;

        var run = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey,
            "submit", "--template", "lookup-and-summarize", "--param", "customerId=C-1002", "--param", $"article={platform.KnowledgeBaseUrl("password-reset")}");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("submitted", run.Out, StringComparison.Ordinal);
        Assert.Contains("Status:   Completed", run.Out, StringComparison.Ordinal);

        var policy = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "policy", "get", "-o", "json");
        Assert.True(policy.ExitCode == 0, policy.ToString());
        var current = JsonNode.Parse(policy.Out)!;
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, current["document"]!.ToJsonString());
            var stale = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "policy", "set", file, "--version", (current["version"]!.GetValue<int>() + 7).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(3, stale.ExitCode);
            Assert.Contains("412", stale.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }

        var unchanged = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "policy", "get", "-o", "json");
        Assert.Equal(current["version"]!.GetValue<int>(), JsonNode.Parse(unchanged.Out)!["version"]!.GetValue<int>());
        var verified = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "audit", "verify");
        Assert.True(verified.ExitCode == 0, verified.ToString());
        Assert.Contains("Audit chain intact", verified.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_validates_a_policy_file_against_the_schema_the_gateway_serves_in_the_words_of_a_refused_write()
    {
        var gateway = platform.GatewayAddress;
        var schema = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "policy", "schema");
        Assert.True(schema.ExitCode == 0, schema.ToString());
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", JsonNode.Parse(schema.Out)!["$schema"]!.GetValue<string>());

        var policy = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "policy", "get", "-o", "json");
        Assert.True(policy.ExitCode == 0, policy.ToString());
        var good = Path.GetTempFileName();
        var bad = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(good, JsonNode.Parse(policy.Out)!["document"]!.ToJsonString());
            await File.WriteAllTextAsync(bad, """{"enabled": true, "adminRole": "admin", "approverRoles": ["approver"], "approvalRules": [{}]}""");

            var accepted = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "policy", "validate", good);
            var refused = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "policy", "validate", bad);
            var written = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "policy", "set", bad, "--force");

            Assert.True(accepted.ExitCode == 0, accepted.ToString());
            Assert.True(refused.ExitCode == 1, refused.ToString());
            const string Problem = "/approvalRules/0: A rule needs at least one of 'tool', 'sideEffect', 'minRisk' or 'argument'; an empty rule would match every call.";
            Assert.Equal(Problem, refused.Out.Trim());
            Assert.Equal(3, written.ExitCode);
            Assert.Contains(Problem, written.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(good);
            File.Delete(bad);
        }
    }

    [Fact]
    public async Task A_poison_message_lands_in_error_is_listed_shown_and_redelivered_and_only_its_tenant_admin_and_operators_see_it()
    {
        var gateway = platform.GatewayAddress;
        var overview = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "list", "-o", "json");
        Assert.True(overview.ExitCode == 0, overview.ToString());
        var queues = JsonNode.Parse(overview.Out)!;
        Assert.Empty(queues["unavailable"]!.AsArray());
        foreach (var service in new[] { "executor", "planner", "toolgateway", "memory", "governance" })
        {
            Assert.Contains(queues["queues"]!.AsArray(), q => q!["service"]!.GetValue<string>() == service);
        }

        var queue = queues["queues"]!.AsArray()
            .Select(q => q!["queue"]!.GetValue<string>())
            .Single(q => q.EndsWith("task-run", StringComparison.Ordinal) || q.EndsWith("task-run-state", StringComparison.Ordinal));

        // A message the saga cannot read: a CancelTask whose task id is not a GUID, for tenant demo.
        var messageId = Guid.NewGuid().ToString();
        await PublishPoisonAsync(queue, messageId);

        JsonNode? listed = null;
        await Poll.UntilAsync(
            async () =>
            {
                var run = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "list", "executor", queue, "-o", "json");
                Assert.True(run.ExitCode == 0, run.ToString());
                listed = JsonNode.Parse(run.Out)!.AsArray().FirstOrDefault(m => m!["messageId"]!.GetValue<string>() == messageId);
                return listed is not null;
            },
            TimeSpan.FromSeconds(90),
            $"the poison message in {queue}_error",
            TimeSpan.FromSeconds(1));
        Assert.Equal("demo", listed!["tenantId"]!.GetValue<string>());
        Assert.Contains("CancelTask", listed["messageType"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(listed["exceptionType"]?.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(listed["firstFaultedAt"]?.GetValue<string>()));

        var table = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "list", "executor", queue);
        Assert.Contains(messageId, table.Out, StringComparison.Ordinal);
        var shown = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "show", "executor", queue, messageId);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("not-a-task-id", shown.Out, StringComparison.Ordinal);

        // Another tenant's admin does not see it (not even to redeliver); a user without an admin role is refused; the
        // platform operator sees it.
        var erin = await CliProcess.RunAsync(gateway, PlatformFixture.ErinKey, "dlq", "list", "executor", queue, "-o", "json");
        Assert.DoesNotContain(JsonNode.Parse(erin.Out)!.AsArray(), m => m!["messageId"]!.GetValue<string>() == messageId);
        var erinShow = await CliProcess.RunAsync(gateway, PlatformFixture.ErinKey, "dlq", "show", "executor", queue, messageId);
        Assert.Equal(3, erinShow.ExitCode);
        var erinRedeliver = await CliProcess.RunAsync(gateway, PlatformFixture.ErinKey, "dlq", "redeliver", "executor", queue, messageId);
        Assert.Equal(3, erinRedeliver.ExitCode);
        var alice = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "dlq", "list");
        Assert.Equal(3, alice.ExitCode);
        Assert.Contains("403", alice.Error, StringComparison.Ordinal);
        var olga = await CliProcess.RunAsync(gateway, PlatformFixture.OlgaKey, "dlq", "list", "executor", queue, "-o", "json");
        Assert.Contains(JsonNode.Parse(olga.Out)!.AsArray(), m => m!["messageId"]!.GetValue<string>() == messageId);

        // Redelivered: still unreadable, it fails again and comes back, counted, with its first failure time kept.
        var redelivered = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "redeliver", "executor", queue, messageId);
        Assert.True(redelivered.ExitCode == 0, redelivered.ToString());
        Assert.Contains("Redelivered 1 message(s).", redelivered.Out, StringComparison.Ordinal);
        JsonNode? back = null;
        await Poll.UntilAsync(
            async () =>
            {
                var run = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "dlq", "list", "executor", queue, "-o", "json");
                back = JsonNode.Parse(run.Out)!.AsArray().FirstOrDefault(m => m!["messageId"]!.GetValue<string>() == messageId && m["redeliveries"]!.GetValue<int>() == 1);
                return back is not null;
            },
            TimeSpan.FromSeconds(90),
            "the redelivered poison message to come back to the error queue",
            TimeSpan.FromSeconds(1));
        Assert.Equal(listed["firstFaultedAt"]!.GetValue<string>(), back!["firstFaultedAt"]!.GetValue<string>());
    }

    internal static async Task PublishPoisonAsync(string queue, string messageId, string messageType = "CancelTask")
    {
        var broker = new Uri(TestInfrastructure.RabbitMq);
        var user = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]);
        var factory = new ConnectionFactory
        {
            HostName = broker.Host,
            Port = broker.Port,
            UserName = user,
            Password = Uri.UnescapeDataString(broker.UserInfo.Split(':')[1]),
            VirtualHost = broker.AbsolutePath.Length > 1 ? Uri.UnescapeDataString(broker.AbsolutePath[1..]) : "/",
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var envelope = new JsonObject
        {
            ["messageId"] = messageId,
            ["messageType"] = new JsonArray($"urn:message:Agents.Contracts:{messageType}"),
            ["message"] = new JsonObject
            {
                ["taskId"] = "not-a-task-id",
                ["callId"] = "not-a-call-id",
                ["principal"] = new JsonObject { ["tenantId"] = "demo", ["userId"] = "mallory", ["roles"] = new JsonArray() },
                ["reason"] = "poison",
            },
        };
        var properties = new BasicProperties { MessageId = messageId, ContentType = "application/vnd.masstransit+json", Persistent = true };
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Encoding.UTF8.GetBytes(envelope.ToJsonString()));
    }
}
