using Agents.Contracts;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class ExplicitStepsTests(PlannerFixture fixture)
{
    private static readonly AgentPrincipal Caller = Principal("tenant-steps");

    [Fact]
    public async Task Valid_steps_become_plan_version_1()
    {
        var (created, rejected) = await fixture.PlanAsync(Steps(
            Caller,
            Tool("lookup", "crm.lookup-customer", """{"customerId":"{{params.customerId}}"}"""),
            Model("reply", "Greet {{steps.lookup.output.name}}", "lookup")));

        Assert.Null(rejected);
        Assert.Equal("steps", created!.Plan.Source);
        Assert.Equal(2, created.Plan.Steps.Count);
    }

    [Fact]
    public async Task Unknown_tool_is_rejected_with_the_step_and_the_known_tools()
    {
        var rejected = await RejectedAsync(Tool("a", "crm.search", "{}"));

        Assert.Contains("step 'a': unknown tool 'crm.search'; known tools: crm.lookup-customer, tickets.create, web.fetch.", rejected.Errors!);
        Assert.StartsWith("The given steps are not a valid plan: step 'a': unknown tool 'crm.search'", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cycle_is_rejected_with_its_path()
    {
        var rejected = await RejectedAsync(
            Model("a", "one", "b"),
            Model("b", "two", "a"));

        Assert.Contains("dependency cycle: a → b → a; a plan must be acyclic.", rejected.Errors!);
    }

    [Fact]
    public async Task Reference_to_a_step_not_in_dependsOn_is_rejected()
    {
        var rejected = await RejectedAsync(
            Tool("lookup", "crm.lookup-customer", """{"customerId":"C-1"}"""),
            Model("reply", "Greet {{steps.lookup.output.name}}"));

        Assert.Equal(["step 'reply': references {{steps.lookup.output.name}} but does not list 'lookup' in dependsOn."], rejected.Errors);
    }

    [Fact]
    public async Task Reference_to_a_missing_parameter_is_rejected()
    {
        var rejected = await RejectedAsync(Tool("lookup", "crm.lookup-customer", """{"customerId":"{{params.customer}}"}"""));

        Assert.Equal(["step 'lookup': references {{params.customer}}, but no parameter 'customer' was given (given: customerId)."], rejected.Errors);
    }

    [Fact]
    public async Task Duplicate_step_id_is_rejected()
    {
        var rejected = await RejectedAsync(
            Model("a", "one"),
            Model("a", "two"));

        Assert.Equal(["step 'a': duplicate step id (steps #1 and #2); step ids must be unique."], rejected.Errors);
    }

    [Fact]
    public async Task Literal_argument_that_breaks_the_tool_schema_is_rejected_but_references_are_not_checked()
    {
        var rejected = await RejectedAsync(
            Tool("lookup", "crm.lookup-customer", """{"customerId":42}"""),
            Tool("ticket", "tickets.create", """{"customerId":"{{params.customerId}}","subject":"s","body":"b","priority":"urgent"}"""));

        Assert.Equal(2, rejected.Errors!.Count);
        Assert.StartsWith("step 'lookup': arguments for 'crm.lookup-customer' at '/customerId':", rejected.Errors[0], StringComparison.Ordinal);
        Assert.StartsWith("step 'ticket': arguments for 'tickets.create' at '/priority':", rejected.Errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tool_outside_the_task_allowed_tools_is_rejected()
    {
        var request = Steps(Caller, Tool("t", "tickets.create", """{"customerId":"C-1","subject":"s","body":"b"}""")) with { AllowedTools = ["crm.lookup-customer"] };

        var (_, rejected) = await fixture.PlanAsync(request);

        Assert.Equal(["step 't': tool 'tickets.create' is not allowed for this task (allowed: crm.lookup-customer)."], rejected!.Errors);
    }

    private async Task<PlanRejected> RejectedAsync(params PlanStep[] steps)
    {
        var (created, rejected) = await fixture.PlanAsync(Steps(Caller, steps));
        Assert.Null(created);
        return rejected!;
    }
}
