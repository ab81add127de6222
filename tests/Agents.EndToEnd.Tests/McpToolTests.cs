using System.Net;
using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>Tools of real MCP servers (from npm) called by tasks through the whole platform, under the demo policy.</summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class McpToolTests(PlatformFixture platform)
{
    [Fact]
    public async Task A_read_only_MCP_tool_runs_at_once_and_a_destructive_one_waits_for_a_person()
    {
        // carol's admin role grants every tool and scope; the demo policy's rule {Mutating, minRisk High}
        // is what gates write_file, whose destructiveHint makes it Mutating and High.
        using var carol = platform.CreateClient(PlatformFixture.CarolKey);
        using var bob = platform.CreateClient(PlatformFixture.BobKey);
        var path = Path.Combine(platform.McpFiles, $"note-{Guid.NewGuid():N}.txt");

        var id = await SubmitAsync(carol, new
        {
            steps = new object[]
            {
                new { id = "echo", kind = "tool", tool = "mcp.everything.echo", argumentsJson = "{\"message\":\"ping\"}", dependsOn = Array.Empty<string>() },
                new { id = "write", kind = "tool", tool = "mcp.filesystem.write_file", argumentsJson = JsonSerializer.Serialize(new { path, content = "approved note" }), dependsOn = new[] { "echo" } },
            },
        });

        await TaskClient.WaitForStatusAsync(carol, id, "AwaitingApproval", TimeSpan.FromMinutes(4));
        var approval = await TaskClient.FindPendingApprovalAsync(bob, id, TimeSpan.FromMinutes(2));
        Assert.Equal("mcp.filesystem.write_file", approval.GetProperty("tool").GetString());
        Assert.False(File.Exists(path), "nothing may be written before the approval");

        using (var approved = await TaskClient.DecideAsync(bob, approval.GetProperty("id").GetGuid(), approve: true, "fine to write"))
        {
            Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        }

        var task = await TaskClient.WaitForStatusAsync(carol, id, "Completed", TimeSpan.FromMinutes(4));
        Assert.Equal("approved note", await File.ReadAllTextAsync(path));
        var echo = task.GetProperty("result").GetProperty("echo").GetProperty("content")[0].GetProperty("text").GetString();
        Assert.Equal("Echo: ping", echo);

        using var trail = await TaskClient.AuditTrailAsync(carol, id, t =>
            TaskClient.ToolCalls(t, "mcp.filesystem.write_file").Count >= 2 && TaskClient.ToolCalls(t, "mcp.everything.echo").LastOrDefault() == "tool.executed Succeeded");
        List<string> Calls(string tool) => TaskClient.ToolCalls(trail.RootElement, tool);
        Assert.Equal("tool.executed Succeeded", Calls("mcp.everything.echo").Last());
        Assert.DoesNotContain("tool.awaiting-approval ApprovalRequired", Calls("mcp.everything.echo"));
        Assert.Equal(["tool.awaiting-approval ApprovalRequired", "tool.executed Succeeded"], Calls("mcp.filesystem.write_file"));
    }

    /// <summary>
    /// Submits, sending the same submission again (same Idempotency-Key) while the executor answers 503
    /// "nothing was created", as its problem details advise: a busy machine must not fail the test.
    /// </summary>
    internal static async Task<Guid> SubmitAsync(HttpClient client, object body)
    {
        var key = Guid.NewGuid().ToString("N");
        var status = HttpStatusCode.ServiceUnavailable;
        var text = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "api/tasks") { Content = System.Net.Http.Json.JsonContent.Create(body) };
                request.Headers.Add("Idempotency-Key", key);
                using var response = await client.SendAsync(request);
                text = await response.Content.ReadAsStringAsync();
                return (status = response.StatusCode) != HttpStatusCode.ServiceUnavailable;
            },
            () => $"POST /api/tasks to be taken (it answered {(int)status}: {text})",
            TimeSpan.FromSeconds(90),
            TimeSpan.FromMilliseconds(500));
        Assert.True(status == HttpStatusCode.Accepted, $"POST /api/tasks answered {(int)status}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    [Fact]
    public async Task The_registry_shows_MCP_tools_with_the_class_their_annotations_give()
    {
        // An admin sees every tool (alice's role is not granted the MCP tools, so the registry does not show them to her).
        using var carol = platform.CreateClient(PlatformFixture.CarolKey);

        using var write = JsonDocument.Parse(await carol.GetStringAsync(new Uri("api/tools/mcp.filesystem.write_file", UriKind.Relative)));
        using var read = JsonDocument.Parse(await carol.GetStringAsync(new Uri("api/tools/mcp.filesystem.read_text_file", UriKind.Relative)));

        Assert.Equal("Mutating", write.RootElement.GetProperty("sideEffect").GetString());
        Assert.Equal("High", write.RootElement.GetProperty("risk").GetString());
        Assert.Equal("ReadOnly", read.RootElement.GetProperty("sideEffect").GetString());
        Assert.Equal("object", write.RootElement.GetProperty("inputSchema").GetProperty("type").GetString());
    }
}
