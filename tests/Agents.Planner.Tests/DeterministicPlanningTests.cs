using Agents.Contracts;
using Agents.Models.Deterministic;
using Agents.Planner.Planning;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Agents.Planner.Tests;

/// <summary>The models library's deterministic provider, with the planner's responder, plans offline.</summary>
[Trait("Category", "Unit")]
public sealed class DeterministicPlanningTests
{
    private static readonly Dictionary<string, ToolSummary> Catalog =
        SampleTools.All.ToDictionary(t => t.Name, t => new ToolSummary(t.Name, t.Description, t.InputSchema, t.SideEffect));

    [Fact]
    public async Task Deterministic_provider_answers_a_goal_with_a_valid_keyword_plan()
    {
        using var client = new DeterministicChatClient([new PlanningResponder()]);
        var planner = new ModelPlanner(client, Options.Create(new PlannerOptions()), NullLogger<ModelPlanner>.Instance);
        var request = new PlanningRequest("Summarize customer C-1001 from the CRM lookup", [.. Catalog.Values], new Dictionary<string, string>(), 20);
        var context = new PlanValidationContext(Catalog, null, new HashSet<string>(), 20);

        var result = await planner.PlanAsync(request, [], [], context, CancellationToken.None);

        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        Assert.Equal(1, result.Attempts);
        Assert.Equal(["crm-lookup-customer", "summarize"], result.Steps!.Select(s => s.Id));
        Assert.Equal("""{"customerId":"C-1001"}""", result.Steps![0].ArgumentsJson);
        Assert.Equal(["crm-lookup-customer"], result.Steps[1].DependsOn);
    }

    [Fact]
    public async Task Goal_that_matches_no_tool_becomes_one_model_step()
    {
        using var client = new DeterministicChatClient([new PlanningResponder()]);
        var planner = new ModelPlanner(client, Options.Create(new PlannerOptions()), NullLogger<ModelPlanner>.Instance);
        var request = new PlanningRequest("What is the capital of France?", [.. Catalog.Values], new Dictionary<string, string>(), 20);

        var result = await planner.PlanAsync(request, [], [], new PlanValidationContext(Catalog, null, new HashSet<string>(), 20), CancellationToken.None);

        var step = Assert.Single(result.Steps!);
        Assert.Equal(StepKind.Model, step.Kind);
        Assert.Equal("What is the capital of France?", step.Prompt);
    }

    [Fact]
    public void Offline_revision_retries_the_steps_that_did_not_complete()
    {
        PlanStep[] previous =
        [
            new("a", StepKind.Tool, "web.fetch", """{"url":"http://x"}""", null, []),
            new("b", StepKind.Model, null, null, "Use {{steps.a.output}}", ["a"]),
        ];

        var draft = KeywordPlanner.Plan(new PlanningRequest("g", [], new Dictionary<string, string>(), 20, new PlanRevisionRequest(1, previous, [], "a", "timeout")));

        Assert.Equal(["a", "b"], draft.Steps!.Select(s => s.Id));
        Assert.Contains("timeout", draft.Rationale, StringComparison.Ordinal);
    }
}
