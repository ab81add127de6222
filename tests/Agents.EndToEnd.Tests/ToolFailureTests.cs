using System.Text.Json;
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
        await using var connection = new NpgsqlConnection(platform.DatabaseConnections["tool-crm"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT attempts, executions FROM tool_ledger WHERE idempotency_key LIKE @key AND operation = 'execute'", connection);
        command.Parameters.AddWithValue("key", $"{id:N}%");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(3, reader.GetInt32(0));
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
}
