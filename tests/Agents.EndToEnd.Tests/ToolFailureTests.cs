using System.Net;
using System.Text;
using System.Text.Json;
using Agents.Testing;
using Npgsql;

namespace Agents.EndToEnd.Tests;

[Collection(FaultyToolsCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ToolFailureTests(FaultyToolsFixture platform)
{
    [Fact]
    public async Task A_transiently_failing_tool_is_retried_and_the_task_completes()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);

        var id = await TaskClient.SubmitAsync(alice, new
        {
            steps = new[] { new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", argumentsJson = "{\"customerId\":\"C-1004\"}", dependsOn = Array.Empty<string>() } },
        });

        var task = await TaskClient.WaitForStatusAsync(alice, id, "Completed");
        Assert.Equal("C-1004", task.GetProperty("result").GetProperty("lookup").GetProperty("id").GetString());
        // The tool-gateway's record of the call: two injected transient failures, then the attempt that worked (a read-only
        // tool keeps no ledger of its own in its host).
        await using var connection = new NpgsqlConnection(platform.DatabaseConnections["toolgateway"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT attempts, outcome, invocations FROM tool_calls WHERE task_id = @task AND tool = 'crm.lookup-customer'", connection);
        command.Parameters.AddWithValue("task", id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("Succeeded", reader.GetString(1));

        // A call invoked again before it finished (on a machine too busy for the attempts to end within the executor's step
        // timeout, the executor invokes the step again with the same key) restarts the record's count: it then holds the
        // attempts of the latest invocation only.
        if (reader.GetInt32(2) == 1)
        {
            Assert.Equal(3, reader.GetInt32(0));
        }
        else
        {
            Assert.InRange(reader.GetInt32(0), 1, 3);
        }
    }

    [Fact]
    public async Task A_tool_that_keeps_failing_opens_its_circuit_and_the_task_fails_with_its_partial_result()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);

        var id = await TaskClient.SubmitAsync(alice, new
        {
            steps = new object[]
            {
                new { id = "intro", kind = "model", prompt = "Write one line greeting the support team.", dependsOn = Array.Empty<string>() },
                new { id = "kb", kind = "tool", tool = "web.fetch", argumentsJson = JsonSerializer.Serialize(new { url = platform.KnowledgeBaseUrl("outage-status") }), dependsOn = new[] { "intro" } },
            },
        });

        var task = await TaskClient.WaitForStatusAsync(alice, id, "Failed", TimeSpan.FromSeconds(120));
        Assert.True(task.GetProperty("result").TryGetProperty("intro", out _), $"partial result lacks the completed step: {task}");
        var log = await alice.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative));
        Assert.Contains("CircuitOpen", log, StringComparison.Ordinal);
        using var tool = JsonDocument.Parse(await alice.GetStringAsync(new Uri("api/tools/web.fetch", UriKind.Relative)));
        Assert.Equal("Open", tool.RootElement.GetProperty("circuit").GetProperty("state").GetString());
    }

    [Fact]
    public async Task An_mcp_server_that_crashes_on_every_call_opens_the_tools_circuit_until_it_is_back_and_a_trial_succeeds()
    {
        using var frank = platform.CreateClient(PlatformFixture.FrankKey);
        const string policy = """
            {
              "enabled": true,
              "adminRole": "admin",
              "approverRoles": ["approver"],
              "roles": { "agent-user": { "tools": ["mcp.fake.*"], "scopes": ["mcp.fake"] } }
            }
            """;
        using (var put = await frank.PutAsync(new Uri("api/governance/policy", UriKind.Relative), new StringContent(policy, Encoding.UTF8, "application/json")))
        {
            Assert.True(put.IsSuccessStatusCode, $"PUT policy answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }

        await WaitForToolAsync(frank, "mcp.fake.echo");

        // Every call of this task makes the server exit mid-call: a read-only tool, so each attempt fails transiently
        // and the tool-gateway retries it until the third consecutive failure opens the circuit; the executor's retries
        // of the step are then refused without reaching the server.
        var crashing = await SubmitEchoAsync(frank, crash: true);
        await TaskClient.WaitForStatusAsync(frank, crashing, "Failed", TimeSpan.FromSeconds(120));
        var crashLog = await frank.GetStringAsync(new Uri($"api/tasks/{crashing}/log", UriKind.Relative));
        Assert.Contains("MCP server 'fake'", crashLog, StringComparison.Ordinal);
        Assert.Contains("\"outcome\":\"CircuitOpen\"", crashLog, StringComparison.Ordinal);
        var circuit = await CircuitAsync(frank);
        Assert.True(circuit.GetProperty("consecutiveFailures").GetInt32() >= 3, circuit.ToString());

        // The host starts the server again and announces its tools again, which ends the break: the next call is the
        // trial, and a call that does not crash closes the circuit.
        await Poll.UntilAsync(
            async () => (circuit = await CircuitAsync(frank)).GetProperty("state").GetString() == "HalfOpen",
            () => $"the circuit to become half-open after the server restarted (last: {circuit})",
            TimeSpan.FromSeconds(90),
            TimeSpan.FromMilliseconds(250));

        var healthy = await SubmitEchoAsync(frank, crash: false);
        var task = await TaskClient.WaitForStatusAsync(frank, healthy, "Completed", TimeSpan.FromSeconds(120));
        Assert.Contains("echo: healthy", task.GetProperty("result").GetProperty("echo").ToString(), StringComparison.Ordinal);
        circuit = await CircuitAsync(frank);
        Assert.Equal("Closed", circuit.GetProperty("state").GetString());
        Assert.Equal(0, circuit.GetProperty("consecutiveFailures").GetInt32());
    }

    private static async Task<JsonElement> CircuitAsync(HttpClient client)
    {
        using var tool = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/tools/mcp.fake.echo", UriKind.Relative)));
        return tool.RootElement.GetProperty("circuit").Clone();
    }

    private static Task<Guid> SubmitEchoAsync(HttpClient client, bool crash) => TaskClient.SubmitAsync(client, new
    {
        steps = new[]
        {
            new
            {
                id = "echo",
                kind = "tool",
                tool = "mcp.fake.echo",
                argumentsJson = JsonSerializer.Serialize(new { text = "healthy", crash }),
                dependsOn = Array.Empty<string>(),
            },
        },
    });

    private static async Task WaitForToolAsync(HttpClient client, string name)
    {
        var last = HttpStatusCode.OK;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri("api/tools/" + name, UriKind.Relative));
                return (last = response.StatusCode) == HttpStatusCode.OK;
            },
            () => $"{name} to be registered (last answer {(int)last})",
            TimeSpan.FromSeconds(90),
            TimeSpan.FromMilliseconds(250));
    }
}
