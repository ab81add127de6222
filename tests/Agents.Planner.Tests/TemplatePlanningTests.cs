using System.Diagnostics;
using Agents.Contracts;
using Agents.Planner.Planning;
using Agents.Testing;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TemplatePlanningTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Triage_template_expands_into_a_validated_four_step_plan_and_emits_a_plan_span()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PlannerTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (spans) { spans.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);
        var request = TestData.Template(TestData.Principal("tenant-t1"), "triage-customer-issue", new() { ["customerId"] = "C-1001" });

        var (created, rejected) = await fixture.PlanAsync(request);

        Assert.Null(rejected);
        var plan = created!.Plan;
        Assert.Equal(request.TaskId, created.TaskId);
        Assert.Equal(1, plan.Version);
        Assert.Equal("template", plan.Source);
        Assert.Equal(["lookup", "kb", "draft", "ticket"], plan.Steps.Select(s => s.Id));
        Assert.Equal("""{"customerId":"{{params.customerId}}"}""", plan.Steps[0].ArgumentsJson);
        Assert.Equal("web.fetch", plan.Steps[1].Tool);
        Assert.Equal(["lookup", "kb"], plan.Steps[2].DependsOn);
        Assert.Equal(StepKind.Model, plan.Steps[2].Kind);
        // The optional question was not given: its default is put in, so no reference is left dangling.
        Assert.Contains("How do I reset my password?", plan.Steps[2].Prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("{{params.question}}", plan.Steps[3].ArgumentsJson, StringComparison.Ordinal);
        Assert.Contains("{{steps.draft.output}}", plan.Steps[3].ArgumentsJson, StringComparison.Ordinal);
        Assert.Equal(["draft"], plan.Steps[3].DependsOn);

        await Poll.UntilAsync(() => Task.FromResult(spans.Exists(s => (string?)s.GetTagItem("agents.task.id") == request.TaskId.ToString())));
        var span = spans.Find(s => (string?)s.GetTagItem("agents.task.id") == request.TaskId.ToString())!;
        Assert.Equal("plan", span.OperationName);
        Assert.Equal("plan", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(plan.PlanId.ToString(), span.GetTagItem("agents.plan.id"));
    }

    [Fact]
    public async Task Given_optional_parameter_stays_a_reference_for_the_executor()
    {
        var request = TestData.Template(TestData.Principal("tenant-t1"), "triage-customer-issue", new() { ["customerId"] = "C-1", ["question"] = "Where is my \"invoice\"?" });

        var (created, _) = await fixture.PlanAsync(request);

        Assert.Contains("{{params.question}}", created!.Plan.Steps[2].Prompt, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_parameter_that_the_tools_schema_refuses_rejects_the_plan_naming_the_parameter_before_any_call()
    {
        var (created, rejected) = await fixture.PlanAsync(TestData.Template(TestData.Principal("tenant-t1"), "lookup-and-summarize", new() { ["customerId"] = "customer one" }));

        Assert.Null(created);
        Assert.Contains("'crm.lookup-customer' at '/customerId'", rejected!.Reason, StringComparison.Ordinal);
        Assert.Contains("parameter 'customerId' = \"customer one\"", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_template_step_whose_tool_no_role_of_the_caller_allows_is_rejected_before_any_call()
    {
        var principal = TestData.Principal("tenant-t1");
        var template = TestData.Template(principal, "lookup-and-summarize", new() { ["customerId"] = "C-1001" });
        var limits = new TaskLimits(null, null, null, null, null);

        var (refused, rejected) = await fixture.PlanAsync(template with { Admission = new TaskAdmitted(template.TaskId, limits, null, ["web.*"]) });
        Assert.Null(refused);
        Assert.Contains("tool 'crm.lookup-customer' may not be called: none of the caller's roles allows it", rejected!.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("'web.fetch'", rejected.Reason, StringComparison.Ordinal);

        var noRoles = TestData.Template(principal, "lookup-and-summarize", new() { ["customerId"] = "C-1001" });
        var (_, none) = await fixture.PlanAsync(noRoles with { Admission = new TaskAdmitted(noRoles.TaskId, limits, null, []) });
        Assert.Contains("the caller's roles allow no tool", none!.Reason, StringComparison.Ordinal);

        var everything = TestData.Template(principal, "lookup-and-summarize", new() { ["customerId"] = "C-1001" });
        var (created, _) = await fixture.PlanAsync(everything with { Admission = new TaskAdmitted(everything.TaskId, limits, null, ["crm.*", "web.fetch"]) });
        Assert.Equal(3, created!.Plan.Steps.Count);
    }

    [Fact]
    public async Task Unknown_template_is_rejected_naming_it()
    {
        var (created, rejected) = await fixture.PlanAsync(TestData.Template(TestData.Principal("tenant-t1"), "no-such-template", null));

        Assert.Null(created);
        Assert.Equal("unknown template 'no-such-template'", rejected!.Reason);
    }

    [Fact]
    public async Task Missing_required_parameter_is_rejected_naming_it()
    {
        var (created, rejected) = await fixture.PlanAsync(TestData.Template(TestData.Principal("tenant-t1"), "triage-customer-issue", new() { ["question"] = "Hi" }));

        Assert.Null(created);
        Assert.StartsWith("missing required parameter 'customerId' for template 'triage-customer-issue'", rejected!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_parameter_is_rejected_naming_it()
    {
        var (_, rejected) = await fixture.PlanAsync(TestData.Template(TestData.Principal("tenant-t1"), "lookup-and-summarize", new() { ["customerId"] = "C-1", ["colour"] = "red" }));

        Assert.StartsWith("unknown parameter 'colour' for template 'lookup-and-summarize'", rejected!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Benchmark_template_has_two_tool_calls_and_one_model_step()
    {
        var (created, _) = await fixture.PlanAsync(TestData.Template(TestData.Principal("tenant-t1"), "lookup-and-summarize", new() { ["customerId"] = "C-7" }));

        Assert.Equal(2, created!.Plan.Steps.Count(s => s.Kind == StepKind.Tool));
        Assert.Equal(1, created.Plan.Steps.Count(s => s.Kind == StepKind.Model));
    }
}
