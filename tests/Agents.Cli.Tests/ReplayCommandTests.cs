using System.Net;

namespace Agents.Cli.Tests;

[Trait("Category", "Unit")]
public sealed class ReplayCommandTests
{
    private const string Original = "0194a1b2-0000-7000-8000-000000000001";
    private const string Replay = "0194a1b2-0000-7000-8000-000000000002";

    [Fact]
    public async Task Replay_starts_the_replay_waits_for_its_report_and_exits_0_when_it_matched()
    {
        var gateway = new CannedGateway()
            .Answer("POST", $"/api/tasks/{Original}/replay", HttpStatusCode.Accepted, $$"""{"id":"{{Replay}}","status":"Submitted"}""")
            .Answer("GET", $"/api/tasks/{Replay}/replay", HttpStatusCode.OK, Report(finished: true, divergence: "null", resultMatches: true));

        var run = await CliRun.RunAsync(gateway, null, null, "replay", Original);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Live calls:", run.Out, StringComparison.Ordinal);
        Assert.Contains("the same as the original's", run.Out, StringComparison.Ordinal);
        Assert.Contains("Divergence:", run.Out, StringComparison.Ordinal);
        Assert.Equal(["POST", "GET"], gateway.Requests.Select(r => r.Method.Method).ToArray());
    }

    [Fact]
    public async Task Replay_sends_the_what_if_template_version_and_model_it_was_given()
    {
        var gateway = new CannedGateway()
            .Answer("POST", $"/api/tasks/{Original}/replay", HttpStatusCode.Accepted, $$"""{"id":"{{Replay}}","status":"Submitted"}""")
            .Answer("GET", $"/api/tasks/{Replay}/replay", HttpStatusCode.OK, Report(finished: true, divergence: "null", resultMatches: true));

        var run = await CliRun.RunAsync(gateway, null, null, "replay", Original, "--what-if", "--template-version", "2", "--model", "concise");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("""{"whatIf":true,"templateVersion":2,"model":"concise"}""", gateway.Requests[0].Body);
    }

    [Fact]
    public async Task Replay_report_names_the_first_divergence_and_exits_1()
    {
        var gateway = new CannedGateway().Answer("GET", $"/api/tasks/{Replay}/replay", HttpStatusCode.OK, Report(
            finished: true,
            divergence: """{"sequence":7,"stepId":"lookup","what":"arguments","original":"crm.lookup-customer {\"customerId\":\"C-1\"}","replay":"crm.lookup-customer {\"customerId\":\"C-2\"}"}""",
            resultMatches: false));

        var run = await CliRun.RunAsync(gateway, null, null, "replay-report", Replay);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("arguments at step lookup", run.Out, StringComparison.Ordinal);
        Assert.Contains("C-2", run.Out, StringComparison.Ordinal);
    }

    private static string Report(bool finished, string divergence, bool resultMatches) => $$"""
        {"taskId":"{{Replay}}","replayOf":"{{Original}}","status":"Completed","originalStatus":"Completed","finished":{{(finished ? "true" : "false")}},
         "liveCalls":0,"served":3,"resultMatches":{{(resultMatches ? "true" : "false")}},"firstDivergence":{{divergence}},
         "steps":[{"stepId":"lookup","kind":"Tool","tool":"crm.lookup-customer","originalInput":"{}","replayInput":"{}","originalOutput":"{}","replayOutput":"{}","matches":true}]}
        """;
}
