using System.Text.Json;
using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Models.Tests;

/// <summary>
/// How a service teaches the deterministic provider its own kind of answer. The example is what the planner
/// does: a goal and a tool catalog in the prompt, a plan out, valid against the plan schema.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ResponderTests
{
    private const string PlanningPrompt = """
        Goal: Triage the printer issue of customer 42 and draft a reply
        Tools:
        - crm.lookup_customer: Look up a customer by id
        - kb.search: Search the knowledge base
        - tickets.create: Open a support ticket
        """;

    private static readonly JsonElement PlanSchema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "goal": { "type": "string" },
            "steps": {
              "type": "array", "minItems": 1,
              "items": {
                "type": "object",
                "properties": {
                  "id": { "type": "string" },
                  "tool": { "type": "string" },
                  "dependsOn": { "type": "array", "items": { "type": "string" } }
                },
                "required": ["id", "tool", "dependsOn"],
                "additionalProperties": false
              }
            }
          },
          "required": ["goal", "steps"],
          "additionalProperties": false
        }
        """).RootElement;

    private sealed record PlanStep(string Id, string Tool, IReadOnlyList<string> DependsOn);

    private sealed record Plan(string Goal, IReadOnlyList<PlanStep> Steps);

    /// <summary>One step per catalog tool, in catalog order, each after the previous one. Not clever; repeatable.</summary>
    private static Plan PlanFromPrompt(DeterministicRequest request)
    {
        var lines = request.LastUserText.Split('\n', StringSplitOptions.TrimEntries);
        var goal = lines.First(l => l.StartsWith("Goal:", StringComparison.Ordinal))["Goal:".Length..].Trim();
        var tools = lines.SkipWhile(l => l != "Tools:").Skip(1)
            .Where(l => l.StartsWith("- ", StringComparison.Ordinal))
            .Select(l => l[2..].Split(':', 2)[0].Trim())
            .ToList();
        var steps = tools.Select((tool, i) => new PlanStep($"s{i + 1}", tool, i == 0 ? [] : [$"s{i}"])).ToList();
        return new Plan(goal, steps);
    }

    [Fact]
    public async Task A_registered_responder_turns_a_goal_and_tool_catalog_into_a_valid_plan()
    {
        using var host = TestHost.Build(configure: services =>
            services.AddDeterministicResponder(DeterministicResponder.CreateJson("plan", PlanFromPrompt)));
        var planner = host.Client(ModelRoles.Planner);
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(PlanSchema, "plan_v1") }.WithDeterministicResponder("plan");

        var response = await planner.GetResponseAsync(PlanningPrompt, options);
        var again = await planner.GetResponseAsync(PlanningPrompt, options);

        SchemaAssert.Valid(PlanSchema, response.Text);
        var plan = JsonSerializer.Deserialize<Plan>(response.Text, JsonSerializerOptions.Web)!;
        Assert.Equal("Triage the printer issue of customer 42 and draft a reply", plan.Goal);
        Assert.Equal(["crm.lookup_customer", "kb.search", "tickets.create"], plan.Steps.Select(s => s.Tool));
        Assert.Equal(["s2"], plan.Steps[2].DependsOn);
        Assert.Equal(response.Text, again.Text);
        Assert.True(response.GetModelUsage()?.OutputTokens > 0);
    }

    [Fact]
    public async Task A_responder_is_also_found_by_the_schema_name()
    {
        var client = new DeterministicChatClient([DeterministicResponder.CreateJson("plan", PlanFromPrompt)]);

        var response = await client.GetResponseAsync(PlanningPrompt, new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(PlanSchema, "plan") });

        Assert.Equal(3, JsonSerializer.Deserialize<Plan>(response.Text, JsonSerializerOptions.Web)!.Steps.Count);
    }

    [Fact]
    public async Task Without_a_responder_the_generic_schema_filler_still_answers_validly()
    {
        var client = new DeterministicChatClient();

        var response = await client.GetResponseAsync(PlanningPrompt, new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(PlanSchema, "plan") });

        SchemaAssert.Valid(PlanSchema, response.Text);
    }

    [Fact]
    public async Task An_unknown_responder_key_fails_loudly_and_lists_the_registered_ones()
    {
        var client = new DeterministicChatClient([DeterministicResponder.Create("plan", _ => "{}")]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            client.GetResponseAsync("x", new ChatOptions().WithDeterministicResponder("revise-plan")));

        Assert.Contains("'revise-plan'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Registered: plan.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_responder_that_throws_simulates_a_model_failure()
    {
        var calls = 0;
        var client = new DeterministicChatClient([DeterministicResponder.Create("flaky", _ =>
            ++calls == 1 ? throw new DeterministicModelException("simulated outage") : "recovered")]);
        var options = new ChatOptions().WithDeterministicResponder("flaky");

        await Assert.ThrowsAsync<DeterministicModelException>(() => client.GetResponseAsync("x", options));
        Assert.Equal("recovered", (await client.GetResponseAsync("x", options)).Text);
    }

    [Fact]
    public void Two_responders_with_the_same_key_are_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new DeterministicChatClient(
            [DeterministicResponder.Create("plan", _ => "a"), DeterministicResponder.Create("plan", _ => "b")]));

        Assert.Contains("'plan'", error.Message, StringComparison.Ordinal);
    }
}
