using Agents.Contracts;
using Agents.Planner.Planning;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

/// <summary>Validation rules on their own (no infrastructure needed).</summary>
[Trait("Category", "Unit")]
public sealed class PlanValidatorTests
{
    private static readonly PlanValidationContext Context = new(
        SampleTools.All.ToDictionary(t => t.Name, t => new ToolSummary(t.Name, t.Description, t.InputSchema, t.SideEffect)),
        null,
        new HashSet<string> { "customerId" },
        3);

    [Fact]
    public void Empty_plan_is_invalid() =>
        Assert.Equal(["The plan has no steps; it needs at least one."], PlanValidator.Validate([], Context));

    [Fact]
    public void Too_many_steps_are_reported_with_the_limit() =>
        Assert.Contains("The plan has 4 steps; at most 3 are allowed.", PlanValidator.Validate([Model("a", "x"), Model("b", "x"), Model("c", "x"), Model("d", "x")], Context));

    [Fact]
    public void Dependency_on_a_later_step_is_reported() =>
        Assert.Equal(
            ["step 'a': depends on 'b', which comes later; list each step after the steps it depends on."],
            PlanValidator.Validate([Model("a", "x", "b"), Model("b", "y")], Context));

    [Fact]
    public void Self_dependency_and_unknown_dependency_are_reported()
    {
        var errors = PlanValidator.Validate([Model("a", "x", "a", "zzz")], Context);

        Assert.Contains("step 'a': depends on itself (cycle a → a).", errors);
        Assert.Contains("step 'a': depends on unknown step 'zzz'.", errors);
    }

    [Fact]
    public void Three_step_cycle_is_reported_once()
    {
        var errors = PlanValidator.Validate([Model("a", "x", "c"), Model("b", "y", "a"), Model("c", "z", "b")], Context);

        Assert.Equal(["dependency cycle: a → c → b → a; a plan must be acyclic."], errors);
    }

    [Fact]
    public void Unknown_reference_form_is_reported() =>
        Assert.Equal(
            ["step 'a': invalid reference {{secrets.apiKey}}; use {{steps.<id>.output}}, {{steps.<id>.output.<json.path>}} or {{params.<name>}}."],
            PlanValidator.Validate([Model("a", "Use {{secrets.apiKey}}")], Context));

    [Fact]
    public void Tool_arguments_must_be_a_json_object_and_model_steps_need_a_prompt()
    {
        var errors = PlanValidator.Validate([Tool("a", "web.fetch", "[1]"), new PlanStep("b", StepKind.Model, null, null, " ", [])], Context);

        Assert.Contains("step 'a': arguments must be a JSON object (was array).", errors);
        Assert.Contains("step 'b': a model step needs a prompt.", errors);
    }

    [Fact]
    public void Missing_required_argument_is_reported_at_the_top_level()
    {
        var errors = PlanValidator.Validate([Tool("a", "crm.lookup-customer", "{}")], Context);

        var error = Assert.Single(errors);
        Assert.StartsWith("step 'a': arguments for 'crm.lookup-customer' (top level):", error, StringComparison.Ordinal);
        Assert.Contains("customerId", error, StringComparison.Ordinal);
    }
}
