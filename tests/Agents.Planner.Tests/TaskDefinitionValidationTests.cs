using Agents.Contracts;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner.Tests;

/// <summary><see cref="ValidateTaskDefinition"/> over RabbitMQ against the real planner host: the CreatePlan checks, nothing stored.</summary>
[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TaskDefinitionValidationTests(PlannerFixture fixture)
{
    private static readonly AgentPrincipal Principal = TestData.Principal("tenant-validate");

    [Fact]
    public async Task Known_template_with_its_required_parameter_is_valid()
    {
        var answer = await ValidateAsync(new ValidateTaskDefinition(Principal, "triage-customer-issue", new Dictionary<string, string> { ["customerId"] = "C-1" }, null, null));

        Assert.True(answer.Valid, answer.Reason);
        Assert.Null(answer.Reason);
        Assert.Empty(answer.Errors);
    }

    [Fact]
    public async Task Unknown_template_is_invalid_naming_it_and_nothing_is_stored()
    {
        var before = await PlanVersionCountAsync();

        var answer = await ValidateAsync(new ValidateTaskDefinition(Principal, "no-such-template", null, null, null));

        Assert.False(answer.Valid);
        Assert.Equal("unknown template 'no-such-template'", answer.Reason);
        Assert.Equal(before, await PlanVersionCountAsync());
    }

    [Fact]
    public async Task Template_without_a_required_parameter_or_with_an_unknown_one_is_invalid()
    {
        var missing = await ValidateAsync(new ValidateTaskDefinition(Principal, "triage-customer-issue", null, null, null));
        var unknown = await ValidateAsync(new ValidateTaskDefinition(
            Principal, "triage-customer-issue", new Dictionary<string, string> { ["customerId"] = "C-1", ["colour"] = "blue" }, null, null));

        Assert.False(missing.Valid);
        Assert.Contains(missing.Errors, e => e.Contains("customerId", StringComparison.Ordinal));
        Assert.False(unknown.Valid);
        Assert.Contains(unknown.Errors, e => e.Contains("colour", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Steps_referencing_an_unknown_tool_are_invalid_with_the_same_errors_as_CreatePlan()
    {
        PlanStep[] steps =
        [
            TestData.Tool("lookup", "crm.lookup-customer", """{"customerId":"C-1"}"""),
            TestData.Tool("launch", "rockets.launch", "{}", "lookup"),
        ];

        var answer = await ValidateAsync(new ValidateTaskDefinition(Principal, null, null, steps, null));
        var (_, rejected) = await fixture.PlanAsync(TestData.Steps(Principal, steps));

        Assert.False(answer.Valid);
        Assert.Contains(answer.Errors, e => e.Contains("rockets.launch", StringComparison.Ordinal));
        Assert.Equal(rejected!.Reason, answer.Reason);
        Assert.Equal(rejected.Errors, answer.Errors);
    }

    [Fact]
    public async Task Valid_steps_are_valid_but_a_tool_outside_the_allowed_tools_is_not()
    {
        PlanStep[] steps = [TestData.Tool("lookup", "crm.lookup-customer", """{"customerId":"C-1"}""")];

        var valid = await ValidateAsync(new ValidateTaskDefinition(Principal, null, null, steps, null));
        var notAllowed = await ValidateAsync(new ValidateTaskDefinition(Principal, null, null, steps, ["web.fetch"]));

        Assert.True(valid.Valid, valid.Reason);
        Assert.False(notAllowed.Valid);
        Assert.Contains(notAllowed.Errors, e => e.Contains("crm.lookup-customer", StringComparison.Ordinal));
    }

    private async Task<TaskDefinitionValidation> ValidateAsync(ValidateTaskDefinition request)
    {
        var client = fixture.Bus.CreateRequestClient<ValidateTaskDefinition>(RequestTimeout.After(s: 30));
        return (await client.GetResponse<TaskDefinitionValidation>(request)).Message;
    }

    private async Task<int> PlanVersionCountAsync()
    {
        await using var db = fixture.CreateDbContext();
        return await db.PlanVersions.CountAsync();
    }
}
