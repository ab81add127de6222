using System.Net;
using System.Text.Json.Nodes;

namespace Agents.Cli.Tests;

[Trait("Category", "Unit")]
public sealed class TemplateCommandTests
{
    private const string Rollout = """{"name":"triage","stableVersion":3,"candidateVersion":4,"percent":10,"updatedBy":"acme/carol","updatedAt":"2026-12-07T08:00:00+00:00"}""";

    [Fact]
    public async Task Rollout_defaults_the_candidate_to_the_newest_version_and_says_what_serves()
    {
        var gateway = new CannedGateway()
            .Answer("GET", "/api/templates/triage", HttpStatusCode.OK, """{"name":"triage","version":4}""")
            .Answer("PUT", "/api/templates/triage/rollout", HttpStatusCode.OK, Rollout);

        var run = await CliRun.RunAsync(gateway, null, null, "templates", "rollout", "triage", "--percent", "10");

        Assert.Equal(0, run.ExitCode);
        var put = gateway.Requests.Single(r => r.Method == HttpMethod.Put);
        Assert.Equal("""{"candidateVersion":4,"percent":10}""", put.Body);
        Assert.Contains("10 % of new tasks plan with version 4, the others with version 3", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_stores_the_file_as_the_next_version()
    {
        var file = Path.Combine(Path.GetTempPath(), $"template-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{"description":"d","parameters":[],"steps":[]}""");
        var gateway = new CannedGateway().Answer("PUT", "/api/templates/triage", HttpStatusCode.OK, """{"name":"triage","version":5}""");

        var run = await CliRun.RunAsync(gateway, null, null, "templates", "put", "triage", file);
        var missing = await CliRun.RunAsync(gateway, null, null, "templates", "put", "triage", file + ".gone");
        File.Delete(file);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("""{"description":"d","parameters":[],"steps":[]}""", gateway.Requests[0].Body);
        Assert.Contains("Stored template 'triage' version 5.", run.Out, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("could not be read", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollback_keeps_both_versions_and_sends_no_task_to_the_candidate()
    {
        var gateway = new CannedGateway()
            .Answer("GET", "/api/templates/triage/rollout", HttpStatusCode.OK, Rollout)
            .Answer("PUT", "/api/templates/triage/rollout", HttpStatusCode.OK, Rollout.Replace("\"percent\":10", "\"percent\":0", StringComparison.Ordinal));

        var run = await CliRun.RunAsync(gateway, null, null, "templates", "rollback", "triage");

        Assert.Equal(0, run.ExitCode);
        var body = JsonNode.Parse(gateway.Requests.Single(r => r.Method == HttpMethod.Put).Body!)!;
        Assert.Equal((4, 3, 0), (body["candidateVersion"]!.GetValue<int>(), body["stableVersion"]!.GetValue<int>(), body["percent"]!.GetValue<int>()));
        Assert.Contains("0 % of new tasks", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Versions_prints_each_version_and_exits_1_when_the_candidate_succeeds_less()
    {
        var gateway = new CannedGateway().Answer("GET", "/api/tasks/versions?template=triage&since=2026-12-01T00%3A00%3A00.0000000%2B00%3A00", HttpStatusCode.OK, Report(candidateRate: 0.80, candidateCost: 0.010));

        var run = await CliRun.RunAsync(gateway, null, null, "templates", "versions", "triage", "--since", "2026-12-01T00:00:00Z");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("REGRESSED: success rate 80 % (version 4) against 95 % (version 3); allowed drop 5 %.", run.Out, StringComparison.Ordinal);
        Assert.Contains("ok: cost per task 0.01 against 0.01", run.Out, StringComparison.Ordinal);
        Assert.Contains("candidate", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Versions_exits_0_when_the_candidate_holds_up_and_1_when_it_costs_more_than_allowed()
    {
        var holds = new CannedGateway().Answer("GET", "/api/tasks/versions?template=triage", HttpStatusCode.OK, Report(candidateRate: 0.93, candidateCost: 0.0105));
        var dearer = new CannedGateway().Answer("GET", "/api/tasks/versions?template=triage", HttpStatusCode.OK, Report(candidateRate: 0.97, candidateCost: 0.02));

        var ok = await CliRun.RunAsync(holds, null, null, "templates", "versions", "triage");
        var regressed = await CliRun.RunAsync(dearer, null, null, "templates", "versions", "triage");

        Assert.Equal(0, ok.ExitCode);
        Assert.Equal(1, regressed.ExitCode);
        Assert.Contains("REGRESSED: cost per task 0.02 against 0.01; allowed rise 10 %.", regressed.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void With_one_version_there_is_nothing_to_compare()
    {
        var only = JsonNode.Parse("""{"version":3,"rollout":null,"successRate":0.5,"costPerTask":0.01}""")!;

        var (regressed, lines) = Commands.TemplateCommands.Compare([only], null, null, 0.05, 0.10);

        Assert.False(regressed);
        Assert.Equal(["The two versions to compare have not both run in this window; nothing to compare."], lines);
    }

    private static string Report(double candidateRate, double candidateCost) => $$$"""
        {"template":"triage","since":"2026-12-01T00:00:00+00:00","until":"2026-12-07T09:00:00+00:00","versions":[
         {"version":3,"rollout":"stable","tasks":200,"finished":200,"completed":190,"successRate":0.95,"latencyP50Ms":900,"latencyP95Ms":2100,"tokensPerTask":410,"costPerTask":0.01,"approvalRate":0.1,"byStatus":{"Completed":190,"Failed":10}},
         {"version":4,"rollout":"candidate","tasks":20,"finished":20,"completed":{{{(int)(candidateRate * 20)}}},"successRate":{{{candidateRate.ToString(System.Globalization.CultureInfo.InvariantCulture)}}},"latencyP50Ms":850,"latencyP95Ms":1900,"tokensPerTask":380,"costPerTask":{{{candidateCost.ToString(System.Globalization.CultureInfo.InvariantCulture)}}},"approvalRate":0.05,"byStatus":{"Completed":16,"Failed":4}}]}
        """;
}
