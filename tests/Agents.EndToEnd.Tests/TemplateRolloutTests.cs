using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// A tenant admin rolls a new template version out to half of the new tasks with the CLI, through the gateway: the tasks
/// run on both versions, each names the one it ran, the per-version figures count them, a rollback sends every new task
/// to the stable version, and a replay with the candidate shows where it would have differed.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class TemplateRolloutTests(PlatformFixture platform)
{
    [Fact]
    public async Task A_candidate_version_serves_its_share_is_counted_apart_and_a_rollback_takes_it_out()
    {
        var gateway = platform.GatewayAddress;
        var name = "brief-" + Guid.NewGuid().ToString("N")[..8];
        var samples = Path.Combine(McpServers.RepositoryRoot(), "samples", "templates");
        var first = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "templates", "put", name, Path.Combine(samples, "customer-brief.v1.json"));
        var second = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "templates", "put", name, Path.Combine(samples, "customer-brief.v2.json"));
        var rollout = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "templates", "rollout", name, "--percent", "50");
        var refused = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "templates", "rollout", name, "--percent", "100");
        Assert.True(first.ExitCode == 0 && second.ExitCode == 0, $"{first}\n{second}");
        Assert.Contains($"version 2", second.Out, StringComparison.Ordinal);
        Assert.Equal(0, rollout.ExitCode);
        Assert.Contains("50 % of new tasks plan with version 2, the others with version 1", rollout.Out, StringComparison.Ordinal);
        Assert.Equal(3, refused.ExitCode); // not an admin: 403

        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        var ids = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => SubmitAsync(alice, name)));
        var tasks = await Task.WhenAll(ids.Select(id => TaskClient.WaitForStatusAsync(alice, id, "Completed")));
        var ran = tasks.Select(t => (Version: t.GetProperty("plan").GetProperty("templateVersion").GetInt32(), Rollout: t.GetProperty("plan").GetProperty("rollout").GetString())).ToList();
        Assert.All(ran, r => Assert.Equal(r.Version == 2 ? "candidate" : "stable", r.Rollout));
        var onCandidate = ran.Count(r => r.Version == 2);
        Assert.InRange(onCandidate, 4, 20); // half of 24: σ ≈ 2.4

        var versions = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "templates", "versions", name, "-o", "json");
        var figures = JsonDocument.Parse(versions.Out).RootElement.GetProperty("versions").EnumerateArray().ToList();
        var (stable, candidate) = (figures.Single(f => f.GetProperty("version").GetInt32() == 1), figures.Single(f => f.GetProperty("version").GetInt32() == 2));
        Assert.Equal((24 - onCandidate, onCandidate), (stable.GetProperty("tasks").GetInt32(), candidate.GetProperty("tasks").GetInt32()));
        Assert.Equal((1.0, 1.0), (stable.GetProperty("successRate").GetDouble(), candidate.GetProperty("successRate").GetDouble()));
        // The candidate's prompt is longer: more tokens per task, which the comparison weighs as cost.
        Assert.True(candidate.GetProperty("tokensPerTask").GetDouble() > stable.GetProperty("tokensPerTask").GetDouble(), versions.Out);
        var dearer = candidate.GetProperty("costPerTask").GetDouble() > stable.GetProperty("costPerTask").GetDouble() * 1.10;
        Assert.Equal(dearer ? 1 : 0, versions.ExitCode);

        // A rollback sends every new task to the stable version; the candidate is tried on a recorded task by replay.
        var rollback = await CliProcess.RunAsync(gateway, PlatformFixture.CarolKey, "templates", "rollback", name);
        Assert.Equal(0, rollback.ExitCode);
        var after = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ => await TaskClient.WaitForStatusAsync(alice, await SubmitAsync(alice, name), "Completed")));
        Assert.All(after, t => Assert.Equal(1, t.GetProperty("plan").GetProperty("templateVersion").GetInt32()));

        var replay = await CliProcess.RunAsync(gateway, PlatformFixture.AliceKey, "replay", after[0].GetProperty("id").GetString()!, "--template-version", "2", "-o", "json");
        Assert.Equal(1, replay.ExitCode); // it diverged
        var divergence = JsonDocument.Parse(replay.Out).RootElement.GetProperty("firstDivergence");
        Assert.Equal("brief", divergence.GetProperty("stepId").GetString());
    }

    private static Task<Guid> SubmitAsync(HttpClient client, string template) =>
        TaskClient.SubmitAsync(client, new { template, parameters = new Dictionary<string, string> { ["customerId"] = "C-1001" } });
}
