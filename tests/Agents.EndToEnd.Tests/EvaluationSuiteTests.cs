using Agents.Cli;
using Agents.Cli.Evaluation;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The sample evaluation suite (samples/eval/sample-tools.json) run by the CLI's own code against the whole platform,
/// with the deterministic model; its figures are checked against the ones worked out by hand from the cases.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class EvaluationSuiteTests(PlatformFixture platform)
{
    /// <summary>Per case: final status, steps started, distinct tool calls (all of them expected in the suite).</summary>
    private static readonly Dictionary<string, (string Status, int Steps, int Calls)> Expected = new(StringComparer.Ordinal)
    {
        ["lookup-customer"] = ("Completed", 1, 1),
        ["summarize-customer-and-article"] = ("Completed", 3, 2),
        ["triage-opens-ticket"] = ("Completed", 4, 3),
        ["fetch-billing-article"] = ("Completed", 1, 1),
        ["model-step-only"] = ("Completed", 1, 0),
        ["unknown-customer"] = ("Failed", 1, 1),
        ["missing-article"] = ("Failed", 1, 1),
        ["url-not-allowlisted"] = ("Failed", 1, 1),
        ["article-gone-before-ticket"] = ("Failed", 2, 2),
        ["transient-article-recovers"] = ("Completed", 3, 2),
        ["slow-article-recovers"] = ("Completed", 1, 1),
        ["transient-then-ticket"] = ("Completed", 4, 3),
        ["step-budget-stops"] = ("BudgetExceeded", 2, 2),
        ["tool-call-budget-stops"] = ("BudgetExceeded", 1, 1),
        ["unknown-template-rejected"] = ("Rejected", 0, 0),
        ["injected-article-summarized-as-data"] = ("Completed", 3, 2),
        ["injected-article-awaits-approval"] = ("AwaitingApproval", 4, 3),
        ["injected-article-approved"] = ("Completed", 4, 3),
        ["injected-article-rejected"] = ("Failed", 4, 3),
    };

    [Fact]
    public async Task The_sample_suite_passes_every_case_with_the_figures_worked_out_by_hand()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "eval-results");
        var results = Path.Combine(folder, "sample-tools.json");

        var (exit, output) = await EvalAsync(Path.Combine(McpServers.RepositoryRoot(), "samples", "eval", "sample-tools.json"), results);
        await File.WriteAllTextAsync(Path.Combine(folder, "sample-tools.txt"), output);

        Assert.True(exit == 0, output);
        var run = EvalRun.Load(results);
        Assert.Equal(Expected.Keys, run.Cases.Select(c => c.Id));
        foreach (var @case in run.Cases)
        {
            var only = Assert.Single(@case.Runs);
            Assert.True(only.Passed, $"{@case.Id}: {string.Join("; ", only.Failures)}");
            Assert.Equal((@case.Id, Expected[@case.Id].Status, Expected[@case.Id].Steps, Expected[@case.Id].Calls), (@case.Id, only.Status, only.Steps, only.Calls));
            Assert.Equal((only.Calls, only.Calls), (only.ExpectedCalls, only.ExpectedCallsMade));
        }

        var summary = run.Summary;
        Assert.Equal((19, 19, 1.0), (summary.Runs, summary.Passed, summary.SuccessRate));
        Assert.Equal((1.0, 1.0), (summary.Precision, summary.Recall));
        Assert.Equal(Expected.Values.Sum(e => e.Steps), summary.Steps);
        Assert.Equal((4, 4, 1.0), (summary.FaultRuns, summary.Recovered, summary.RecoveryRate));

        // Tokens only where a model step ran; the deterministic model counts the same prompt the same way.
        string[] withoutModel = ["lookup-customer", "fetch-billing-article", "unknown-customer", "missing-article", "url-not-allowlisted",
            "article-gone-before-ticket", "slow-article-recovers", "step-budget-stops", "tool-call-budget-stops", "unknown-template-rejected"];
        var tokens = run.Cases.ToDictionary(c => c.Id, c => c.Runs[0].Tokens);
        Assert.All(withoutModel, id => Assert.Equal(0, tokens[id]));
        Assert.All(Expected.Keys.Except(withoutModel), id => Assert.True(tokens[id] > 0, $"{id}: no tokens"));
        Assert.Equal(tokens["injected-article-awaits-approval"], tokens["injected-article-approved"]);
        Assert.Equal(tokens.Values.Sum(), summary.Tokens);

        // The timeout case waited out one fetch longer than WebFetch:Timeout (5 s); of 19 runs, p95 by nearest rank is the slowest.
        Assert.True(run.Cases.Single(c => c.Id == "slow-article-recovers").Runs[0].LatencyMs >= 5000);
        Assert.Equal(run.Cases.Max(c => c.Runs[0].LatencyMs), summary.LatencyP95Ms);
    }

    [Fact]
    public async Task Expectations_the_platform_does_not_meet_fail_with_the_figures_worked_out_by_hand()
    {
        var suite = Path.Combine(Path.GetTempPath(), $"agents-eval-wrong-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(suite, """
            { "name": "wrong-expectations", "variables": { "kb": "http://127.0.0.1:5203/kb/" },
              "cases": [
                { "id": "summary-expected-to-open-a-ticket",
                  "task": { "template": "lookup-and-summarize", "parameters": { "customerId": "C-1002", "article": "${kb}password-reset" } },
                  "expect": { "status": "Completed",
                              "calls": [ { "tool": "crm.lookup-customer", "arguments": { "customerId": "C-1002" } }, { "tool": "tickets.create" } ] } },
                { "id": "gone-article-expected-to-complete",
                  "task": { "steps": [ { "id": "kb", "kind": "tool", "tool": "web.fetch", "arguments": { "url": "${kb}password-reset${faults}" }, "dependsOn": [] } ] },
                  "faults": [ { "tool": "web.fetch", "kind": "permanent" } ],
                  "expect": { "status": "Completed", "calls": [ { "tool": "web.fetch", "arguments": { "url": { "contains": "billing-refunds" } } } ],
                              "assertions": [ { "path": "$.result.kb.title", "equals": "How to reset your password" } ] } } ] }
            """);
        var results = Path.Combine(Path.GetTempPath(), $"agents-eval-wrong-{Guid.NewGuid():N}-results.json");
        try
        {
            var (exit, output) = await EvalAsync(suite, results);

            Assert.True(exit == 1, output);
            var run = EvalRun.Load(results);
            Assert.Equal((2, 0, 0.0), (run.Summary.Runs, run.Summary.Passed, run.Summary.SuccessRate));

            // Calls made: lookup + fetch, then a fetch of another article; expected: lookup + ticket, then a fetch of billing-refunds.
            Assert.Equal((0.3333, 0.3333), (run.Summary.Precision, run.Summary.Recall));
            Assert.Equal((1, 0, 0.0), (run.Summary.FaultRuns, run.Summary.Recovered, run.Summary.RecoveryRate));
            Assert.Equal(["call not made: tickets.create"], run.Cases[0].Runs[0].Failures);
            var wrong = run.Cases[1].Runs[0].Failures;
            Assert.StartsWith("status: expected Completed but was Failed", wrong[0], StringComparison.Ordinal);
            Assert.Equal("call not made: web.fetch {url: {\"contains\":\"billing-refunds\"}}", wrong[1]);
            Assert.Equal("$.result.kb.title: expected equals \"How to reset your password\" but was absent", wrong[2]);
            Assert.Equal(3, wrong.Count);
        }
        finally
        {
            File.Delete(suite);
            File.Delete(results);
        }
    }

    /// <summary><c>agents eval run</c> in this process, as alice, with the knowledge base of this platform.</summary>
    private async Task<(int Exit, string Output)> EvalAsync(string suite, string results)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new CliEnvironment(output, error, _ => null, Path.Combine(Path.GetTempPath(), "agents-e2e-no-profiles.json"));
        var exit = await AgentsCli.RunAsync(
            ["eval", "run", suite, "--url", platform.GatewayAddress.ToString(), "--api-key", PlatformFixture.AliceKey,
             "--var", "kb=" + platform.KnowledgeBaseUrl(string.Empty), "--out", results],
            environment,
            CancellationToken.None);
        return (exit, $"{output}{error}");
    }
}
