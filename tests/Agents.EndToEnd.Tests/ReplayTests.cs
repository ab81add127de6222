using System.Net;
using System.Text.Json;
using Npgsql;

namespace Agents.EndToEnd.Tests;

[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ReplayTests(PlatformFixture platform)
{
    [Fact]
    public async Task A_replay_of_an_approved_triage_reproduces_it_through_the_gateway_with_no_tool_call_no_ticket_and_no_approval()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        using var bob = platform.CreateClient(PlatformFixture.BobKey);
        var id = await platform.SubmitTriageAsync(alice, customerId: "C-1003");
        await TaskClient.WaitForStatusAsync(alice, id, "AwaitingApproval");
        var approval = await TaskClient.FindPendingApprovalAsync(bob, id, TimeSpan.FromSeconds(30));
        using (var approved = await TaskClient.DecideAsync(bob, approval.GetProperty("id").GetGuid(), approve: true, "reply reviewed"))
        {
            Assert.True(approved.IsSuccessStatusCode, await approved.Content.ReadAsStringAsync());
        }

        var original = await TaskClient.WaitForStatusAsync(alice, id, "Completed");
        Assert.Equal(1, await platform.TicketExecutionsAsync(id));

        using var started = await alice.PostAsync(new Uri($"api/tasks/{id}/replay", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var replay = JsonDocument.Parse(await started.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        // The recorded approval is not asked again: the replay serves the approved call's answer.
        var replayed = await TaskClient.WaitForStatusAsync(alice, replay, "Completed");
        Assert.Equal(original.GetProperty("result").GetRawText(), replayed.GetProperty("result").GetRawText());
        Assert.Equal(0, replayed.GetProperty("usage").GetProperty("outputTokens").GetInt32());

        // Nothing reached a tool: no ticket, no ledger execution, no tool-gateway record for the replay.
        Assert.Equal(0, await platform.TicketsOfAsync(replay));
        Assert.Equal(0, await platform.TicketExecutionsAsync(replay));
        await using (var connection = new NpgsqlConnection(platform.DatabaseConnections["toolgateway"]))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM tool_calls WHERE task_id = @task", connection);
            command.Parameters.AddWithValue("task", replay);
            Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
        }

        using var report = JsonDocument.Parse(await alice.GetStringAsync(new Uri($"api/tasks/{replay}/replay", UriKind.Relative)));
        var root = report.RootElement;
        Assert.Equal(0, root.GetProperty("liveCalls").GetInt32());
        Assert.True(root.GetProperty("resultMatches").GetBoolean(), root.GetRawText());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("firstDivergence").ValueKind);
        Assert.All(root.GetProperty("steps").EnumerateArray(), s => Assert.True(s.GetProperty("matches").GetBoolean(), s.GetRawText()));
    }
}
