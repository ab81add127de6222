using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ReplayApiTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    private static Uri Url(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task A_finished_task_replays_with_zero_live_calls_and_its_report_matches_step_by_step()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        var id = await ExecutorApiFixture.SubmitAsync(client, new
        {
            steps = new[] { new { id = "hello", kind = "model", prompt = "Say hello to {{params.name}}", dependsOn = Array.Empty<string>() } },
            parameters = new Dictionary<string, string> { ["name"] = "Ada" },
        });
        await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "submitted");

        using (var early = await client.PostAsync(Url($"/api/tasks/{id}/replay"), null))
        {
            Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        }

        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(), null));
        var original = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["status"]!.GetValue<string>() == "Completed", "the original completed");
        Assert.True(original["usage"]!["outputTokens"]!.GetValue<int>() > 0);

        // A body that is not {"whatIf": bool} is refused with a problem: 415 for another content type, 400 for other JSON.
        foreach (var (body, type, status) in new[]
        {
            ("nope", "text/plain", HttpStatusCode.UnsupportedMediaType),
            ("""{"whatIf":"yes"}""", "application/json", HttpStatusCode.BadRequest),
            ("""{"model":"x"}""", "application/json", HttpStatusCode.BadRequest),
        })
        {
            using var bad = await client.PostAsync(Url($"/api/tasks/{id}/replay"), new StringContent(body, System.Text.Encoding.UTF8, type));
            Assert.Equal(status, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
        }

        using var started = await client.PostAsync(Url($"/api/tasks/{id}/replay"), null);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var replay = (await started.Content.ReadFromJsonAsync<JsonNode>())!["id"]!.GetValue<Guid>();
        Assert.Equal($"/api/tasks/{replay}/replay", started.Headers.Location!.OriginalString);
        await fixture.PublishAsync(new TaskAdmitted(replay, new TaskLimits(), null));
        var replayed = await ExecutorApiFixture.WaitForTaskAsync(client, replay, t => t["status"]!.GetValue<string>() == "Completed", "the replay completed");

        // The model answered from the recording: no tokens, no cost; the same result.
        Assert.Equal(0, replayed["usage"]!["outputTokens"]!.GetValue<int>());
        Assert.Equal(original["result"]!.ToJsonString(), replayed["result"]!.ToJsonString());

        var report = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{replay}/replay")))!;
        Assert.Equal(id, report["replayOf"]!.GetValue<Guid>());
        Assert.True(report["finished"]!.GetValue<bool>());
        Assert.Equal(0, report["liveCalls"]!.GetValue<int>());
        Assert.Equal(1, report["served"]!.GetValue<int>());
        Assert.True(report["resultMatches"]!.GetValue<bool>());
        Assert.Null(report["firstDivergence"]);
        var step = Assert.Single(report["steps"]!.AsArray())!;
        Assert.True(step["matches"]!.GetValue<bool>());
        Assert.Equal("Say hello to Ada", step["replayInput"]!.GetValue<string>());

        // A task that is not a replay has no replay report; someone else's task cannot be replayed.
        using var notReplay = await client.GetAsync(Url($"/api/tasks/{id}/replay"));
        Assert.Equal(HttpStatusCode.NotFound, notReplay.StatusCode);
        using var stranger = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        using var refused = await stranger.PostAsync(Url($"/api/tasks/{id}/replay"), null);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
    }
}
